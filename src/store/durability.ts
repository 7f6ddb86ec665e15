// Group commit for the writes of one locked transition. Every fsync a
// transition makes is kept; what changes is when the transition waits for it:
//
// - An event line's fsync starts as soon as the line is written, and runs
//   alongside the next file's fsync instead of before it.
// - A rename into place still waits for everything written before it in the
//   transition (its own temp file's fsync, earlier event lines, and the
//   folder fsync of an earlier rename): a crash never leaves a task.json that
//   is durable while what precedes it (its event, response.json) is not.
// - The folder fsync after the transition's last rename, and the fsyncs of
//   event lines written last, are waited for right after the queue lock is
//   released, before the transition returns to its caller.
//
// So the lock is held for one or two fsync round trips per transition
// instead of three to five, concurrent transitions share the journal commits
// (ext4 and most journaling file systems commit concurrent fsyncs together),
// and a caller still never sees a transition return before all of it is on disk.
//
// Outside a locked transition (no batch) writers fsync inline as before.
//
// The overlap matters only while fsyncs are slow: a fast one (under
// SLOW_FSYNC_MS, below) is made in place, in order, and the batch's
// promises are already settled when they are waited for.
//
// The batch travels explicitly, on the transition's StoreContext
// (context.ts's locked() hands the body a context carrying it), not through
// AsyncLocalStorage: once an AsyncLocalStorage is used, Node runs a promise
// hook for every promise of the process, which cost the dispatcher about
// half a millisecond of CPU a task.

import { fsync, fsyncSync } from "node:fs";

// fsync(2) is called in place while the disk answers quickly: a transition
// waits for each fsync before its next step anyway, and a thread-pool round
// trip (a futex wake-up, the worker, an eventfd write, an epoll wake-up and a
// promise) cost more CPU than the call itself (here ~40 us more an fsync of
// ~90 us; a dispatched task makes nine). When the fsyncs are slow on
// average (a busy or remote disk; a moving average, so the odd slow one on
// a busy machine does not count), the next second of them goes to the
// thread pool, so a slow disk never stalls the event loop for long.
const SLOW_FSYNC_MS = 2;
const AVERAGE_WEIGHT = 0.1;
const THREAD_POOL_FOR_MS = 1000;
let averageMs = 0;
let threadPoolUntil = 0;

/** fsync(2) on the thread pool. */
function fsyncInPool(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));
}

/** fsync(2): the one call of a write that waits for the disk; in place while the disk is fast, else on the thread pool. */
export function fsyncFd(fd: number): Promise<void> {
  if (threadPoolUntil !== 0) {
    if (Date.now() < threadPoolUntil) return fsyncInPool(fd);
    // Try in place again, from an average that a few more slow fsyncs push back over.
    threadPoolUntil = 0;
    averageMs = SLOW_FSYNC_MS / 2;
  }
  const started = performance.now();
  try {
    fsyncSync(fd);
  } catch (error) {
    return Promise.reject(error);
  }
  averageMs += (performance.now() - started - averageMs) * AVERAGE_WEIGHT;
  if (averageMs > SLOW_FSYNC_MS) threadPoolUntil = Date.now() + THREAD_POOL_FOR_MS;
  return Promise.resolve();
}

/** The fsyncs a transition has started and not yet waited for. */
export interface SyncBatch {
  /** Started fsyncs (event lines, folders); a failed one fails the transition. */
  pending: Promise<void>[];
}

/** Start `sync` in the batch, or run it inline when there is none. */
export async function syncLater(batch: SyncBatch | undefined, sync: () => Promise<void>): Promise<void> {
  if (!batch) return sync();
  const started = sync();
  // Waited for later; marked handled now so a failure before then is not an unhandled rejection.
  started.catch(() => undefined);
  batch.pending.push(started);
}

/** Wait for every fsync the batch has started so far; throws the first failure once all have settled. */
export async function settleBatch(batch: SyncBatch): Promise<void> {
  while (batch.pending.length > 0) {
    const results = await Promise.allSettled(batch.pending.splice(0));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }
}

/**
 * Run `locked(body)` with a fresh batch handed to the body: fsyncs the body
 * starts in it are waited for once `locked` has released the lock (and
 * before this resolves or throws).
 */
export async function withSyncBatch<T>(locked: (body: () => Promise<T>) => Promise<T>, body: (batch: SyncBatch) => Promise<T>): Promise<T> {
  const batch: SyncBatch = { pending: [] };
  try {
    return await locked(() => body(batch));
  } finally {
    await settleBatch(batch);
  }
}
