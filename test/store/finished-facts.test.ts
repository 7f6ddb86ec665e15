// The finished-facts cache (store/finished-facts.ts): what the dashboard
// counts and charts of a finished task is read once, written beside the queue,
// and trusted only while the task's task.json keeps the identity it was read
// from; a torn line costs one re-read, never a wrong answer.

import { appendFile, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openStore, type Store, type Task } from "../../src/store/index.js";
import { toJsonFile } from "../../src/store/json.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";

let ws: TestWorkspace;
const opened: Store[] = [];
beforeEach(async () => {
  ws = await makeWorkspace();
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await ws.cleanup();
});

/** A fresh store on the queue: another process, with nothing in memory. */
const fresh = (): Store => {
  const store = openStore(ws.queue);
  opened.push(store);
  return store;
};
const since = new Date(Date.now() - 86_400_000);
const factsFile = (): string => path.join(ws.queue, "cache", "finished-facts.jsonl");
const lines = async (): Promise<string[]> => (await readFile(factsFile(), "utf8")).split("\n").filter(Boolean);

async function finish(task: Task, cost: number): Promise<void> {
  const claimed = await ws.store.claim(task.id, { owner: "w" });
  await ws.store.respond(task.id, { claimToken: claimed.claim_token, body: "ok", metadata: { vendor: "claude", cost_usd: cost } });
}

describe("finished-facts cache", () => {
  it("is written once per finished task and then read instead of the task's files", async () => {
    const a = await ws.submit();
    const b = await ws.submit();
    await ws.submit(); // live: never cached
    await finish(a, 0.5);
    await finish(b, 1.5);
    const first = await fresh().finishedFacts?.({ since, recent: 10 });
    expect(first?.window.map((f) => f.cost_usd).sort()).toEqual([0.5, 1.5]);
    expect(await lines()).toHaveLength(2);
    // The response changes behind the cache's back (it never does in a real queue): the cache answers, so it was used.
    const responseFile = path.join(ws.queue, "tasks", a.id, "response.json");
    const response = JSON.parse(await readFile(responseFile, "utf8")) as Record<string, unknown>;
    await writeFile(responseFile, toJsonFile({ ...response, metadata: { vendor: "claude", cost_usd: 9 } }));
    const second = await fresh().finishedFacts?.({ since, recent: 10 });
    expect(second?.window.map((f) => f.cost_usd).sort()).toEqual([0.5, 1.5]);
    expect(await lines()).toHaveLength(2);
  });

  it("reads a task again when its task.json is another file (restored, edited), and skips torn lines", async () => {
    const a = await ws.submit({ correlation_id: "before" });
    const b = await ws.submit();
    await finish(a, 1);
    await finish(b, 2);
    await fresh().finishedFacts?.({ since, recent: 10 });
    const file = path.join(ws.queue, "tasks", a.id, "task.json");
    const current = JSON.parse(await readFile(file, "utf8")) as Task;
    const later = new Date(Date.now() + 3_600_000).toISOString();
    await writeFile(`${file}.tmp`, toJsonFile({ ...current, correlation_id: "after", completed_at: later }));
    await rename(`${file}.tmp`, file);
    await appendFile(factsFile(), '["torn", 1, 2');
    const facts = await fresh().finishedFacts?.({ since, recent: 10 });
    expect(facts?.total).toBe(2);
    expect(facts?.window).toHaveLength(2);
    expect(facts?.window.find((f) => f.id === a.id)?.finished_ms).toBe(Date.parse(later));
    expect(facts?.recent.map((f) => f.correlation_id).sort()).toEqual(["after", b.correlation_id].sort());
  });

  it("forgets a pruned task", async () => {
    const a = await ws.submit();
    const b = await ws.submit();
    await finish(a, 1);
    await finish(b, 2);
    expect((await ws.store.finishedFacts?.({ since, recent: 10 }))?.total).toBe(2);
    await ws.store.prune({ olderThanMs: 0, keepLast: 1, force: true });
    const facts = await ws.store.finishedFacts?.({ since, recent: 10 });
    expect(facts?.total).toBe(1);
    expect(facts?.window).toHaveLength(1);
  });
});
