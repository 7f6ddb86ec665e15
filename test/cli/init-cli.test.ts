// `init` and `init-pool` through the built binary: the files and their modes,
// paths with spaces and quotes, the --json payloads, refusal to overwrite, and
// the generated bin/handoff driving this CLI.

import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, realpath, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CLI, keys, run } from "./cli-helpers.js";

const execFileAsync = promisify(execFile);

/** A folder name a careless script would split, expand or unquote. */
const NASTY = `it's a "project" $HOME`;

let tmp: string;

beforeEach(async () => {
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), "al-cli-init-")));
});

afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function mode(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777;
}

describe("agent-lanes init", () => {
  it("writes handoff/ with the files and modes of §7 into a path with spaces and quotes", async () => {
    const project = path.join(tmp, NASTY);
    const result = await run(["init", project, "--json"], { cwd: tmp });
    expect(result.exitCode).toBe(0);
    const payload = result.json<Record<string, unknown>>();
    expect(keys(payload)).toEqual(["handoff", "next_steps", "queue_root", "status", "workspace_id", "workspace_root"]);
    const handoff = path.join(project, "handoff");
    expect(payload).toMatchObject({ status: "initialized", handoff, workspace_id: NASTY, workspace_root: "..", queue_root: "state" });

    expect((await readdir(handoff)).sort()).toEqual(["README.md", "REVIEWER-AGENT-PROMPT.md", "bin", "dispatcher.sh", "handoff.yaml", "state"]);
    expect(await mode(path.join(handoff, "dispatcher.sh"))).toBe(0o755);
    expect(await mode(path.join(handoff, "bin/handoff"))).toBe(0o755);
    expect(await mode(path.join(handoff, "state"))).toBe(0o700);
    expect(await mode(path.join(handoff, "handoff.yaml"))).toBe(0o644);
    const yaml = await readFile(path.join(handoff, "handoff.yaml"), "utf8");
    expect(yaml).toMatch(/^queue_root: state$/m);
    expect(yaml).toMatch(/^workspace_id: /m);
  });

  it("the generated bin/handoff runs this CLI against its own config, from any cwd", async () => {
    const project = path.join(tmp, NASTY);
    expect((await run(["init", project], { cwd: tmp })).exitCode).toBe(0);
    const bin = path.join(project, "handoff", "bin", "handoff");
    const { stdout } = await execFileAsync(bin, ["status", "--all", "--json"], { cwd: os.tmpdir(), env: { ...process.env, AGENT_LANES_BIN: CLI } });
    const payload = JSON.parse(stdout) as { queue_root: string; count: number };
    expect(payload).toMatchObject({ queue_root: path.join(project, "handoff", "state"), count: 0 });
  });

  it("defaults to the cwd and the folder's name; text mode says where and what next", async () => {
    const result = await run(["init"], { cwd: tmp });
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`initialized ${path.join(tmp, "handoff")}`);
    expect(lines[1]).toBe(`workspace_id=${path.basename(tmp)}`);
    expect(lines).toContain("next steps:");
  });

  it("writes --workspace-id and --queue-root verbatim", async () => {
    const result = await run(["init", "p", "--workspace-id", "demo", "--queue-root", "queue dir", "--workspace-root", "..", "--json"], { cwd: tmp });
    expect(result.json()).toMatchObject({ workspace_id: "demo", queue_root: "queue dir" });
    const yaml = await readFile(path.join(tmp, "p", "handoff", "handoff.yaml"), "utf8");
    expect(yaml).toMatch(/^workspace_id: demo$/m);
    expect(yaml).toMatch(/^queue_root: (queue dir|"queue dir"|'queue dir')$/m);
  });

  it("refuses to overwrite an existing handoff/ and leaves it untouched", async () => {
    expect((await run(["init", "--workspace-id", "first"], { cwd: tmp })).exitCode).toBe(0);
    const config = path.join(tmp, "handoff", "handoff.yaml");
    const before = await readFile(config, "utf8");
    const again = await run(["init", "--workspace-id", "second"], { cwd: tmp });
    expect(again.exitCode).toBe(1);
    expect(again.stdout).toBe("");
    expect(again.errLines).toEqual([`agent-lanes: already exists: ${path.join(tmp, "handoff")} (init never overwrites; remove it or choose another folder)`]);
    expect(await readFile(config, "utf8")).toBe(before);
  });
});

describe("agent-lanes init-pool", () => {
  it("writes the queue and one executable wrapper per vendor, and prints the §7 payload", async () => {
    const pool = path.join(tmp, NASTY);
    const result = await run(["init-pool", pool, "--json"], { cwd: tmp });
    expect(result.exitCode).toBe(0);
    const payload = result.json<{ dispatchers: Array<{ vendor: string; wrapper: string }>; polling_prompt: string; config: string; store: string }>();
    expect(keys(payload)).toEqual(["config", "dispatchers", "polling_prompt", "queue", "status", "store", "workspace_id"]);
    const queue = path.join(pool, ".agent-lanes-queue");
    expect(payload).toMatchObject({ status: "initialized", queue, config: path.join(queue, "handoff.yaml"), store: path.join(queue, "state"), workspace_id: NASTY });
    expect(payload.dispatchers.map((d) => d.vendor)).toEqual(["claude", "codex", "gemini"]);
    for (const { wrapper } of payload.dispatchers) {
      expect(path.dirname(wrapper)).toBe(path.join(pool, "dispatchers"));
      expect(await mode(wrapper)).toBe(0o755);
    }
    expect(await mode(path.join(queue, "state"))).toBe(0o700);
    expect((await readdir(queue)).sort()).toEqual(["README.md", "handoff.yaml", "state"]);
    const prompt = await readFile(payload.polling_prompt, "utf8");
    expect(prompt).toContain(payload.config);
    expect(prompt).toContain(payload.store);
    const yaml = await readFile(payload.config, "utf8");
    expect(yaml).toMatch(/^queue_root: state$/m);
    expect(yaml).toMatch(/^ {2}default:/m);
  });

  it("the pool's config and store work with this CLI", async () => {
    const result = await run(["init-pool", "pool", "--json"], { cwd: tmp });
    const { config, store } = result.json<{ config: string; store: string }>();
    const status = await run(["--config", config, "--store", store, "status", "--all", "--json"], { cwd: os.tmpdir() });
    expect(status.exitCode).toBe(0);
    expect(status.json()).toMatchObject({ queue_root: store, count: 0 });
  });

  it("refuses when either folder exists and writes nothing", async () => {
    const pool = path.join(tmp, "pool");
    expect((await run(["init-pool", pool], { cwd: tmp })).exitCode).toBe(0);
    await rm(path.join(pool, ".agent-lanes-queue"), { recursive: true });
    const again = await run(["init-pool", pool], { cwd: tmp });
    expect(again.exitCode).toBe(1);
    expect(again.errLines).toEqual([expect.stringMatching(/^agent-lanes: already exists: .*dispatchers/)]);
    expect(await readdir(pool)).toEqual(["dispatchers"]);
  });

  it("needs a PATH", async () => {
    const result = await run(["init-pool"], { cwd: tmp });
    expect(result.exitCode).toBe(1);
    expect(result.errLines).toEqual([expect.stringMatching(/^agent-lanes: missing required argument 'path'/)]);
  });
});
