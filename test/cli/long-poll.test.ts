// The long-poll primitives in-process, with real stores on a temp queue: a
// second store stands in for another process, so only the file system can
// tell the waiter about its writes.

import { getEventListeners } from "node:events";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startHeartbeat, waitForLaneTask, waitForResponse } from "../../src/cli/long-poll.js";
import { openStore, type Store } from "../../src/store/index.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";

/** Long enough that a test passing within it cannot have been saved by the safety poll. */
const NO_POLL_MS = 10 * 60 * 1000;

let ws: TestWorkspace;
let waiter: Store;

beforeEach(async () => {
  ws = await makeWorkspace();
  waiter = openStore(ws.queue, { pollMs: NO_POLL_MS });
});

afterEach(async () => {
  await waiter.close();
  await ws.cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("startHeartbeat", () => {
  it("never runs two beats at once, and stop() ends them", async () => {
    let running = 0;
    let most = 0;
    let beats = 0;
    const heartbeat = startHeartbeat({
      intervalMs: 5,
      beat: async () => {
        running += 1;
        beats += 1;
        most = Math.max(most, running);
        await sleep(20);
        running -= 1;
      },
    });
    await sleep(120);
    heartbeat.stop();
    const after = beats;
    await sleep(60);
    expect(after).toBeGreaterThanOrEqual(2);
    expect(most).toBe(1);
    expect(beats).toBe(after);
  });

  it("passes the time waited, keeps beating after a beat throws, and beats never with interval 0", async () => {
    const seen: number[] = [];
    const heartbeat = startHeartbeat({
      intervalMs: 10,
      beat: (elapsed) => {
        seen.push(elapsed);
        throw new Error("observer failure");
      },
    });
    await sleep(80);
    heartbeat.stop();
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen[1] as number).toBeGreaterThan(seen[0] as number);

    const never = vi.fn();
    const off = startHeartbeat({ intervalMs: 0, beat: never });
    await sleep(30);
    off.stop();
    expect(never).not.toHaveBeenCalled();
  });

  it("treats an interval beyond setTimeout's range as rare, not constant", async () => {
    const beat = vi.fn();
    const heartbeat = startHeartbeat({ intervalMs: 1e12, beat });
    await sleep(30);
    heartbeat.stop();
    expect(beat).not.toHaveBeenCalled();
  });
});

describe("waitForLaneTask", () => {
  it("returns an available task at once, without starting a watcher", async () => {
    const task = await ws.submit({ lane: "ready" });
    const changes = vi.spyOn(waiter, "changes");
    await expect(waitForLaneTask(waiter, "ready", { timeoutMs: 5000 })).resolves.toMatchObject({ id: task.id });
    expect(changes).not.toHaveBeenCalled();
  });

  it("wakes on a task another store creates, through the file system alone", async () => {
    const waiting = waitForLaneTask(waiter, "later", { timeoutMs: 20_000, pollMs: NO_POLL_MS });
    await sleep(300);
    const task = await ws.submit({ lane: "later" });
    await expect(waiting).resolves.toMatchObject({ id: task.id });
  });

  it("ignores other lanes and returns null at the timeout, beating meanwhile", async () => {
    await ws.submit({ lane: "other" });
    const onHeartbeat = vi.fn();
    await expect(waitForLaneTask(waiter, "quiet", { timeoutMs: 250, heartbeatMs: 50, onHeartbeat })).resolves.toBeNull();
    expect(onHeartbeat.mock.calls.length).toBeGreaterThanOrEqual(2);
  });

  it("ends when its signal aborts and leaves no listener behind", async () => {
    const controller = new AbortController();
    const waiting = waitForLaneTask(waiter, "aborted", { timeoutMs: 20_000, pollMs: NO_POLL_MS, signal: controller.signal });
    await sleep(200);
    controller.abort();
    await expect(waiting).resolves.toBeNull();
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });
});

describe("waitForResponse", () => {
  it("wakes on a response another store writes, and returns null on timeout", async () => {
    const task = await ws.submit();
    await expect(waitForResponse(waiter, task.id, { timeoutMs: 100 })).resolves.toBeNull();
    const waiting = waitForResponse(waiter, task.id, { timeoutMs: 20_000 });
    await sleep(300);
    await ws.store.respond(task.id, { body: "done" });
    await expect(waiting).resolves.toMatchObject({ task_id: task.id, body: "done" });
  });
});
