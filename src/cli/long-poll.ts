// The waits behind `wait`, `next` and `watch`: they sleep on the store's
// change notifier (file-system events) and look again only when something
// changed, with a slow safety poll in case an event is missed. An idle wait
// therefore costs next to no CPU however many finished tasks the queue holds
// (the scanner never re-reads a finished task), and a new task or response is
// seen within milliseconds.

import type { Store, Task, TaskResponse } from "../store/types.js";
import { safetyPollMs } from "./options.js";

/** The longest delay setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface HeartbeatOptions {
  /** 0 or less: no heartbeats. */
  intervalMs: number;
  /** Called every interval with the ms waited so far; its failures are ignored (an observer never breaks the wait). */
  beat: (elapsedMs: number) => Promise<void> | void;
}

/**
 * Call `beat` every `intervalMs` until stop(). The timer is re-armed only
 * after the awaited beat, so beats never overlap, and it is unref'd: the wait
 * keeps the process alive, not its heartbeat.
 */
export function startHeartbeat(options: HeartbeatOptions): { stop(): void } {
  const started = Date.now();
  // setTimeout turns anything above 2^31-1 ms into 1 ms: a huge interval must mean "rarely", not "constantly".
  const intervalMs = Math.min(options.intervalMs, MAX_TIMER_MS);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const arm = (): void => {
    if (stopped || intervalMs <= 0) return;
    timer = setTimeout(() => {
      void Promise.resolve()
        .then(() => (stopped ? undefined : options.beat(Date.now() - started)))
        .catch(() => undefined)
        .finally(arm);
    }, intervalMs);
    timer.unref();
  };
  arm();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

export interface LongPollOptions {
  /** Give up after this many ms (0: look once). */
  timeoutMs: number;
  /** Heartbeat interval; 0 or less: none. */
  heartbeatMs?: number;
  onHeartbeat?: (elapsedMs: number) => Promise<void> | void;
  /** Safety poll when no file-system event arrives. @default safetyPollMs() (2000) */
  pollMs?: number;
  signal?: AbortSignal;
}

/** Run `body` with a heartbeat beside it; the heartbeat stops when body settles. */
async function withHeartbeat<T>(options: LongPollOptions, body: () => Promise<T>): Promise<T> {
  const heartbeat = options.onHeartbeat && options.heartbeatMs ? startHeartbeat({ intervalMs: options.heartbeatMs, beat: options.onHeartbeat }) : null;
  try {
    return await body();
  } finally {
    heartbeat?.stop();
  }
}

/**
 * The response of `taskId` as soon as response.json exists (whatever its own
 * status), or null on timeout. Throws for an unknown task and for a failed
 * task without a response (the store's errors).
 */
export function waitForResponse(store: Store, taskId: string, options: LongPollOptions): Promise<TaskResponse | null> {
  return withHeartbeat(options, () => store.waitForResponse(taskId, { timeoutMs: options.timeoutMs, signal: options.signal }));
}

/** The oldest claimable task of `lane` (queued, or claimed under an expired lease), or null on timeout. */
export function waitForLaneTask(store: Store, lane: string, options: LongPollOptions): Promise<Task | null> {
  const pollMs = options.pollMs ?? safetyPollMs();
  return withHeartbeat(options, async () => {
    const deadline = Date.now() + options.timeoutMs;
    const first = await store.next(lane);
    if (first || options.timeoutMs <= 0) return first;
    // The notifier starts only when there is something to wait for: a task
    // already available costs no watcher at all.
    const changes = await store.changes();
    for (;;) {
      // Read the change mark before looking, so a change during the look wakes the next wait.
      const since = changes.generation;
      const task = await store.next(lane);
      if (task) return task;
      const left = deadline - Date.now();
      if (left <= 0 || options.signal?.aborted) return null;
      // A claimed task's lease ends without any file changing: the safety poll notices that.
      await changes.wait(Math.min(pollMs, left), since, options.signal);
    }
  });
}
