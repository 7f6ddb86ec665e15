// agent-lanes prune through the built binary: text and --json output, dry
// runs, flag errors naming the flag, and handoff.yaml's retention: as default.

import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeCliWorkspace, type CliWorkspace } from "./cli-helpers.js";

let ws: CliWorkspace;
beforeEach(async () => {
  ws = await makeCliWorkspace("al-cli-prune-");
});
afterEach(async () => {
  await ws.cleanup();
});

async function answered(fetch: boolean): Promise<string> {
  const id = await ws.submit();
  const token = (await ws.run(["claim", id, "--json"])).json<{ claim_token: string }>().claim_token;
  await ws.run(["respond", id, "--claim-token", token, "--body", "done"]);
  if (fetch) expect((await ws.run(["wait", id])).exitCode).toBe(0);
  return id;
}

const tasks = async (): Promise<string[]> => (await readdir(path.join(ws.queue, "tasks"))).sort();

describe("agent-lanes prune", () => {
  it("--dry-run names what would go and changes nothing; then the real run removes it and names the unfetched one on stderr", async () => {
    const fetched = await answered(true);
    const unfetched = await answered(false);
    const live = await ws.submit();
    const dry = await ws.run(["prune", "--older-than", "0s", "--dry-run"]);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain(`would prune ${fetched} (completed `);
    expect(dry.stdout).toMatch(/would prune 1 task\(s\); kept 1 unfetched; 2 finished task\(s\) remain/);
    expect(dry.stderr).toContain(`agent-lanes prune: kept ${unfetched}: no file at `);
    expect(await tasks()).toEqual([fetched, unfetched, live].sort());
    const real = await ws.run(["prune", "--older-than", "0s", "--json"]);
    const payload = real.json<{ dry_run: boolean; pruned: Array<{ id: string }>; remaining_finished: number; index_files: string[] }>();
    expect(payload.dry_run).toBe(false);
    expect(payload.pruned.map((p) => p.id)).toEqual([fetched]);
    expect(payload.remaining_finished).toBe(1);
    expect(await tasks()).toEqual([unfetched, live].sort());
  });

  it("bad flags are one line naming the flag; nothing changes", async () => {
    const id = await answered(true);
    for (const [args, message] of [
      [["--older-than", "soon"], /--older-than must be a duration such as 90s, 45m, 24h, 30d or 2w, got 'soon'/],
      [["--keep-last", "-1"], /--keep-last must be a whole number >= 0, got '-1'/],
      [["--state", "queued"], /--state must be one of completed, failed, got 'queued'/],
    ] as const) {
      const result = await ws.run(["prune", ...args]);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(await tasks()).toEqual([id]);
  });

  it("without flags, handoff.yaml's retention: applies; a bad section is one line naming the key", async () => {
    const id = await answered(true);
    const yaml = await readFile(ws.config, "utf8");
    await writeFile(ws.config, `${yaml}\nretention:\n  older_than: 1w\n`);
    expect((await ws.run(["prune", "--json"])).json<{ pruned: unknown[] }>().pruned).toEqual([]);
    await writeFile(ws.config, `${yaml}\nretention:\n  older_than: 0s\n`);
    expect((await ws.run(["prune", "--json"])).json<{ pruned: Array<{ id: string }> }>().pruned.map((p) => p.id)).toEqual([id]);
    await writeFile(ws.config, `${yaml}\nretention:\n  older_than: 1d\n  keep_last: lots\n`);
    const bad = await ws.run(["prune"]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/handoff\.yaml: retention\.keep_last must be a whole number >= 0, got "lots"/);
  });
});
