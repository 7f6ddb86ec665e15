import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse as parsePlist } from "plist";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { launchdLabel, systemdUnitName } from "../../src/service/paths.js";
import { loadTemplate, readLaunchdCommand, readSystemdCommand, renderLaunchdPlist, renderSystemdUnit } from "../../src/service/render.js";
import { dispatcherArgv, resolveServiceSpec, type ServiceSpec } from "../../src/service/spec.js";
import { createSandbox, PACKAGE_ROOT, type Sandbox } from "./helpers.js";

function available(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: "ignore" }).status === 0;
}
const hasVerify = available("systemd-analyze", ["--version"]);
const hasPython = available("python3", ["-c", "import plistlib"]);

// Folder names with what systemd and XML treat specially. systemd refuses
// quotes and backslashes in the executable path itself, so node lives in the
// milder one; every other argument goes through the nasty one.
const NASTY = `we ird %i $HOME 'q' "dq" \\ & <x>`;
const MILD = "bin dir %i $HOME & <x>";

let box: Sandbox;
let spec: ServiceSpec;

beforeEach(() => {
  box = createSandbox("nasty project");
  const dir = path.join(box.root, NASTY);
  mkdirSync(dir, { recursive: true });
  mkdirSync(path.join(box.root, MILD));
  // Real files at awkward paths, so systemd-analyze can check the executable exists.
  const node = path.join(box.root, MILD, "node");
  symlinkSync(process.execPath, node);
  const config = path.join(dir, "handoff.yaml");
  writeFileSync(config, "workspace_id: x\n");
  spec = resolveServiceSpec(
    {
      vendor: "claude",
      config,
      store: path.join(dir, "state"),
      concurrency: "3",
      graceSeconds: "60",
      name: "claude-pool",
      node,
      cliPath: box.cli,
      path: `${dir}:/usr/bin:/bin`,
    },
    { cwd: box.project, env: box.env, platform: "systemd" },
  );
});
afterEach(() => box.cleanup());

/** systemd-analyze verify output lines that mention our unit (it exits 0 on warnings). */
function verifyComplaints(file: string): string[] {
  const runtime = mkdtempSync(path.join(box.root, "runtime-"));
  const result = spawnSync("systemd-analyze", ["verify", "--user", file], {
    env: { PATH: process.env.PATH, HOME: box.home, XDG_RUNTIME_DIR: runtime },
    encoding: "utf8",
  });
  const unit = path.basename(file);
  return `${result.stdout}\n${result.stderr}`.split("\n").filter((line) => line.includes(unit));
}

describe("systemd unit", () => {
  it("carries the dispatcher command, PATH, restart policy and a stop timeout past the grace period", async () => {
    const unit = renderSystemdUnit(spec, await loadTemplate("systemd", PACKAGE_ROOT));
    expect(unit).not.toContain("{{");
    expect(unit).not.toMatch(/^##/m);
    const lines = unit.split("\n");
    for (const expected of ["Restart=on-failure", "RestartSec=10", "KillMode=mixed", "TimeoutStopSec=75", "StandardOutput=journal", "WantedBy=default.target"]) {
      expect(lines).toContain(expected);
    }
    expect(readSystemdCommand(unit).argv).toEqual([
      spec.node, box.cli, "dispatch", "--vendor", "claude", "--config", spec.config, "--store", spec.store,
      "--concurrency", "3", "--grace-seconds", "60", "--log-format", "json",
    ]);
    expect(dispatcherArgv(spec)).toEqual(readSystemdCommand(unit).argv);
  });

  it("passes systemd-analyze verify with spaces, %, $, quotes and backslashes in every path", async () => {
    const unit = renderSystemdUnit(spec, await loadTemplate("systemd", PACKAGE_ROOT));
    const file = path.join(box.root, systemdUnitName(spec.name));
    writeFileSync(file, unit);
    if (hasVerify) {
      expect(verifyComplaints(file)).toEqual([]);
      // The check has teeth: a unit whose binary is missing is reported.
      const broken = path.join(box.root, systemdUnitName("broken"));
      writeFileSync(broken, renderSystemdUnit({ ...spec, name: "broken", node: path.join(box.root, MILD, "no-node") }, await loadTemplate("systemd", PACKAGE_ROOT)));
      expect(verifyComplaints(broken).join("\n")).toMatch(/not executable/);
    }
    // Without systemd-analyze the parse-back still proves the quoting.
    expect(readSystemdCommand(unit).config).toBe(spec.config);
  });

  it("refuses a node path systemd cannot run, naming --node and the fix", () => {
    const node = path.join(box.root, NASTY, "node");
    symlinkSync(process.execPath, node);
    const options = { vendor: "claude", config: spec.config, node, cliPath: box.cli };
    expect(() => resolveServiceSpec(options, { cwd: box.project, env: box.env, platform: "systemd" })).toThrow(
      /^--node .* has a quote or backslash, which systemd refuses in an executable path; pass --node with a path without them/,
    );
    // launchd takes any path: the plist carries it as XML text.
    expect(resolveServiceSpec(options, { cwd: box.project, env: box.env, platform: "launchd" }).node).toBe(node);
  });

  it("derives TimeoutStopSec from the dispatcher's default grace when none is given", async () => {
    const unit = renderSystemdUnit({ ...spec, graceSeconds: null, stopTimeoutSeconds: 45 }, await loadTemplate("systemd", PACKAGE_ROOT));
    expect(unit).toContain("\nTimeoutStopSec=45\n");
    expect(readSystemdCommand(unit).argv).not.toContain("--grace-seconds");
  });
});

describe("launchd plist", () => {
  const expected = () => ({
    Label: launchdLabel("claude-pool"),
    ProgramArguments: dispatcherArgv(spec),
    EnvironmentVariables: { PATH: spec.path },
    WorkingDirectory: box.home,
    RunAtLoad: true,
    KeepAlive: { SuccessfulExit: false, Crashed: true },
    ThrottleInterval: 10,
    ExitTimeOut: 75,
    StandardOutPath: path.join(box.home, "Library", "Logs", "agent-lanes", "claude-pool.log"),
    StandardErrorPath: path.join(box.home, "Library", "Logs", "agent-lanes", "claude-pool.log"),
  });

  it("parses as a property list with exactly the expected keys and values", async () => {
    const xml = renderLaunchdPlist(spec, await loadTemplate("launchd", PACKAGE_ROOT));
    expect(parsePlist(xml)).toEqual(expected());
    expect(readLaunchdCommand(xml).argv).toEqual(dispatcherArgv(spec));
  });

  it("is accepted by Python's plistlib where python3 exists", async () => {
    const xml = renderLaunchdPlist(spec, await loadTemplate("launchd", PACKAGE_ROOT));
    const file = path.join(box.root, "job.plist");
    writeFileSync(file, xml);
    if (hasPython) {
      const json = execFileSync("python3", ["-c", "import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1],'rb'))))", file], { encoding: "utf8" });
      expect(JSON.parse(json)).toEqual(expected());
    }
    expect(parsePlist(xml)).toMatchObject({ Label: launchdLabel("claude-pool") });
  });
});
