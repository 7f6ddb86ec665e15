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
// The batch travels explicitly, on the transition's StoreContext
// (context.ts's locked() hands the body a context carrying it), not through
// AsyncLocalStorage: once an AsyncLocalStorage is used, Node runs a promise
// hook for every promise of the process, which cost the dispatcher about
// half a millisecond of CPU a task.

import { fsync } from "node:fs";

/** fsync(2) on the thread pool: the one call of a write that waits for the disk. */
export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));
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
