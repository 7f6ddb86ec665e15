// launchd backend: one LaunchAgent plist per instance under
// ~/Library/LaunchAgents, loaded into the gui/<uid> domain with launchctl
// bootstrap/bootout, output appended to ~/Library/Logs/agent-lanes/<name>.log.

import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { UNKNOWN_STATE, writeServiceFile, type CommandLog, type ServiceBackend, type ServiceContext, type ServiceState } from "./backend.js";
import { SERVICE_DEFAULTS } from "./defaults.js";
import { launchAgentsDir, launchdLabel, launchdLogDir } from "./paths.js";
import { readLaunchdCommand } from "./render.js";

function toInt(value: string | undefined): number | null {
  return value !== undefined && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : null;
}

/** Parse the top level of `launchctl print <service>`: one-tab-indented `key = value` lines. */
export function parseLaunchctlPrint(stdout: string): Record<string, string> {
  const props: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const match = /^\t([^\t=][^=]*?) = (.*)$/.exec(line);
    if (match !== null && !(match[1] as string in props)) props[match[1] as string] = (match[2] as string).trim();
  }
  return props;
}

/** A ServiceState from `launchctl print` fields. */
export function stateFromPrint(props: Record<string, string>): ServiceState {
  const pid = toInt(props.pid);
  const runs = toInt(props.runs);
  return {
    loaded: true,
    running: pid !== null,
    state: props.state ?? "loaded",
    pid,
    lastExitCode: toInt(props["last exit code"]),
    restarts: runs === null ? null : Math.max(0, runs - 1),
    enabled: null,
  };
}

/** Parse `launchctl list`: `PID<TAB>Status<TAB>Label` rows, "-" for no PID. */
export function parseLaunchctlList(stdout: string): Map<string, ServiceState> {
  const states = new Map<string, ServiceState>();
  for (const line of stdout.split("\n")) {
    const [pidText, statusText, label] = line.split("\t");
    if (label === undefined || pidText === "PID") continue;
    const pid = toInt(pidText);
    states.set(label.trim(), {
      loaded: true,
      running: pid !== null,
      state: pid !== null ? "running" : "not running",
      pid,
      lastExitCode: toInt(statusText),
      restarts: null,
      enabled: null,
    });
  }
  return states;
}

const NOT_LOADED: ServiceState = { ...UNKNOWN_STATE, state: "not loaded" };

/** The launchd backend for a context. */
export function createLaunchdBackend(context: ServiceContext): ServiceBackend {
  const dir = launchAgentsDir(context.env);
  const domain = `gui/${context.uid}`;
  const target = (name: string) => `${domain}/${launchdLabel(name)}`;
  const fileFor = (name: string) => path.join(dir, `${launchdLabel(name)}.plist`);
  const isLoaded = async (name: string, log: CommandLog) => (await log.run("launchctl", ["print", target(name)], { allowFailure: true })).exitCode === 0;

  return {
    platform: "launchd",
    dir,
    fileFor,
    unitFor: launchdLabel,
    logsAt: (name) => path.join(launchdLogDir(context.env), `${name}.log`),
    readCommand: readLaunchdCommand,

    async install(spec, content, change, log) {
      const file = fileFor(spec.name);
      await mkdir(path.dirname(spec.logFile), { recursive: true });
      const loaded = await isLoaded(spec.name, log);
      if (change === "unchanged" && loaded) {
        // Starts it if it exited cleanly; leaves a running dispatcher alone.
        await log.run("launchctl", ["kickstart", target(spec.name)]);
        return;
      }
      // launchd keeps the loaded copy of a job: a changed plist needs bootout first.
      if (loaded) await log.run("launchctl", ["bootout", target(spec.name)]);
      if (change !== "unchanged") await writeServiceFile(file, content);
      // Clears a `launchctl disable` override, which would make bootstrap fail.
      await log.run("launchctl", ["enable", target(spec.name)]);
      // Right after a bootout the old job may still be exiting; bootstrap then fails for a moment.
      const attempts = loaded ? SERVICE_DEFAULTS.rebootstrapAttempts : 1;
      for (let attempt = 1; ; attempt += 1) {
        const result = await log.run("launchctl", ["bootstrap", domain, file], { allowFailure: attempt < attempts });
        if (result.exitCode === 0) return;
        await context.sleep(SERVICE_DEFAULTS.rebootstrapDelayMs);
      }
    },

    async uninstall(name, log) {
      // bootout sends SIGTERM and waits up to ExitTimeOut for the drain.
      if (await isLoaded(name, log)) await log.run("launchctl", ["bootout", target(name)]);
      await rm(fileFor(name), { force: true });
    },

    async status(name, log) {
      const result = await log.run("launchctl", ["print", target(name)], { allowFailure: true });
      return result.exitCode === 0 ? stateFromPrint(parseLaunchctlPrint(result.stdout)) : { ...NOT_LOADED };
    },

    async states(names, log) {
      const states = new Map<string, ServiceState>();
      if (names.length === 0) return states;
      const result = await log.run("launchctl", ["list"], { allowFailure: true });
      if (result.exitCode !== 0) return states;
      const loaded = parseLaunchctlList(result.stdout);
      for (const name of names) states.set(name, loaded.get(launchdLabel(name)) ?? { ...NOT_LOADED });
      return states;
    },

    logs(name, { follow, lines }) {
      const args = ["-n", String(lines)];
      if (follow) args.push("-F");
      args.push(path.join(launchdLogDir(context.env), `${name}.log`));
      return context.runner.stream("tail", args);
    },
  };
}
