import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { installService, listServices, serviceLogs, serviceStatus, uninstallService } from "../../src/service/install.js";
import { createSandbox, type Sandbox } from "./helpers.js";

let box: Sandbox;
beforeEach(() => {
  box = createSandbox();
});
afterEach(() => box.cleanup());

const UNIT = "agent-lanes-dispatch@claude-myproject.service";
const unitFile = () => path.join(box.home, ".config", "systemd", "user", UNIT);
const install = (extra: Record<string, unknown> = {}) => installService({ vendor: "claude", cliPath: box.cli, ...extra }, box.context("systemd"));

describe("service install (systemd)", () => {
  it("writes the unit under ~/.config/systemd/user, reloads, then enables and starts it", async () => {
    const result = await install({ concurrency: "2" });
    expect(result).toMatchObject({ status: "installed", name: "claude-myproject", unit: UNIT, file: unitFile(), platform: "systemd" });
    expect(box.calls()).toEqual([
      ["systemctl", "--user", "daemon-reload"],
      ["systemctl", "--user", "enable", "--now", UNIT],
    ]);
    expect(result.commands).toEqual(box.calls());
    const written = readFileSync(unitFile(), "utf8");
    expect(written).toBe(result.content);
    expect(written).toContain(`ExecStart=${process.execPath} ${box.cli} dispatch --vendor claude --config ${box.config} --concurrency 2 --log-format json\n`);
    // The installing environment's PATH, each folder once (node's folder is already in it).
    const shellPath = [...new Set(String(box.env.PATH).split(":"))].join(":");
    expect(written).toContain(`Environment="PATH=${shellPath}"\n`);
    expect(statSync(unitFile()).mode & 0o777).toBe(0o644);
  });

  it("honours XDG_CONFIG_HOME for the unit folder", async () => {
    const xdg = path.join(box.root, "xdg");
    const result = await installService({ vendor: "claude", cliPath: box.cli }, box.context("systemd", { env: { ...box.env, XDG_CONFIG_HOME: xdg } }));
    expect(result.file).toBe(path.join(xdg, "systemd", "user", UNIT));
    expect(existsSync(result.file)).toBe(true);
  });

  it("re-installing the same settings leaves the file alone and only makes sure it runs", async () => {
    await install();
    const before = statSync(unitFile()).mtimeMs;
    box.clearCalls();
    const again = await install();
    expect(again.status).toBe("unchanged");
    expect(box.calls()).toEqual([
      ["systemctl", "--user", "reset-failed", UNIT],
      ["systemctl", "--user", "enable", "--now", UNIT],
    ]);
    expect(statSync(unitFile()).mtimeMs).toBe(before);
  });

  it("refuses to overwrite a unit with other settings, naming the file, the difference and the fix", async () => {
    await install();
    box.clearCalls();
    const original = readFileSync(unitFile(), "utf8");
    await expect(install({ concurrency: "4" })).rejects.toThrow(
      new RegExp(`^${unitFile().replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} already exists with other settings \\(line \\d+ is "ExecStart=.*", would be "ExecStart=.*"\\); pass --force to replace it or --name to install another instance$`),
    );
    expect(box.calls()).toEqual([]);
    expect(readFileSync(unitFile(), "utf8")).toBe(original);
  });

  it("--force replaces the unit and restarts the running dispatcher", async () => {
    await install();
    box.clearCalls();
    const result = await install({ concurrency: "4", force: true });
    expect(result.status).toBe("replaced");
    expect(readFileSync(unitFile(), "utf8")).toContain("--concurrency 4");
    expect(box.calls()).toEqual([
      ["systemctl", "--user", "daemon-reload"],
      ["systemctl", "--user", "reset-failed", UNIT],
      ["systemctl", "--user", "enable", UNIT],
      ["systemctl", "--user", "restart", UNIT],
    ]);
  });

  it("--dry-run renders without writing or running anything", async () => {
    const result = await install({ dryRun: true });
    expect(result.status).toBe("dry-run");
    expect(result.content).toContain("KillMode=mixed");
    expect(existsSync(unitFile())).toBe(false);
    expect(box.calls()).toEqual([]);
  });

  it("a failing systemctl becomes one line naming the command and the likely cause", async () => {
    box.setReplies({ "systemctl --user daemon-reload": { exit: 1, stderr: "Failed to connect to bus: No medium found\n" } });
    await expect(install()).rejects.toThrow(
      /^systemctl --user daemon-reload failed \(exit 1\): Failed to connect to bus: No medium found; the user's systemd is not reachable: .*loginctl enable-linger/,
    );
  });
});

describe("service uninstall, status, list, logs (systemd)", () => {
  it("uninstall stops and disables the unit, removes the file and reloads", async () => {
    await install();
    box.clearCalls();
    const result = await uninstallService({ name: "claude-myproject" }, box.context("systemd"));
    expect(result).toMatchObject({ status: "uninstalled", unit: UNIT, file: unitFile() });
    expect(existsSync(unitFile())).toBe(false);
    expect(box.calls()).toEqual([
      ["systemctl", "--user", "disable", "--now", UNIT],
      ["systemctl", "--user", "daemon-reload"],
      ["systemctl", "--user", "reset-failed", UNIT],
    ]);
  });

  it("uninstall finds the instance from --vendor and the cwd's config, or the only one installed", async () => {
    await install();
    await expect(uninstallService({ vendor: "claude" }, box.context("systemd"))).resolves.toMatchObject({ name: "claude-myproject" });
    await install();
    await expect(uninstallService({}, box.context("systemd"))).resolves.toMatchObject({ name: "claude-myproject" });
  });

  it("uninstall of an unknown instance says so and runs nothing", async () => {
    await expect(uninstallService({ name: "ghost" }, box.context("systemd"))).rejects.toThrow(
      `no agent-lanes service named ghost: ${path.join(box.home, ".config", "systemd", "user", "agent-lanes-dispatch@ghost.service")} does not exist; see \`agent-lanes service list\``,
    );
    await expect(uninstallService({}, box.context("systemd"))).rejects.toThrow(/^no agent-lanes service is installed/);
    expect(box.calls()).toEqual([]);
  });

  it("status reads the unit's state from systemctl show", async () => {
    await install();
    box.clearCalls();
    box.setReplies({
      "systemctl --user show": {
        stdout: `Id=${UNIT}\nLoadState=loaded\nActiveState=active\nSubState=running\nMainPID=4242\nExecMainStatus=0\nNRestarts=3\nUnitFileState=enabled\n`,
      },
    });
    const info = await serviceStatus({ name: "claude-myproject" }, box.context("systemd"));
    expect(info).toMatchObject({
      name: "claude-myproject",
      unit: UNIT,
      loaded: true,
      running: true,
      state: "active (running)",
      pid: 4242,
      restarts: 3,
      lastExitCode: 0,
      enabled: "enabled",
      vendor: "claude",
      config: box.config,
      store: null,
    });
    expect(box.calls()).toEqual([
      ["systemctl", "--user", "show", UNIT, "--property=Id,LoadState,ActiveState,SubState,MainPID,ExecMainStatus,NRestarts,UnitFileState"],
    ]);
  });

  it("status of a failed unit reports it as not running with its exit code", async () => {
    await install();
    box.setReplies({ "systemctl --user show": { stdout: "LoadState=loaded\nActiveState=failed\nSubState=failed\nMainPID=0\nExecMainStatus=1\nNRestarts=5\n" } });
    const info = await serviceStatus({}, box.context("systemd"));
    expect(info).toMatchObject({ running: false, state: "failed (failed)", pid: null, lastExitCode: 1, restarts: 5 });
  });

  it("list shows every installed instance with its state from one systemctl call", async () => {
    await install();
    await install({ vendor: "codex", name: "codex-pool", store: "state" });
    writeFileSync(path.join(path.dirname(unitFile()), "unrelated.service"), "[Service]\n");
    box.clearCalls();
    box.setReplies({
      "systemctl --user show": {
        stdout: `Id=${UNIT}\nActiveState=active\nSubState=running\nMainPID=7\n\nId=agent-lanes-dispatch@codex-pool.service\nActiveState=inactive\nSubState=dead\nMainPID=0\n`,
      },
    });
    const services = await listServices(box.context("systemd"));
    expect(services.map((s) => [s.name, s.vendor, s.state, s.pid, s.store])).toEqual([
      ["claude-myproject", "claude", "active (running)", 7, null],
      ["codex-pool", "codex", "inactive (dead)", null, path.join(box.project, "state")],
    ]);
    expect(box.calls()).toHaveLength(1);
  });

  it("logs runs journalctl for the unit, following with -f", async () => {
    await install();
    box.clearCalls();
    const stdout = new PassThrough();
    await serviceLogs({ follow: true, lines: "20" }, box.context("systemd", { stdout }));
    expect(box.calls()).toEqual([["journalctl", "--user", "-u", UNIT, "--no-pager", "-n", "20", "-f"]]);
    await expect(serviceLogs({ lines: "x" }, box.context("systemd"))).rejects.toThrow(/^Expected `--lines` to be an integer >= 0/);
  });
});
