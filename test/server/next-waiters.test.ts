// Coalesced next-task waiting, over a stub store that counts scans and a
// notifier the test bumps by hand (its safety-poll timeout is ignored, so
// every scan is one the test caused).

import { describe, expect, it } from "vitest";
import { createNextWaiters } from "../../src/server/next-waiters.js";
import type { AvailableOptions, ChangeNotifier, Store, Task } from "../../src/store/types.js";

function fakeNotifier() {
  let generation = 0;
  const sleepers = new Set<() => void>();
  const notifier = {
    get generation() {
      return generation;
    },
    wait(_timeoutMs: number, since: number, signal?: AbortSignal) {
      if (generation > since || signal?.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = (): void => {
          sleepers.delete(done);
          signal?.removeEventListener("abort", done);
          resolve();
        };
        sleepers.add(done);
        signal?.addEventListener("abort", done, { once: true });
      });
    },
    bump() {
      generation += 1;
      for (const wake of [...sleepers]) wake();
    },
    track() {},
    close: async () => {},
    sleeping: () => sleepers.size,
  };
  return notifier satisfies ChangeNotifier;
}

function stubStore(notifier: ChangeNotifier) {
  const queued: Task[] = [];
  let scans = 0;
  let failWith: Error | null = null;
  const store = {
    changes: async () => notifier,
    available: async (options: AvailableOptions = {}) => {
      scans += 1;
      if (failWith) throw failWith;
      return queued.filter((t) => !options.lanes || options.lanes.includes(t.lane));
    },
  } as unknown as Store;
  return { store, queued, scans: () => scans, fail: (error: Error) => (failWith = error) };
}

const task = (id: string, lane: string) => ({ id, lane }) as Task;

/** Let the loop run every step it can without outside events. */
async function drain(): Promise<void> {
  for (let i = 0; i < 20; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

describe("createNextWaiters", () => {
  it("a hundred waiters cost one scan per change, not a hundred", async () => {
    const notifier = fakeNotifier();
    const { store, queued, scans } = stubStore(notifier);
    const waiters = createNextWaiters(store, { safetyPollMs: 60_000 });
    const controller = new AbortController();
    const results = Array.from({ length: 100 }, () => waiters.wait("x", 60_000, controller.signal));
    await drain();
    expect(waiters.pending()).toBe(100);
    const afterStart = scans();
    expect(afterStart).toBeLessThanOrEqual(2);

    for (let i = 0; i < 3; i += 1) {
      notifier.bump();
      await drain();
    }
    expect(scans() - afterStart).toBe(3);

    queued.push(task("t-y", "y"), task("t-x", "x"));
    notifier.bump();
    const answers = await Promise.all(results);
    expect(answers.every((t) => t?.id === "t-x")).toBe(true);
    expect(waiters.pending()).toBe(0);
    await drain();
    expect(notifier.sleeping()).toBe(0);
  });

  it("answers each waiter with the first task of its own lane; others keep waiting", async () => {
    const notifier = fakeNotifier();
    const { store, queued } = stubStore(notifier);
    const waiters = createNextWaiters(store, { safetyPollMs: 60_000 });
    const controller = new AbortController();
    const onA = waiters.wait("a", 60_000, controller.signal);
    const onB = waiters.wait("b", 60_000, controller.signal);
    queued.push(task("a-1", "a"), task("a-2", "a"));
    notifier.bump();
    expect((await onA)?.id).toBe("a-1");
    await drain();
    expect(waiters.pending()).toBe(1);
    controller.abort();
    expect(await onB).toBeNull();
    await drain();
    expect(waiters.pending()).toBe(0);
    expect(notifier.sleeping()).toBe(0);
  });

  it("the last waiter leaving ends the loop's sleep; a new waiter starts it again", async () => {
    const notifier = fakeNotifier();
    const { store, queued } = stubStore(notifier);
    const waiters = createNextWaiters(store, { safetyPollMs: 60_000 });
    const first = new AbortController();
    const gone = waiters.wait("x", 60_000, first.signal);
    await drain();
    expect(notifier.sleeping()).toBe(1);
    first.abort();
    expect(await gone).toBeNull();
    await drain();
    expect(notifier.sleeping()).toBe(0);

    queued.push(task("late", "x"));
    expect((await waiters.wait("x", 60_000, new AbortController().signal))?.id).toBe("late");
  });

  it("times out with null", async () => {
    const notifier = fakeNotifier();
    const { store } = stubStore(notifier);
    const waiters = createNextWaiters(store, { safetyPollMs: 60_000 });
    expect(await waiters.wait("x", 5, new AbortController().signal)).toBeNull();
    expect(waiters.pending()).toBe(0);
  });

  it("a failing scan rejects the waiting requests instead of hanging them", async () => {
    const notifier = fakeNotifier();
    const { store, fail } = stubStore(notifier);
    const waiters = createNextWaiters(store, { safetyPollMs: 60_000 });
    const pending = waiters.wait("x", 60_000, new AbortController().signal);
    await drain();
    fail(new Error("queue unreadable"));
    notifier.bump();
    await expect(pending).rejects.toThrow("queue unreadable");
    expect(waiters.pending()).toBe(0);
  });
});
