// `agent-lanes doctor` through the built CLI, with the fake vendor CLIs of
// test/fixtures/bin on a PATH of our own and a temporary HOME: what it finds,
// the fix it names, and its exit code. No model is ever called.

import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { setPause } from "../../src/supervisor/pauses.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";
import { CLI, FAKE_BIN } from "../supervisor/helpers.js";

interface Check {
  area: string;
  check: string;
  status: string;
  detail: string;
  fix: string | null;
}

let ws: TestWorkspace;
let home: string;
let bin: string;

beforeEach(async () => {
  ws = await makeWorkspace();
  await ws.submit(); // creates the queue folder
  home = await mkdtemp(path.join(os.tmpdir(), "agent-lanes-doctor-home-"));
  bin = path.join(home, "bin");
  await mkdir(bin);
});

afterEach(async () => {
  await ws.cleanup();
  await rm(home, { recursive: true, force: true });
});

/** Puts the named fake CLIs (only those) on the PATH doctor sees. */
async function install(...names: string[]): Promise<void> {
  for (const name of names) await symlink(path.join(FAKE_BIN, name), path.join(bin, name));
}

const NO_KEYS = { ANTHROPIC_API_KEY: "", CLAUDE_CODE_OAUTH_TOKEN: "", ANTHROPIC_AUTH_TOKEN: "", OPENAI_API_KEY: "", CODEX_API_KEY: "", GEMINI_API_KEY: "", GOOGLE_API_KEY: "" };

async function doctor(args: string[], env: Record<string, string> = {}) {
  const result = await execa(process.execPath, [CLI, "--store", ws.queue, "doctor", "--no-service", ...args], {
    cwd: ws.root,
    reject: false,
    env: { ...NO_KEYS, HOME: home, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`, CODEX_HOME: "", CLAUDE_CONFIG_DIR: "", ...env },
  });
  return result;
}

async function doctorJson(args: string[], env: Record<string, string> = {}) {
  const result = await doctor([...args, "--json"], env);
  const payload = JSON.parse(result.stdout) as { status: string; checks: Check[]; summary: Record<string, number> };
  const find = (area: string, check: string) => payload.checks.find((c) => c.area === area && c.check === check);
  return { result, payload, find };
}

describe("doctor", () => {
  it("passes for a claude that is installed, in range and logged in, with a working queue lock a Python peer sees", async () => {
    await install("claude");
    await mkdir(path.join(home, ".claude"));
    await writeFile(path.join(home, ".claude", ".credentials.json"), "{}\n");
    const { result, payload, find } = await doctorJson(["--vendor", "claude"]);
    expect(result.exitCode).toBe(0);
    expect(payload.status).toBe("ok");
    expect(find("claude", "cli")).toMatchObject({ status: "ok", detail: path.join(bin, "claude") });
    expect(find("claude", "version")).toMatchObject({ status: "ok", detail: expect.stringMatching(/^2\.1\.0 /) });
    expect(find("claude", "credentials")).toMatchObject({ status: "ok", detail: `login file ${path.join(home, ".claude", ".credentials.json")}` });
    expect(find("claude", "trust")?.status).toBe("ok");
    expect(find("claude", "pause")).toMatchObject({ status: "ok", detail: "no pause in force" });
    expect(find("queue", "writable")?.status).toBe("ok");
    expect(find("queue", "lock")?.status).toBe("ok");
    expect(find("queue", "python-flock")).toMatchObject({ status: "ok", detail: expect.stringContaining("sees the lock held") });
  });

  it("fails without credentials, warns on an untested version, one line per check with the fix", async () => {
    await install("claude");
    const result = await doctor(["--vendor", "claude"], { FAKE_CLAUDE_VERSION: "1.0.3" });
    expect(result.exitCode).toBe(1);
    const lines = result.stdout.trim().split("\n");
    expect(lines).toContain(`OK    claude cli: ${path.join(bin, "claude")}`);
    expect(lines.find((l) => l.startsWith("WARN  claude version:"))).toMatch(/1\.0\.3 is outside the tested range 2\.1\.0 to below 3\.0\.0; fix: /);
    expect(lines.find((l) => l.startsWith("FAIL  claude credentials:"))).toMatch(/none found .*; fix: run `claude \/login` as this user/);
    expect(lines.at(-1)).toMatch(/^1 failed, 1 warnings, \d+ ok, \d+ skipped$/);
  });

  it("takes a key from the environment", async () => {
    await install("codex");
    const { find } = await doctorJson(["--vendor", "codex"], { OPENAI_API_KEY: "sk-test" });
    expect(find("codex", "credentials")).toMatchObject({ status: "ok", detail: "from the environment (OPENAI_API_KEY)" });
    expect(find("codex", "trust")).toMatchObject({ status: "ok", detail: expect.stringContaining("--skip-git-repo-check") });
  });

  it("a CLI missing from PATH fails when asked for by name and is only skipped in the overview", async () => {
    const named = await doctorJson(["--vendor", "codex"]);
    expect(named.result.exitCode).toBe(1);
    expect(named.find("codex", "cli")).toMatchObject({ status: "fail", detail: "codex not found on PATH", fix: expect.stringContaining("dispatch.vendors.codex.command") });

    await install("claude");
    await mkdir(path.join(home, ".claude"));
    await writeFile(path.join(home, ".claude", ".credentials.json"), "{}\n");
    const all = await doctorJson([]);
    expect(all.find("codex", "cli")?.status).toBe("skip");
    expect(all.find("agy", "cli")?.status).toBe("skip");
    expect(all.find("claude", "credentials")?.status).toBe("ok");
    expect(all.result.exitCode).toBe(0);
  });

  it("a needs-login pause in force fails with its fix; a usage-limit pause warns", async () => {
    await install("claude", "gemini");
    await setPause(ws.queue, "claude", { reason: "Not logged in · Please run /login", kind: "needs-login", owner: "t", fix: "run `claude /login`, then `agent-lanes resume --vendor claude`" });
    await setPause(ws.queue, "gemini", { until: new Date(Date.now() + 600_000), reason: "quota", kind: "usage-limit", owner: "t" });
    const claude = await doctorJson(["--vendor", "claude"], { ANTHROPIC_API_KEY: "k" });
    expect(claude.result.exitCode).toBe(1);
    expect(claude.find("claude", "pause")).toMatchObject({ status: "fail", fix: "run `claude /login`, then `agent-lanes resume --vendor claude`" });
    const gemini = await doctorJson(["--vendor", "gemini"], { GEMINI_API_KEY: "k", GEMINI_CLI_TRUST_WORKSPACE: "true" });
    expect(gemini.find("gemini", "pause")).toMatchObject({ status: "warn", fix: "wait for it, or lift it now: agent-lanes resume --vendor gemini" });
    expect(gemini.find("gemini", "trust")?.status).toBe("ok");
    expect(gemini.result.exitCode).toBe(0);
  });

  it("refuses a vendor it does not know and shows examples in --help", async () => {
    const bad = await doctor(["--vendor", "nosuch"]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/^agent-lanes: --vendor "nosuch": doctor knows claude, codex, gemini, agy/);
    const help = await execa(process.execPath, [CLI, "doctor", "--help"], { reject: false });
    expect(help.stdout).toContain("agent-lanes doctor --vendor claude");
  });
});
