// The summary cache of finished tasks: listing reads it instead of every
// task.json, trusts an entry only while its task.json keeps the identity it
// was made from, survives torn lines, and list options cut before reading.

import { appendFile, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openStore, type Store, type Task } from "../../src/store/index.js";
import { toJsonFile } from "../../src/store/json.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await makeWorkspace();
});
afterEach(async () => {
  await ws.cleanup();
});

async function finish(store: Store, task: Task, status: "completed" | "failed" = "completed"): Promise<void> {
  const claimed = await store.claim(task.id, { owner: "t" });
  await store.respond(task.id, { claimToken: claimed.claim_token, body: `answer ${task.id}`, status });
}

const indexFile = (queue: string): string => path.join(queue, "cache", "finished-index.jsonl");
const viewsFile = (queue: string): string => path.join(queue, "cache", "finished-views.jsonl");
const lines = async (file: string): Promise<string[]> => (await readFile(file, "utf8")).split("\n").filter(Boolean);

/** Replace a task.json the way another writer would (temp file + rename: a new inode). */
async function rewrite(queue: string, task: Task, changes: Partial<Task>): Promise<void> {
  const file = path.join(queue, "tasks", task.id, "task.json");
  const current = JSON.parse(await readFile(file, "utf8")) as Task;
  await writeFile(`${file}.tmp`, toJsonFile({ ...current, ...changes }));
  await rename(`${file}.tmp`, file);
}

describe("summary cache", () => {
  it("a scan writes one index line per finished task and none for live ones", async () => {
    const done = [await ws.submit(), await ws.submit()];
    for (const t of done) await finish(ws.store, t);
    const live = await ws.submit();
    expect((await ws.store.list()).map((t) => t.id)).toEqual([...done.map((t) => t.id), live.id]);
    const ids = (await lines(indexFile(ws.queue))).map((l) => (JSON.parse(l) as string[])[0]);
    expect(ids.sort()).toEqual(done.map((t) => t.id).sort());
  });

  it("a listing of many finished tasks caches what it printed about them, once", async () => {
    const done: Task[] = [];
    for (let i = 0; i < 210; i += 1) done.push(await ws.submit());
    for (const t of done) await finish(ws.store, t);
    const first = await ws.store.summaries();
    expect(first).toHaveLength(210);
    await ws.store.summaries();
    const views = (await lines(viewsFile(ws.queue))).map((l) => JSON.parse(l) as { id: string; response_exists: boolean });
    expect(views.map((v) => v.id).sort()).toEqual(done.map((t) => t.id).sort());
    expect(views.every((v) => v.response_exists)).toBe(true);
    // the second listing came from the cache: the same facts
    expect((await ws.store.summaries()).map((s) => s.last_event?.type)).toEqual(first.map((s) => s.last_event?.type));
  }, 60_000);

  it("a long index is not walked for a task another process finished: it is appended, read as one entry, and compacted away", async () => {
    const done = [await ws.submit(), await ws.submit()];
    for (const t of done) await finish(ws.store, t);
    const live = [await ws.submit(), await ws.submit()];
    await ws.store.list();
    // Pad the index past the walk limit (1 MiB) with entries of tasks that are not in the folder.
    const [sample] = await lines(indexFile(ws.queue));
    const pad: string[] = [];
    for (let i = 0; i < 12_000; i += 1) {
      const v = JSON.parse(sample as string) as unknown[];
      v[0] = `20200101T000000000000Z-pad${i}-0123456789ab`;
      pad.push(JSON.stringify(v));
    }
    await appendFile(indexFile(ws.queue), `${pad.join("\n")}\n`);
    // Another process finishes a live task, then a one-shot reader scans the live tasks: it appends
    // the finished task's entry without walking the long index.
    await finish(openStore(ws.queue), live[0] as Task);
    const reader = openStore(ws.queue);
    try {
      expect((await reader.list({ activeOnly: true })).map((t) => t.id)).toEqual([(live[1] as Task).id]);
    } finally {
      await reader.close();
    }
    const count = async (id: string): Promise<number> => (await lines(indexFile(ws.queue))).filter((l) => (JSON.parse(l) as string[])[0] === id).length;
    expect(await count((live[0] as Task).id)).toBe(1);
    // Appended again by a second reader that cannot tell: still one task, finished, listed once.
    await appendFile(indexFile(ws.queue), `${(await lines(indexFile(ws.queue))).find((l) => l.includes((live[0] as Task).id))}\n`);
    const all = openStore(ws.queue);
    try {
      const listed = await all.list();
      expect(listed.map((t) => t.id).sort()).toEqual([...done, ...live].map((t) => t.id).sort());
      expect(listed.find((t) => t.id === (live[0] as Task).id)?.state).toBe("completed");
    } finally {
      await all.close();
    }
    // That full listing compacted the index: the real finished tasks, once each, and no padding.
    const ids = (await lines(indexFile(ws.queue))).map((l) => (JSON.parse(l) as string[])[0]);
    expect(ids.sort()).toEqual([...done, live[0] as Task].map((t) => t.id).sort());
  }, 60_000);

  it("another process lists finished tasks from the cache, not from their files", async () => {
    const tasks: Task[] = [];
    for (let i = 0; i < 20; i += 1) tasks.push(await ws.submit());
    for (const t of tasks) await finish(ws.store, t);
    await ws.store.list();
    // Doctor the cache entries (identity unchanged): a store that shows the
    // doctored lane read the cache; one that read task.json would not.
    const doctored = (await lines(indexFile(ws.queue))).map((l) => {
      const v = JSON.parse(l) as unknown[];
      v[5] = "from-cache";
      return JSON.stringify(v);
    });
    await writeFile(indexFile(ws.queue), `${doctored.join("\n")}\n`);
    const other = openStore(ws.queue);
    try {
      const listed = await other.list({ lane: "from-cache", activeOnly: false });
      expect(listed).toHaveLength(20);
      // the lane filter ran on the cache; the tasks themselves are the files' (read for the rows shown)
      expect(listed.every((t) => t.lane === "default")).toBe(true);
    } finally {
      await other.close();
    }
  });

  it("an entry whose task.json was rewritten by another writer is read afresh", async () => {
    const tasks: Task[] = [];
    for (let i = 0; i < 20; i += 1) tasks.push(await ws.submit());
    for (const t of tasks) await finish(ws.store, t);
    await ws.store.summaries();
    const victim = tasks[3] as Task;
    await rewrite(ws.queue, victim, { state: "queued", claim_token: null, claim_owner: null });
    const other = openStore(ws.queue);
    try {
      expect((await other.next("default"))?.id).toBe(victim.id);
      const listed = await other.summaries();
      expect(listed.find((s) => s.task.id === victim.id)?.task.state).toBe("queued");
      expect(listed.filter((s) => s.task.state === "completed")).toHaveLength(19);
    } finally {
      await other.close();
    }
  });

  it("skips a torn line (a crash mid-append) and keeps the rest", async () => {
    const tasks: Task[] = [];
    for (let i = 0; i < 20; i += 1) tasks.push(await ws.submit());
    for (const t of tasks) await finish(ws.store, t);
    await ws.store.summaries();
    await appendFile(indexFile(ws.queue), '["torn", 1, 2');
    await appendFile(viewsFile(ws.queue), '{"id": "torn"');
    const other = openStore(ws.queue);
    try {
      const listed = await other.summaries();
      expect(listed.map((s) => s.task.id)).toEqual(tasks.map((t) => t.id));
      expect(listed.every((s) => s.response_exists && s.last_event?.type === "response")).toBe(true);
    } finally {
      await other.close();
    }
  });

  it("a finished task's new event shows in the next listing (the views entry checks events.jsonl too)", async () => {
    const tasks: Task[] = [];
    for (let i = 0; i < 3; i += 1) tasks.push(await ws.submit());
    for (const t of tasks) await finish(ws.store, t);
    await ws.store.summaries();
    await ws.store.appendEvent((tasks[1] as Task).id, { type: "late_note", message: "after the answer" });
    const listed = await ws.store.summaries();
    expect(listed[1]?.last_event?.type).toBe("late_note");
  });

  it("a removed task leaves the listing even though the cache still names it", async () => {
    const tasks: Task[] = [];
    for (let i = 0; i < 20; i += 1) tasks.push(await ws.submit());
    for (const t of tasks) await finish(ws.store, t);
    await ws.store.summaries();
    const { rm } = await import("node:fs/promises");
    await rm(path.join(ws.queue, "tasks", (tasks[0] as Task).id), { recursive: true });
    const other = openStore(ws.queue);
    try {
      expect((await other.list()).map((t) => t.id)).toEqual(tasks.slice(1).map((t) => t.id));
    } finally {
      await other.close();
    }
  });
});

describe("list options", () => {
  let tasks: Task[];
  beforeEach(async () => {
    tasks = [];
    for (let i = 0; i < 6; i += 1) tasks.push(await ws.submit({ lane: i % 2 === 0 ? "even" : "odd" }));
    await finish(ws.store, tasks[0] as Task);
    await finish(ws.store, tasks[1] as Task, "failed");
    await ws.store.claim((tasks[2] as Task).id, { owner: "t" });
  });
  const ids = (list: Task[]): string[] => list.map((t) => t.id);
  const at = (...i: number[]): string[] => i.map((n) => (tasks[n] as Task).id);

  it("states, lane, limit (the first in order), newestFirst", async () => {
    expect(ids(await ws.store.list({ states: ["completed", "failed"] }))).toEqual(at(0, 1));
    expect(ids(await ws.store.list({ states: ["queued"] }))).toEqual(at(3, 4, 5));
    expect(ids(await ws.store.list({ lane: "even", states: ["claimed", "completed"] }))).toEqual(at(0, 2));
    expect(ids(await ws.store.list({ limit: 2 }))).toEqual(at(0, 1));
    expect(ids(await ws.store.list({ limit: 2, newestFirst: true }))).toEqual(at(5, 4));
    expect(ids(await ws.store.list({ activeOnly: true, states: ["completed"] }))).toEqual([]);
  });

  it("since: tasks created at or after a time", async () => {
    const third = new Date((tasks[3] as Task).created_at);
    expect(ids(await ws.store.list({ since: third }))).toEqual(at(3, 4, 5));
    expect(ids(await ws.store.list({ since: new Date(Date.now() + 60_000) }))).toEqual([]);
  });

  it("after: a cursor, also when the cursor's task is gone", async () => {
    expect(ids(await ws.store.list({ newestFirst: true, limit: 2, after: (tasks[4] as Task).id }))).toEqual(at(3, 2));
    expect(ids(await ws.store.list({ after: (tasks[3] as Task).id }))).toEqual(at(4, 5));
    const gone = (tasks[3] as Task).id.replace(/-[^-]+-[0-9a-f]{12}$/, "-gone-000000000000");
    expect(ids(await ws.store.list({ after: gone }))).toEqual(at(3, 4, 5).filter((id) => id > gone));
  });
});
