// Fuzz: whatever lies in a task folder (garbage, any JSON, a real task.json
// with fields broken or removed, a torn write), the scans never throw, the bad
// task is reported and skipped, the good tasks stay claimable, and every
// operation on the bad one fails with a StoreError, changing nothing outside
// that task's folder.

import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StoreError, TASK_STATES, toJsonFile, type Task } from "../../src/store/index.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";
import { anyValue, garbageText, hostilePath } from "./support/arbitraries.js";
import { createFigures, runs } from "./support/figures.js";
import { snapshotTree, treeDiff } from "./support/tree.js";

const figures = createFigures("fuzz-queue-files");

/**
 * The summary cache beside the queue (cache/): a scan that learns a finished
 * task appends a line there by design (src/store/scan.ts), so a valid finished
 * task.json makes a scan write it. Every other path must stay as it was.
 */
const scannerCache = (relative: string): boolean => relative === path.join("handoff", "state", "cache");

let ws: TestWorkspace;
let good: Task[];
let template: Record<string, unknown>;
let caseNo = 0;

beforeAll(async () => {
  ws = await makeWorkspace();
  good = [await ws.submit({ correlation_id: "good-1" }), await ws.submit({ correlation_id: "good-2" })];
  template = JSON.parse(JSON.stringify(good[0])) as Record<string, unknown>;
});

afterAll(async () => {
  figures.write();
  await ws.cleanup();
});

const TASK_KEYS = Object.keys({
  id: 1, workspace_id: 1, correlation_id: 1, checkpoint_id: 1, source_agent: 1, lane: 1, workspace_root: 1, worktree_path: 1,
  expected_branch: 1, request_path: 1, request_sha256: 1, supporting_paths: 1, response_path: 1, prompt: 1, metadata: 1,
  state: 1, created_at: 1, updated_at: 1, claim_owner: 1, claim_token: 1, lease_expires_at: 1, claimed_at: 1,
  completed_at: 1, failed_at: 1, failure_reason: 1, surprise: 1,
});

/** Values that look right to a loose reader: states, stamps, paths, tokens. */
const plausible = fc.oneof(
  anyValue,
  fc.constantFrom(...TASK_STATES, "done", "", "2026-01-01T00:00:00Z", "2000-01-01T00:00:00.5Z", "9999-12-31T23:59:59.999999Z", "yesterday"),
  hostilePath({ inside: "/tmp", outside: "/" }),
);

type Mutation = { op: "set"; key: string; value: unknown } | { op: "delete"; key: string };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), key: fc.constantFrom(...TASK_KEYS), value: plausible }),
  fc.record({ op: fc.constant("delete" as const), key: fc.constantFrom(...TASK_KEYS) }),
);

/** The content of a task.json in a folder named `id`. */
function taskJsonText(id: string): fc.Arbitrary<string> {
  const mutated = fc.array(mutation, { minLength: 1, maxLength: 4 }).map((mutations) => {
    const task: Record<string, unknown> = { ...template, id };
    for (const m of mutations) {
      if (m.op === "set") task[m.key] = m.value;
      else delete task[m.key];
    }
    return toJsonFile(task);
  });
  return fc.oneof(
    { weight: 1, arbitrary: garbageText },
    { weight: 1, arbitrary: anyValue.map((v) => JSON.stringify(v) ?? "") },
    { weight: 4, arbitrary: mutated },
    // A torn write (what atomic renames exist to prevent, written by hand here).
    { weight: 1, arbitrary: fc.tuple(mutated, fc.nat()).map(([text, cut]) => text.slice(0, cut % Math.max(1, text.length))) },
  );
}

const sideFile = fc.option(fc.oneof(garbageText, anyValue.map((v) => `${JSON.stringify(v) ?? ""}\n`)), { freq: 2 });

async function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

function expectStoreError(error: unknown, what: string): asserts error is StoreError {
  if (!(error instanceof StoreError)) throw new Error(`${what}: expected a StoreError, got ${String((error as Error)?.stack ?? error)}`);
  expect(error.message.trim()).not.toBe("");
}

describe("fuzz: task folders with any content", () => {
  it("scans skip and report the bad task; operations on it fail cleanly and touch nothing else", async () => {
    const property = fc.asyncProperty(
      fc.integer({ min: 0, max: 1e9 }).chain((n) => fc.tuple(fc.constant(`fuzz-${n}-${++caseNo}`), taskJsonText(`fuzz-${n}-${caseNo}`), sideFile, sideFile)),
      async ([id, text, events, response]) => {
        const dir = path.join(ws.queue, "tasks", id);
        await mkdir(dir, { recursive: true });
        await writeFile(path.join(dir, "task.json"), text);
        if (events !== null) await writeFile(path.join(dir, "events.jsonl"), events);
        if (response !== null) await writeFile(path.join(dir, "response.json"), response);
        try {
          const before = await snapshotTree(ws.root, scannerCache);

          // Scans: never throw; the bad task is either a readable task or a reported problem.
          const list = await ws.store.list();
          const problems = ws.store.problems();
          const listed = list.some((t) => t.id === id);
          const reported = problems.some((p) => p.taskId === id);
          expect(listed !== reported, `listed=${listed} reported=${reported}`).toBe(true);
          if (reported) expect(problems.find((p) => p.taskId === id)?.file).toBe(path.join(dir, "task.json"));
          for (const t of list) {
            expect(TASK_STATES).toContain(t.state);
            expect(typeof t.lane).toBe("string");
          }
          const available = await ws.store.available();
          for (const g of good) expect(available.map((t) => t.id)).toContain(g.id);
          expect((await ws.store.next("default"))?.id).toBeDefined();
          expect(treeDiff(before, await snapshotTree(ws.root, scannerCache)), "scans write nothing but the scanner's own cache").toEqual([]);
          // What the scanner did write there is whole lines of JSON (a finished task it learnt).
          for (const line of (await readFile(path.join(ws.queue, "cache", "finished-index.jsonl"), "utf8").catch(() => "")).split("\n")) {
            if (line !== "") expect(() => JSON.parse(line), line).not.toThrow();
          }

          // Reads: a task or a StoreError.
          for (const read of [() => ws.store.get(id), () => ws.store.getResponse(id), () => ws.store.readEvents(id)]) {
            const r = await settle<unknown>(read());
            if (!r.ok) expectStoreError(r.error, "read");
          }

          // Transitions on the bad task: a StoreError, or success on a task that was readable.
          const outsideTask = (rel: string): boolean => !rel.startsWith(path.join("handoff", "state", "tasks", id));
          const claim = await settle(ws.store.claim(id, { owner: "fuzzer", leaseSeconds: 60 }));
          if (!claim.ok) {
            expectStoreError(claim.error, "claim");
            if (reported) expect(claim.error.message).toMatch(new RegExp(`${id}|corrupt|unknown task`));
          } else {
            expect(listed).toBe(true);
          }
          const token = claim.ok ? claim.value.claim_token : null;
          const respond = await settle(ws.store.respond(id, { body: "fuzzed", claimToken: token }));
          if (!respond.ok) expectStoreError(respond.error, "respond");
          const event = await settle(ws.store.appendEvent(id, { type: "note" }));
          if (!event.ok) expectStoreError(event.error, "appendEvent");
          if (reported) expect(claim.ok || respond.ok || event.ok, "a corrupt task cannot be transitioned").toBe(false);
          const after = await snapshotTree(ws.root, scannerCache);
          expect(treeDiff(before, after).filter(outsideTask), "nothing outside the bad task changes").toEqual([]);
          if (reported) expect(treeDiff(before, after), "a corrupt task is left as it was").toEqual([]);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    );
    await figures.check("task.json contents", property, { numRuns: runs(250) });
    // The good tasks were never disturbed: both can still be claimed and answered.
    for (const g of good) {
      const claimed = await ws.store.claim(g.id, { owner: "after-fuzz", leaseSeconds: 60 });
      const { response } = await ws.store.respond(g.id, { body: "done", claimToken: claimed.claim_token });
      expect(response.status).toBe("completed");
    }
  });

  it("regression: a task.json whose request_path holds a NUL byte is reported as corrupt, not a TypeError from claim", async () => {
    const id = "nul-request-path";
    const dir = path.join(ws.queue, "tasks", id);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "task.json"), toJsonFile({ ...template, id, request_path: "/tmp/\u0000x" }));
    try {
      await ws.store.list();
      expect(ws.store.problems().find((p) => p.taskId === id)?.message).toMatch(/request_path contains a NUL byte/);
      const claim = await settle(ws.store.claim(id, { owner: "x" }));
      expect(claim.ok).toBe(false);
      if (!claim.ok) {
        expectStoreError(claim.error, "claim");
        expect(claim.error.message).toContain(path.join(dir, "task.json"));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    figures.add({ cases: 1 });
  });
});
