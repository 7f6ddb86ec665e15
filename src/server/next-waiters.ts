// Long-polls for "the next task of lane L", coalesced: however many clients
// wait, one loop scans the queue once per change (for all the lanes waited
// on) and hands each waiter the oldest task of its lane. A hundred waiters
// cost a hundred timers and one scan per change, not a hundred scans.

import { toError } from "../store/errors.js";
import type { Store, Task } from "../store/types.js";

export interface NextWaiters {
  /** The oldest available task of `lane`, waiting up to `timeoutMs` for one; null on timeout or abort. */
  wait(lane: string, timeoutMs: number, signal: AbortSignal): Promise<Task | null>;
  /** Waiters not yet answered (0 once every client is gone). */
  pending(): number;
}

interface Waiter {
  lane: string;
  settle(result: Task | null | Error): void;
}

export function createNextWaiters(store: Store, options: { safetyPollMs: number }): NextWaiters {
  const waiters = new Set<Waiter>();
  let running = false;
  let rescan = false;
  let sleeping: AbortController | null = null;

  async function loop(): Promise<void> {
    try {
      const notifier = await store.changes();
      while (waiters.size > 0) {
        rescan = false;
        // Read the generation before looking, so a change during the scan wakes the next wait at once.
        const since = notifier.generation;
        const lanes = [...new Set([...waiters].map((w) => w.lane))];
        const tasks = await store.available({ lanes });
        for (const waiter of [...waiters]) {
          const task = tasks.find((t) => t.lane === waiter.lane);
          if (task) waiter.settle(task);
        }
        if (waiters.size === 0 || rescan) continue;
        sleeping = new AbortController();
        await notifier.wait(options.safetyPollMs, since, sleeping.signal);
        sleeping = null;
      }
    } catch (error) {
      for (const waiter of [...waiters]) waiter.settle(toError(error));
    } finally {
      // No await between the last `waiters.size` check and here: a waiter added
      // later finds `running` false and starts a fresh loop.
      running = false;
      sleeping = null;
    }
  }

  /** Make the loop look again now (a new waiter), starting it if idle. */
  const kick = (): void => {
    rescan = true;
    sleeping?.abort();
    if (!running) {
      running = true;
      void loop();
    }
  };

  return {
    wait(lane, timeoutMs, signal) {
      if (signal.aborted) return Promise.resolve(null);
      return new Promise<Task | null>((resolve, reject) => {
        const waiter: Waiter = { lane, settle };
        const timer = setTimeout(() => settle(null), timeoutMs);
        const onAbort = (): void => settle(null);
        signal.addEventListener("abort", onAbort, { once: true });
        function settle(result: Task | null | Error): void {
          if (!waiters.delete(waiter)) return;
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          // The last waiter gone: end the loop's sleep so no timer outlives the clients.
          if (waiters.size === 0) sleeping?.abort();
          if (result instanceof Error) reject(result);
          else resolve(result);
        }
        waiters.add(waiter);
        kick();
      });
    },
    pending: () => waiters.size,
  };
}
