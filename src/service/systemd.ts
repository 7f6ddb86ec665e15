// systemd --user backend: one concrete unit file per instance under
// ~/.config/systemd/user, driven with systemctl --user, logs in the journal.

import { rm } from "node:fs/promises";
import path from "node:path";
import { UNKNOWN_STATE, writeServiceFile, type CommandLog, type ServiceBackend, type ServiceContext, type ServiceState } from "./backend.js";
import { systemdUnitDir, systemdUnitName } from "./paths.js";
import { readSystemdCommand } from "./render.js";
import type { RunResult } from "./runner.js";

const STATUS_PROPERTIES = ["Id", "LoadState", "ActiveState", "SubState", "MainPID", "ExecMainStatus", "NRestarts", "UnitFileState"];

/** Failure hint for systemctl: the usual cause is no user manager for this session. */
export function systemctlHint(result: RunResult): string {
  return /bus|XDG_RUNTIME_DIR/i.test(result.stderr)
    ? "; the user's systemd is not reachable: log in graphically or over ssh with a session, or run `loginctl enable-linger $USER`"
    : "";
}

/** Parse `systemctl show` output: blank-line separated blocks of Key=Value. */
export function parseSystemctlShow(stdout: string): Array<Record<string, string>> {
  return stdout
    .split(/\n\s*\n/)
    .map((block) => {
      const props: Record<string, string> = {};
      for (const line of block.split("\n")) {
        const at = line.indexOf("=");
        if (at > 0) props[line.slice(0, at)] = line.slice(at + 1);
      }
      return props;
    })
    .filter((props) => Object.keys(props).length > 0);
}

function toInt(value: string | undefined): number | null {
  return value !== undefined && /^-?\d+$/.test(value) ? Number(value) : null;
}

/** A ServiceState from one `systemctl show` block. */
export function stateFromShow(props: Record<string, string>): ServiceState {
  const active = props.ActiveState ?? "unknown";
  const pid = toInt(props.MainPID);
  return {
    loaded: props.LoadState === "loaded",
    running: active === "active" && pid !== null && pid > 0,
    state: props.SubState === undefined ? active : `${active} (${props.SubState})`,
    pid: pid !== null && pid > 0 ? pid : null,
    lastExitCode: toInt(props.ExecMainStatus),
    restarts: toInt(props.NRestarts),
    enabled: props.UnitFileState === undefined || props.UnitFileState === "" ? null : props.UnitFileState,
  };
}

/** The systemd backend for a context. */
export function createSystemdBackend(context: ServiceContext): ServiceBackend {
  const dir = systemdUnitDir(context.env);
  const systemctl = (log: CommandLog, args: string[], allowFailure = false) => log.run("systemctl", ["--user", ...args], { allowFailure });
  return {
    platform: "systemd",
    dir,
    fileFor: (name) => path.join(dir, systemdUnitName(name)),
    unitFor: systemdUnitName,
    logsAt: (name) => `journalctl --user -u ${systemdUnitName(name)}`,
    readCommand: readSystemdCommand,

    async install(spec, content, change, log) {
      const unit = systemdUnitName(spec.name);
      if (change !== "unchanged") {
        await writeServiceFile(path.join(dir, unit), content);
        await systemctl(log, ["daemon-reload"]);
      }
      // A unit that hit its start limit refuses to start until reset; harmless otherwise.
      if (change !== "fresh") await systemctl(log, ["reset-failed", unit], true);
      if (change === "replaced") {
        await systemctl(log, ["enable", unit]);
        await systemctl(log, ["restart", unit]);
      } else {
        await systemctl(log, ["enable", "--now", unit]);
      }
    },

    async uninstall(name, log) {
      const unit = systemdUnitName(name);
      // Stopping waits for the dispatcher's drain (up to TimeoutStopSec).
      await systemctl(log, ["disable", "--now", unit]);
      await rm(path.join(dir, unit), { force: true });
      await systemctl(log, ["daemon-reload"]);
      await systemctl(log, ["reset-failed", unit], true);
    },

    async status(name, log) {
      const result = await systemctl(log, ["show", systemdUnitName(name), `--property=${STATUS_PROPERTIES.join(",")}`]);
      const [props] = parseSystemctlShow(result.stdout);
      return props === undefined ? { ...UNKNOWN_STATE } : stateFromShow(props);
    },

    async states(names, log) {
      const states = new Map<string, ServiceState>();
      if (names.length === 0) return states;
      const result = await systemctl(log, ["show", `--property=${STATUS_PROPERTIES.join(",")}`, ...names.map(systemdUnitName)], true);
      if (result.exitCode !== 0) return states;
      const byUnit = new Map(parseSystemctlShow(result.stdout).map((props) => [props.Id, props]));
      for (const name of names) {
        const props = byUnit.get(systemdUnitName(name));
        if (props !== undefined) states.set(name, stateFromShow(props));
      }
      return states;
    },

    logs(name, { follow, lines }) {
      const args = ["--user", "-u", systemdUnitName(name), "--no-pager", "-n", String(lines)];
      if (follow) args.push("-f");
      return context.runner.stream("journalctl", args);
    },
  };
}
