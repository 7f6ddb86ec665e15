import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { parse as parsePlist } from "plist";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { installService, listServices, serviceLogs, serviceStatus, uninstallService } from "../../src/service/install.js";
import { createSandbox, type Sandbox } from "./helpers.js";

let box: Sandbox;
beforeEach(() => {
  box = createSandbox();
  // The fake answers `launchctl print` with "not loaded" unless a test says otherwise.
  box.setReplies({ "launchctl print": { exit: 113, stderr: "Could not find service in domain for port\n" } });
});
afterEach(() => box.cleanup());

const LABEL = "dev.agent-lanes.dispatch.claude-myproject";
const TARGET = `gui/501/${LABEL}`;
const plistFile = () => path.join(box.home, "Library", "LaunchAgents", `${LABEL}.plist`);
const logFile = () => path.join(box.home, "Library", "Logs", "agent-lanes", "claude-myproject.log");
const install = (extra: Record<string, unknown> = {}) => installService({ vendor: "claude", cliPath: box.cli, ...extra }, box.context("launchd"));
const loaded = () => box.setReplies({ "launchctl print": { stdout: `${TARGET} = {\n\tstate = running\n\tpid = 99\n}\n` } });

describe("service install (launchd)", () => {
  it("writes the plist under ~/Library/LaunchAgents, creates the log folder and bootstraps it into gui/<uid>", async () => {
    const result = await install({ graceSeconds: "20" });
    expect(result).toMatchObject({ status: "installed", unit: LABEL, file: plistFile(), platform: "launchd", logs: logFile() });
    expect(box.calls()).toEqual([
      ["launchctl", "print", TARGET],
      ["launchctl", "enable", TARGET],
      ["launchctl", "bootstrap", "gui/501", plistFile()],
    ]);
    const job = parsePlist(readFileSync(plistFile(), "utf8")) as Record<string, unknown>;
    expect(job).toMatchObject({ Label: LABEL, ExitTimeOut: 35, StandardOutPath: logFile(), KeepAlive: { SuccessfulExit: false } });
    expect(job.ProgramArguments).toEqual([process.execPath, box.cli, "dispatch", "--vendor", "claude", "--config", box.config, "--grace-seconds", "20", "--log-format", "json"]);
    expect(statSync(path.dirname(logFile())).isDirectory()).toBe(true);
    expect(statSync(plistFile()).mode & 0o777).toBe(0o644);
  });

  it("re-installing the same settings keeps the file and only kickstarts the loaded job", async () => {
    await install();
    const before = readFileSync(plistFile(), "utf8");
    box.clearCalls();
    loaded();
    const again = await install();
    expect(again.status).toBe("unchanged");
    expect(box.calls()).toEqual([
      ["launchctl", "print", TARGET],
      ["launchctl", "kickstart", TARGET],
    ]);
    expect(readFileSync(plistFile(), "utf8")).toBe(before);
  });

  it("re-installing when the job is not loaded bootstraps it again", async () => {
    await install();
    box.clearCalls();
    await install();
    expect(box.calls()).toEqual([
      ["launchctl", "print", TARGET],
      ["launchctl", "enable", TARGET],
      ["launchctl", "bootstrap", "gui/501", plistFile()],
    ]);
  });

  it("refuses a plist with other settings unless --force, which boots the old job out first", async () => {
    await install();
    box.clearCalls();
    await expect(install({ concurrency: "3" })).rejects.toThrow(/already exists with other settings \(line \d+ is "<string>--log-format<\/string>", would be "<string>--concurrency<\/string>"\); pass --force/);
    expect(box.calls()).toEqual([]);
    loaded();
    const result = await install({ concurrency: "3", force: true });
    expect(result.status).toBe("replaced");
    expect(box.calls()).toEqual([
      ["launchctl", "print", TARGET],
      ["launchctl", "bootout", TARGET],
      ["launchctl", "enable", TARGET],
      ["launchctl", "bootstrap", "gui/501", plistFile()],
    ]);
    expect(readFileSync(plistFile(), "utf8")).toContain("<string>--concurrency</string>");
  });

  it("retries bootstrap while a booted-out job is still exiting, then reports the failure", async () => {
    await install();
    box.clearCalls();
    box.setReplies({
      "launchctl print": { stdout: "\tstate = running\n" },
      "launchctl bootstrap": { exit: 5, stderr: "Bootstrap failed: 5: Input/output error\n" },
    });
    await expect(install({ concurrency: "2", force: true })).rejects.toThrow(
      `launchctl bootstrap gui/501 ${plistFile()} failed (exit 5): Bootstrap failed: 5: Input/output error`,
    );
    expect(box.calls().filter((argv) => argv[1] === "bootstrap")).toHaveLength(3);
  });
});

describe("service uninstall, status, list, logs (launchd)", () => {
  it("uninstall boots out a loaded job and removes the plist", async () => {
    await install();
    box.clearCalls();
    loaded();
    const result = await uninstallService({ name: "claude-myproject" }, box.context("launchd"));
    expect(result).toMatchObject({ status: "uninstalled", unit: LABEL, file: plistFile() });
    expect(box.calls()).toEqual([
      ["launchctl", "print", TARGET],
      ["launchctl", "bootout", TARGET],
    ]);
    expect(existsSync(plistFile())).toBe(false);
  });

  it("uninstall of a job that is not loaded only removes the plist", async () => {
    await install();
    box.clearCalls();
    await uninstallService({}, box.context("launchd"));
    expect(box.calls()).toEqual([["launchctl", "print", TARGET]]);
    expect(existsSync(plistFile())).toBe(false);
  });

  it("status parses launchctl print (top-level fields only)", async () => {
    await install();
    box.setReplies({
      "launchctl print": {
        stdout: `${TARGET} = {\n\tactive count = 1\n\tstate = running\n\tprogram = /usr/bin/node\n\tendpoints = {\n\t\tstate = inactive\n\t}\n\truns = 4\n\tpid = 812\n\tlast exit code = 1\n}\n`,
      },
    });
    const info = await serviceStatus({ name: "claude-myproject" }, box.context("launchd"));
    expect(info).toMatchObject({ loaded: true, running: true, state: "running", pid: 812, restarts: 3, lastExitCode: 1, vendor: "claude", config: box.config });
  });

  it("status of an installed but unloaded job says not loaded", async () => {
    await install();
    const info = await serviceStatus({}, box.context("launchd"));
    expect(info).toMatchObject({ loaded: false, running: false, state: "not loaded", pid: null });
  });

  it("list reads states from one launchctl list", async () => {
    await install();
    await install({ vendor: "codex", name: "codex-pool" });
    box.clearCalls();
    box.setReplies({ "launchctl list": { stdout: `PID\tStatus\tLabel\n-\t0\tcom.apple.x\n321\t0\t${LABEL}\n` } });
    const services = await listServices(box.context("launchd"));
    expect(services.map((s) => [s.name, s.state, s.pid, s.vendor])).toEqual([
      ["claude-myproject", "running", 321, "claude"],
      ["codex-pool", "not loaded", null, "codex"],
    ]);
    expect(box.calls()).toEqual([["launchctl", "list"]]);
  });

  it("logs prints the tail of the job's log file", async () => {
    mkdirSync(path.dirname(logFile()), { recursive: true });
    writeFileSync(logFile(), "one\ntwo\nthree\n");
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    await serviceLogs({ name: "claude-myproject", lines: 2 }, box.context("launchd", { stdout }));
    expect(Buffer.concat(chunks).toString()).toBe("two\nthree\n");
  });
});
