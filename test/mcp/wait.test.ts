// wait_task's wait in-process: the cap, the progress beat without any change,
// an aborted call, and an observer that fails.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { waitSeconds, waitTask } from "../../src/mcp/wait.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await makeWorkspace();
});
afterEach(async () => {
  await ws.cleanup();
});

describe("waitSeconds", () => {
  it("is the default without a wish, the wish within [0, cap], the cap above it", () => {
    expect(waitSeconds(undefined, 50)).toBe(45);
    expect(waitSeconds(undefined, 10)).toBe(10);
    expect(waitSeconds(12.5, 50)).toBe(12.5);
    expect(waitSeconds(1000, 50)).toBe(50);
    expect(waitSeconds(0, 50)).toBe(0);
  });
});

describe("waitTask", () => {
  it("never waits past the cap, however long the model asks, and beats progress while nothing changes", async () => {
    const task = await ws.submit();
    const beats: Array<[number, number, string]> = [];
    const result = await waitTask(ws.store, { task_id: task.id, max_wait_seconds: 3600 }, {
      maxWaitSeconds: 0.6,
      progressEveryMs: 100,
      progress: async (value, total, message) => void beats.push([value, total, message]),
    });
    expect(result).toMatchObject({ state: "running", task_state: "queued", waited_seconds: 0.6 });
    expect(beats.length).toBeGreaterThanOrEqual(2);
    expect(beats.every(([, total, message]) => total === 0.6 && message.startsWith("queued; last event created"))).toBe(true);
    expect(beats.map(([v]) => v)).toEqual([...beats.map(([v]) => v)].sort((a, b) => a - b));
  });

  it("returns at once when the call is aborted (the client cancelled it)", async () => {
    const task = await ws.submit();
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const started = Date.now();
    const result = await waitTask(ws.store, { task_id: task.id }, { maxWaitSeconds: 30, progressEveryMs: 1000, signal: abort.signal });
    expect(result.state).toBe("running");
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("keeps waiting when the progress observer throws, and returns the answer", async () => {
    const task = await ws.submit();
    const responding = new Promise((resolve) => setTimeout(resolve, 300)).then(() => ws.store.respond(task.id, { body: "late answer" }));
    const result = await waitTask(ws.store, { task_id: task.id, max_wait_seconds: 20 }, {
      maxWaitSeconds: 20,
      progressEveryMs: 50,
      progress: async () => {
        throw new Error("client gone");
      },
    });
    expect(result).toMatchObject({ state: "completed", body: "late answer", verdict: null });
    await responding;
  });
});
