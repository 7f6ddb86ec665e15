// The folders a long-running store watches follow its live tasks: a scan hands
// the notifier only the tasks that became live or stopped being live since the
// last one (trackChanges), not the whole set. These tests check, through the
// store's own reads, that what another process writes is still seen for a task
// that joined the set late, and that a task that left it is no longer watched.

import { appendFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openStore, type Store } from "../../src/store/index.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";

let ws: TestWorkspace;
let other: Store;
beforeEach(async () => {
  ws = await makeWorkspace();
  other = openStore(ws.queue);
});
afterEach(async () => {
  await other.close();
  await ws.cleanup();
});

const ids = async (store: Store): Promise<string[]> => (await store.available({ lanes: ["default"] })).map((t) => t.id);

describe("the live tasks' folders a store watches", () => {
  it("a task that became live after the first scan is watched: another store's claim of it is seen without a full look", async () => {
    const a = await ws.submit();
    const notifier = await ws.store.changes();
    expect(await ids(ws.store)).toEqual([a.id]);

    // Added to the watched set by a later scan.
    const b = await ws.submit();
    expect(await ids(ws.store)).toEqual([a.id, b.id]);

    const since = notifier.generation;
    await other.claim(b.id, { owner: "elsewhere", leaseSeconds: 600 });
    await notifier.wait(5000, since);
    // The claim came through b's folder watch: only b is read again, and it is claimed now.
    expect(await ids(ws.store)).toEqual([a.id]);
    expect((await ws.store.list({ activeOnly: true })).find((t) => t.id === b.id)?.state).toBe("claimed");
  });

  it("a task that finished is no longer watched: writes in its folder name no task", async () => {
    const a = await ws.submit();
    const b = await ws.submit();
    const notifier = await ws.store.changes();
    expect(await ids(ws.store)).toEqual([a.id, b.id]);

    let since = notifier.generation;
    await other.respond(a.id, { body: "done elsewhere" });
    await notifier.wait(5000, since);
    expect(await ids(ws.store)).toEqual([b.id]);
    expect(notifier.takeTouched?.()).toEqual([]);

    // A write in the finished task's folder: its watch is gone, so nothing is touched.
    since = notifier.generation;
    await appendFile(path.join(ws.queue, "tasks", a.id, "events.jsonl"), '{"created_at": "x", "data": {}, "message": "", "type": "note"}\n');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(notifier.takeTouched?.()).toEqual([]);

    // The same write in the live task's folder is seen.
    await appendFile(path.join(ws.queue, "tasks", b.id, "events.jsonl"), '{"created_at": "x", "data": {}, "message": "", "type": "note"}\n');
    await notifier.wait(5000, since);
    await expect.poll(() => notifier.takeTouched?.(), { timeout: 5000 }).toEqual([b.id]);
  });
});
