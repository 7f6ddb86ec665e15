import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { registerServiceCommand } from "../../src/cli/commands/service.js";
import { createSandbox, type Sandbox } from "./helpers.js";

let box: Sandbox;
beforeEach(() => {
  box = createSandbox();
});
afterEach(() => box.cleanup());

const UNIT = "agent-lanes-dispatch@claude-myproject.service";

/** Run argv through a program shaped like the real main (global --config/--store/--json) plus `service`. */
async function run(argv: string[]): Promise<{ stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const program = new Command("agent-lanes")
    .exitOverride()
    .configureOutput({ writeOut: (text) => (out += text), writeErr: (text) => (err += text) })
    .option("--config <path>", "engine config", "handoff/handoff.yaml")
    .option("--store <path>", "queue folder")
    .option("--json", "print JSON");
  registerServiceCommand(program, {
    env: box.env,
    cwd: box.project,
    uid: 501,
    packageRoot: box.pkg,
    execPath: process.execPath,
    sleep: async () => undefined,
    stdout,
    stderr,
  });
  await program.parseAsync(argv, { from: "user" });
  return { stdout: out, stderr: err };
}

describe("agent-lanes service (commander)", () => {
  it("install prints what it wrote and ran", async () => {
    const { stdout } = await run(["service", "install", "--vendor", "claude", "--platform", "systemd"]);
    const file = path.join(box.home, ".config", "systemd", "user", UNIT);
    expect(stdout.split("\n")).toEqual([
      `wrote ${file}`,
      "ran systemctl --user daemon-reload",
      `ran systemctl --user enable --now ${UNIT}`,
      `installed ${UNIT} (name claude-myproject); logs: agent-lanes service logs --name claude-myproject -f`,
      "",
    ]);
    expect(existsSync(file)).toBe(true);
  });

  it("takes --config and --json given before the command, as the main program parses them", async () => {
    const other = path.join(box.root, "pool", ".agent-lanes-queue", "handoff.yaml");
    mkdirSync(path.dirname(other), { recursive: true });
    writeFileSync(other, "workspace_id: pool\n");
    const { stdout } = await run(["--config", other, "--json", "service", "install", "--vendor", "codex", "--platform", "launchd", "--dry-run"]);
    const payload = JSON.parse(stdout) as { status: string; name: string; content: string; commands: unknown[] };
    expect(payload).toMatchObject({ status: "dry-run", name: "codex-pool", commands: [] });
    expect(payload.content).toContain(`<string>${other}</string>`);
    expect(box.calls()).toEqual([]);
  });

  it("--dry-run prints exactly the file on stdout and where it would go on stderr", async () => {
    const { stdout, stderr } = await run(["service", "install", "--vendor", "claude", "--platform", "systemd", "--dry-run", "--path", "/usr/bin"]);
    expect(stdout).toMatch(/^# Written by `agent-lanes service install`/);
    expect(stdout).toContain('Environment="PATH=/usr/bin"');
    expect(stderr).toContain(`# dry run: would write ${path.join(box.home, ".config", "systemd", "user", UNIT)}`);
    expect(stderr).toContain("warning: claude is not on the service PATH");
  });

  it("status --json and list --json print Python-style JSON payloads", async () => {
    await run(["service", "install", "--vendor", "claude", "--platform", "systemd"]);
    box.setReplies({ "systemctl --user show": { stdout: `Id=${UNIT}\nLoadState=loaded\nActiveState=active\nSubState=running\nMainPID=10\n` } });
    const status = JSON.parse((await run(["service", "status", "--json", "--platform", "systemd"])).stdout) as { status: string; service: Record<string, unknown> };
    expect(status.status).toBe("ok");
    expect(status.service).toMatchObject({ name: "claude-myproject", pid: 10, running: true, unit: UNIT });
    const listed = await run(["service", "list", "--platform", "systemd", "--json"]);
    expect(JSON.parse(listed.stdout)).toMatchObject({ status: "ok", count: 1, services: [{ name: "claude-myproject" }] });
    expect(listed.stdout).toMatch(/^{\n  "count": 1,\n  "services"/);
  });

  it("status prints key=value lines", async () => {
    await run(["service", "install", "--vendor", "claude", "--platform", "systemd"]);
    box.setReplies({ "systemctl --user show": { stdout: "LoadState=loaded\nActiveState=inactive\nSubState=dead\nMainPID=0\nNRestarts=0\n" } });
    const { stdout } = await run(["service", "status", "--name", "claude-myproject", "--platform", "systemd"]);
    expect(stdout).toContain("name=claude-myproject\n");
    expect(stdout).toContain("state=inactive (dead)\n");
    expect(stdout).toContain("running=false\n");
    expect(stdout).not.toContain("pid=");
  });

  it("uninstall by --vendor uses the cwd's config to find the instance", async () => {
    await run(["service", "install", "--vendor", "claude", "--platform", "systemd"]);
    box.clearCalls();
    const { stdout } = await run(["service", "uninstall", "--vendor", "claude", "--platform", "systemd"]);
    expect(stdout).toContain(`uninstalled ${UNIT} (name claude-myproject)`);
    expect(box.calls()[0]).toEqual(["systemctl", "--user", "disable", "--now", UNIT]);
  });

  it("logs -f -n passes through to journalctl", async () => {
    await run(["service", "install", "--vendor", "claude", "--platform", "systemd"]);
    box.clearCalls();
    await run(["service", "logs", "-f", "-n", "5", "--platform", "systemd"]);
    expect(box.calls()).toEqual([["journalctl", "--user", "-u", UNIT, "--no-pager", "-n", "5", "-f"]]);
  });

  it("errors are one line naming the flag, for the main program to print", async () => {
    await expect(run(["service", "install", "--platform", "systemd"])).rejects.toThrow(/^missing --vendor; pass the vendor/);
    await expect(run(["service", "install", "--vendor", "claude", "--platform", "upstart"])).rejects.toThrow(
      "Expected `--platform` to be systemd or launchd, got `upstart` (string)",
    );
    await expect(run(["service", "install", "--vendor", "claude", "--concurrency", "lots", "--platform", "systemd"])).rejects.toThrow(/--concurrency/);
  });

  it("every subcommand's help shows an example of itself", async () => {
    for (const sub of ["install", "uninstall", "status", "logs", "list"]) {
      let text = "";
      const program = new Command("agent-lanes").exitOverride().configureOutput({ writeOut: (chunk) => (text += chunk) });
      registerServiceCommand(program);
      await expect(program.parseAsync(["service", sub, "--help"], { from: "user" })).rejects.toMatchObject({ code: "commander.helpDisplayed" });
      expect(text).toContain(`Examples:\n  $ agent-lanes service ${sub}`);
    }
  });
});
