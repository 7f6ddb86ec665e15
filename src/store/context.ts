// What every transition needs: the queue's paths, its lock, and the rules for
// reading, writing and checking a task, in one place.

import { writeJsonAtomic } from "./atomic.js";
import { withSyncBatch, type SyncBatch } from "./durability.js";
import { appendEventLine } from "./events.js";
import type { QueuePaths } from "./layout.js";
import { withLock, type LockOptions } from "./lock.js";
import { readTaskFile } from "./records.js";
import { UnsafeFileError } from "./errors.js";
import { hashRegularFile } from "./safe-file.js";
import type { SpareFiles } from "./spare-files.js";
import { parseIso } from "./time.js";
import type { EventInput, Task, TaskEvent } from "./types.js";

export interface StoreContext {
  paths: QueuePaths;
  /** Injected clock for tests. */
  now(): Date;
  /** The current time as a protocol timestamp (microseconds with the real clock). */
  stamp(): string;
  /** Called after every successful mutation (cache invalidation, local wake-ups). */
  onWrite(taskId: string): void;
  /** Lock timeout and the "waiting for the lock" notice. */
  lock: LockOptions;
  /** Largest request or supporting file hashed. */
  requestMaxBytes: number;
  /** Inside a locked transition: its fsync batch (durability.ts), which the writes below join. */
  batch?: SyncBatch;
  /** A long-running process's recycled files (spare-files.ts) for task.json and response.json writes. */
  spares?: SpareFiles;
}

/**
 * Run `body` under the queue's flock, its fsyncs grouped (durability.ts):
 * resolves once everything it wrote is on disk, the last fsyncs waited for
 * after the lock is released. The body gets the transition's context (the
 * store's, carrying the batch): writes through it join the batch, writes
 * through any other fsync inline.
 */
export function locked<T>(ctx: StoreContext, body: (tx: StoreContext) => Promise<T>): Promise<T> {
  return withSyncBatch((inside) => withLock(ctx.paths.lock, inside, ctx.lock), (batch) => body({ ...ctx, batch }));
}

export function loadTask(ctx: StoreContext, taskId: string): Promise<Task> {
  return readTaskFile(ctx.paths.taskFile(taskId), taskId);
}

/** Atomically rewrite task.json (unknown keys included, as they were read). */
export async function saveTask(ctx: StoreContext, task: Task): Promise<void> {
  await writeJsonAtomic(ctx.paths.taskFile(task.id), task, { batch: ctx.batch, spares: ctx.spares });
}

/**
 * Append an event to a task; the caller holds the lock. Transitions append
 * their event BEFORE renaming the new task.json into place, so a reader that
 * sees a state (without the lock) always finds its event already logged.
 */
export function addEvent(ctx: StoreContext, taskId: string, event: EventInput): Promise<TaskEvent> {
  return appendEventLine(ctx.paths.eventsFile(taskId), event, undefined, ctx.batch);
}

/** A claimed task whose lease is missing, unreadable or in the past. */
export function leaseExpired(task: Task, now: Date): boolean {
  if (task.state !== "claimed") return false;
  const expires = parseIso(task.lease_expires_at);
  return expires === null || expires.getTime() <= now.getTime();
}

/** Queued, or claimed under an expired lease: what next/claim may take. */
export function isClaimable(task: Task, now: Date): boolean {
  return task.state === "queued" || leaseExpired(task, now);
}

export function isTerminal(task: Task): boolean {
  return task.state === "completed" || task.state === "failed";
}

/**
 * sha256 of a task's request file, streamed and bounded, or null when it is
 * missing. Called under the lock: a request swapped for a FIFO, a device or a
 * huge file throws UnsafeFileError at once instead of blocking every command.
 */
export async function sha256File(ctx: StoreContext, file: string, taskId: string): Promise<string | null> {
  try {
    return await hashRegularFile(file, { label: "request_path", maxBytes: ctx.requestMaxBytes, taskId });
  } catch (error) {
    // A request path that became a folder or unreadable (or a task.json naming one) is the task's problem,
    // reported as a StoreError naming it, never a raw errno out of claim, respond or cancel.
    const what = UNREADABLE[(error as NodeJS.ErrnoException).code ?? ""];
    if (what) throw new UnsafeFileError(file, `request_path of task ${taskId} ${what}: ${file} (restore the request file or resubmit the task)`, { taskId, cause: error });
    throw error;
  }
}

const UNREADABLE: Record<string, string> = {
  EISDIR: "is a folder, not a file",
  EACCES: "cannot be read (permission denied)",
  EPERM: "cannot be read (operation not permitted)",
  ELOOP: "has too many symbolic links",
  ENAMETOOLONG: "has a name that is too long",
};
