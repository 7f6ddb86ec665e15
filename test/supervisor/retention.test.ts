// handoff.yaml's retention: section: parsed with errors naming the key, and
// applied by a running dispatcher (once a day, remembered across restarts).

import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { retentionOf } from "../../src/config/retention.js";
import { startRetention } from "../../src/supervisor/retention.js";
import type { Store, Task } from "../../src/store/index.js";
import { makeCliWorkspace, type CliWorkspace } from "../cli/cli-helpers.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";
import { startCli, waitFor } from "./helpers.js";

const DAY = 24 * 60 * 60 * 1000;
const config = (raw: Record<string, unknown>) => ({ raw, path: "/ws/handoff/handoff.yaml", dir: "/ws/handoff" });

describe("retention: in handoff.yaml", () => {
  it("reads the policy; archive resolves against the config's folder", () => {
    expect(retentionOf(config({}))).toBeNull();
    expect(retentionOf(config({ retention: { older_than: "30d", keep_last: 10, lane: "review", state: "failed", archive: "../archive" } }))).toEqual({
      olderThanMs: 30 * DAY,
      keepLast: 10,
      lane: "review",
      states: ["failed"],
      archiveDir: "/ws/archive",
    });
  });

  it.each([
    [{ retention: "30d" }, /retention must be a mapping/],
    [{ retention: { keep_last: 3 } }, /retention\.older_than must be a duration such as 90s, 45m, 24h, 30d or 2w, got null/],
    [{ retention: { older_than: "soon" } }, /retention\.older_than must be a duration/],
    [{ retention: { older_than: "1d", keep_last: -2 } }, /retention\.keep_last must be a whole number >= 0/],
    [{ retention: { older_than: "1d", state: "done" } }, /retention\.state must be completed or failed/],
    [{ retention: { older_than: "1d", olderthan: 1 } }, /retention\.olderthan is not a retention key/],
  ])("refuses %j with one line naming the file and key", (raw, message) => {
    expect(() => retentionOf(config(raw))).toThrow(message);
    expect(() => retentionOf(config(raw))).toThrow(/^\/ws\/handoff\/handoff\.yaml: /);
  });
});

async function finishOld(store: Store, task: Task): Promise<void> {
  const claimed = await store.claim(task.id, { owner: "t" });
  const { response } = await store.respond(task.id, { claimToken: claimed.claim_token, body: "ok" });
  await store.writeResponseOutput(await store.get(task.id), response);
}

describe("startRetention", () => {
  let ws: TestWorkspace;
  let clock: Date;
  beforeEach(async () => {
    clock = new Date("2026-01-01T00:00:00Z");
    ws = await makeWorkspace({ now: () => clock });
  });
  afterEach(async () => {
    await ws.cleanup();
  });

  it("prunes at start, records the run, and does not prune again within the day (also after a restart)", async () => {
    const first = await ws.submit();
    await finishOld(ws.store, first);
    clock = new Date("2026-03-01T00:00:00Z");
    const logs: string[] = [];
    const log = { info: (_f: unknown, m: string) => logs.push(m), warn: (_f: unknown, m: string) => logs.push(`warn ${m}`) };
    const a = startRetention({ store: ws.store, policy: { olderThanMs: 30 * DAY }, log, firstDelayMs: 0, now: () => clock });
    await waitFor("the first prune", () => logs.find((m) => m.startsWith("retention: pruned 1")));
    a.stop();
    await a.done();
    expect(await readdir(path.join(ws.queue, "tasks"))).toEqual([]);
    const stamp = JSON.parse(await readFile(path.join(ws.queue, "cache", "retention.json"), "utf8")) as { last_run_at: string };
    expect(stamp.last_run_at).toBe(clock.toISOString());

    // a restarted dispatcher, an hour later: the day is not over, nothing runs
    const second = await ws.submit();
    await finishOld(ws.store, second);
    clock = new Date(clock.getTime() + 60 * 60 * 1000);
    const b = startRetention({ store: ws.store, policy: { olderThanMs: 0 }, log, firstDelayMs: 0, now: () => clock });
    await new Promise((resolve) => setTimeout(resolve, 300));
    b.stop();
    await b.done();
    expect(await readdir(path.join(ws.queue, "tasks"))).toEqual([second.id]);
    expect(logs.filter((m) => m.startsWith("retention:"))).toHaveLength(1);
  });
});

describe("agent-lanes dispatch applies retention:", () => {
  let cli: CliWorkspace;
  beforeEach(async () => {
    cli = await makeCliWorkspace("al-retention-");
  });
  afterEach(async () => {
    await cli.cleanup();
  });

  it("a running dispatcher prunes the finished, fetched tasks past the policy and archives them", async () => {
    const id = await cli.submit("default");
    const claimed = (await cli.run(["claim", id, "--json"])).json<{ claim_token: string }>();
    await cli.run(["respond", id, "--claim-token", claimed.claim_token, "--body", "done"]);
    expect((await cli.run(["wait", id])).exitCode).toBe(0);
    const yaml = await readFile(cli.config, "utf8");
    await writeFile(cli.config, `${yaml}\nretention:\n  older_than: 0s\n  archive: ../archive\n`);
    await mkdir(path.join(cli.root, "archive"), { recursive: true });
    const dispatcher = startCli(["dispatch", "--vendor", "demo", "--log-format", "json"], { cwd: cli.root, env: { AGENT_LANES_RETENTION_DELAY_MS: "0" } });
    try {
      await waitFor("the retention log line", () => dispatcher.lines.find((l) => String(l.msg).startsWith("retention: pruned 1")), 30_000);
      expect(await readdir(path.join(cli.queue, "tasks"))).toEqual([]);
      expect((await readdir(path.join(cli.root, "archive"))).length).toBe(1);
    } finally {
      dispatcher.child.kill("SIGTERM");
      await dispatcher.child;
    }
  }, 60_000);
});
