// prune: what goes (finished, old enough, fetched, beyond keep-last), what
// never does (live tasks, unfetched answers without force), what goes with a
// task (its index files, its cache entries), archives by month, dry runs.

import { execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Store, Task } from "../../src/store/index.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";

let ws: TestWorkspace;
let clock: Date;
beforeEach(async () => {
  clock = new Date("2026-09-10T12:00:00Z");
  ws = await makeWorkspace({ now: () => clock });
});
afterEach(async () => {
  await ws.cleanup();
});

const DAY = 24 * 60 * 60 * 1000;

/** Finish a task at the store's clock; `fetch` plays the orchestrator's wait (writes the body to response_path). */
async function finish(store: Store, task: Task, opts: { status?: "completed" | "failed"; fetch?: boolean } = {}): Promise<void> {
  const claimed = await store.claim(task.id, { owner: "t" });
  const { response } = await store.respond(task.id, { claimToken: claimed.claim_token, body: `answer ${task.id}`, status: opts.status ?? "completed" });
  if (opts.fetch !== false) await store.writeResponseOutput(await store.get(task.id), response);
}

const taskIds = async (queue: string): Promise<string[]> => (await readdir(path.join(queue, "tasks"))).sort();

describe("prune", () => {
  it("removes finished, fetched tasks older than the policy with their index files; never live ones", async () => {
    const old = [await ws.submit(), await ws.submit({ lane: "other" })];
    for (const t of old) await finish(ws.store, t);
    const failedOld = await ws.submit();
    await finish(ws.store, failedOld, { status: "failed" });
    const queuedOld = await ws.submit();
    const claimedOld = await ws.submit();
    await ws.store.claim(claimedOld.id, { owner: "t", leaseSeconds: 1 }); // its lease long over by then: still never pruned
    clock = new Date(clock.getTime() + 40 * DAY);
    const recent = await ws.submit();
    await finish(ws.store, recent);

    const result = await ws.store.prune({ olderThanMs: 30 * DAY });
    expect(result.pruned.map((p) => p.id).sort()).toEqual([...old, failedOld].map((t) => t.id).sort());
    expect(await taskIds(ws.queue)).toEqual([queuedOld.id, claimedOld.id, recent.id].sort());
    const indexes = await readdir(path.join(ws.queue, "indexes", "correlations"));
    for (const t of [...old, failedOld]) expect(indexes).not.toContain(`ws--${t.correlation_id}.json`);
    expect(indexes).toContain(`ws--${recent.correlation_id}.json`);
    expect(result.remaining_finished).toBe(1);
    // the queue reads the same without them
    expect((await ws.store.list()).map((t) => t.id)).toEqual([queuedOld.id, claimedOld.id, recent.id]);
  });

  it("keeps a task whose response was never fetched by wait, unless forced", async () => {
    const unfetched = await ws.submit();
    await finish(ws.store, unfetched, { fetch: false });
    const staleFile = await ws.submit();
    await finish(ws.store, staleFile, { fetch: false });
    // a file at response_path older than the answer is not a fetch
    const target = path.resolve(staleFile.workspace_root, staleFile.response_path);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, "something else");
    await utimes(target, new Date("2020-01-01"), new Date("2020-01-01"));
    clock = new Date(clock.getTime() + 40 * DAY);
    const kept = await ws.store.prune({ olderThanMs: 30 * DAY });
    expect(kept.pruned).toEqual([]);
    expect(kept.kept.map((k) => [k.id, k.reason]).sort()).toEqual([unfetched.id, staleFile.id].sort().map((id) => [id, "response_not_fetched"]));
    expect(kept.kept[0]?.detail).toMatch(/run wait .*, or prune with --force/);
    const forced = await ws.store.prune({ olderThanMs: 30 * DAY, force: true });
    expect(forced.pruned).toHaveLength(2);
    expect(await taskIds(ws.queue)).toEqual([]);
  });

  it("keep-last, lane and state narrow the selection; a dry run changes nothing", async () => {
    const tasks: Task[] = [];
    for (let i = 0; i < 5; i += 1) {
      tasks.push(await ws.submit({ lane: i < 4 ? "a" : "b" }));
      await finish(ws.store, tasks[i] as Task, { status: i === 3 ? "failed" : "completed" });
      clock = new Date(clock.getTime() + DAY);
    }
    clock = new Date(clock.getTime() + 60 * DAY);
    const before = await taskIds(ws.queue);
    const dry = await ws.store.prune({ olderThanMs: DAY, keepLast: 1, lane: "a", states: ["completed"], dryRun: true });
    expect(dry.dry_run).toBe(true);
    // lane a, completed: tasks 0,1,2; the newest (2) is kept by keep-last
    expect(dry.pruned.map((p) => p.id).sort()).toEqual([tasks[0], tasks[1]].map((t) => (t as Task).id).sort());
    expect(await taskIds(ws.queue)).toEqual(before);
    const real = await ws.store.prune({ olderThanMs: DAY, keepLast: 1, lane: "a", states: ["completed"] });
    expect(real.pruned.map((p) => p.id)).toEqual(dry.pruned.map((p) => p.id));
    expect(await taskIds(ws.queue)).toEqual([tasks[2], tasks[3], tasks[4]].map((t) => (t as Task).id).sort());
  });

  it("archives into one tar.gz per month, appending on a later prune; the archive restores the files", async () => {
    const september = await ws.submit();
    await finish(ws.store, september);
    clock = new Date("2026-10-05T12:00:00Z");
    const october = [await ws.submit(), await ws.submit()];
    await finish(ws.store, october[0] as Task);
    clock = new Date("2026-12-20T12:00:00Z");
    const archive = path.join(ws.root, "archive");
    const first = await ws.store.prune({ olderThanMs: 30 * DAY, archiveDir: archive });
    expect(first.pruned.map((p) => [p.id, p.archive]).sort()).toEqual(
      [
        [september.id, path.join(archive, "2026-09.tar.gz")],
        [(october[0] as Task).id, path.join(archive, "2026-10.tar.gz")],
      ].sort(),
    );
    expect((await readdir(archive)).sort()).toEqual(["2026-09.tar.gz", "2026-10.tar.gz"]);
    // a second October task, pruned later, joins the same archive
    clock = new Date("2026-10-06T12:00:00Z");
    await finish(ws.store, october[1] as Task);
    clock = new Date("2026-12-21T12:00:00Z");
    await ws.store.prune({ olderThanMs: 30 * DAY, archiveDir: archive });
    const listing = execFileSync("tar", ["-tzf", path.join(archive, "2026-10.tar.gz")]).toString().split("\n").filter(Boolean);
    for (const t of october) {
      expect(listing).toContain(`tasks/${t.id}/task.json`);
      expect(listing).toContain(`tasks/${t.id}/response.json`);
      expect(listing).toContain(`tasks/${t.id}/events.jsonl`);
      expect(listing).toContain(`indexes/correlations/ws--${t.correlation_id}.json`);
    }
    expect(await taskIds(ws.queue)).toEqual([]);
    // restoring the archive puts the task back exactly
    const restore = path.join(ws.root, "restore");
    await mkdir(restore);
    execFileSync("tar", ["-xzf", path.join(archive, "2026-09.tar.gz"), "-C", restore]);
    const restored = JSON.parse(await readFile(path.join(restore, "tasks", september.id, "task.json"), "utf8")) as Task;
    expect(restored).toMatchObject({ id: september.id, state: "completed" });
    expect((await stat(path.join(archive, "2026-09.tar.gz"))).mode & 0o777).toBe(0o600);
  });

  it("refuses an archive inside tasks/ and bad numbers, changing nothing", async () => {
    const t = await ws.submit();
    await finish(ws.store, t);
    clock = new Date(clock.getTime() + 40 * DAY);
    await expect(ws.store.prune({ archiveDir: path.join(ws.queue, "tasks", "x") })).rejects.toThrow(/outside the queue's tasks\/ folder/);
    await expect(ws.store.prune({ keepLast: -1 })).rejects.toThrow(/keep_last must be a whole number/);
    expect(await taskIds(ws.queue)).toEqual([t.id]);
  });
});
