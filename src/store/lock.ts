// An exclusive flock(2) on <queue>/lock, the lock Python's fcntl.flock takes.
// Node has no flock binding and fcntl/OFD locks do not exclude flock on Linux,
// so libc's flock is called through koffi. A free lock is taken with a
// non-blocking call; a held one is retried with a short backoff until a
// timeout, so a stuck holder gives a clear error instead of a silent hang.
// Inside one process, holders queue on a promise chain per lock file.

import { closeSync, constants, promises as fs } from "node:fs";
import { LockTimeoutError } from "./errors.js";
import { libcFunction } from "./koffi.js";
import { openOwnFd } from "./safe-file.js";

const LOCK_EX = 2;
const LOCK_NB = 4;

type FlockFn = (fd: number, op: number) => number;

let flockFn: FlockFn | undefined;

/** Load libc's flock once, on first use (keeps one-shot commands that take no lock fast). */
function loadFlock(): FlockFn {
  if (flockFn) return flockFn;
  flockFn = libcFunction<FlockFn>("int flock(int fd, int op)");
  return flockFn;
}

const chains = new Map<string, Promise<void>>();

/** How long writers wait for the queue lock, and when they say so. */
export const LOCK_DEFAULTS = {
  /** Give up (LockTimeoutError) after this long. @default 60_000 */
  timeoutMs: 60_000,
  /** Call onWait once the lock has been waited for this long. @default 2000 */
  noticeAfterMs: 2000,
  /** Longest sleep between two tries of a held lock. @default 50 */
  maxRetryMs: 50,
} as const;

export interface LockWaitInfo {
  lockPath: string;
  waitedMs: number;
  /** The process holding the lock (Linux, from /proc/locks), or null when unknown. */
  holderPid: number | null;
  timeoutMs: number;
}

export interface LockOptions {
  /** @default LOCK_DEFAULTS.timeoutMs */
  timeoutMs?: number;
  /** Called once, when the lock has been waited for noticeAfterMs; its failures are ignored. */
  onWait?: (info: LockWaitInfo) => void;
  /** @default LOCK_DEFAULTS.noticeAfterMs */
  noticeAfterMs?: number;
}

/**
 * Run `body` while holding an exclusive flock on `lockPath` (created 0600 if
 * missing, never through a symlink). The lock is released by closing the
 * descriptor, also when `body` throws. A lock held elsewhere is retried
 * until `timeoutMs`, then LockTimeoutError names the lock file.
 */
export async function withLock<T>(lockPath: string, body: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const previous = chains.get(lockPath) ?? Promise.resolve();
  let releaseTurn!: () => void;
  const turn = new Promise<void>((resolve) => (releaseTurn = resolve));
  const chained = previous.then(() => turn);
  chains.set(lockPath, chained);
  await previous;
  try {
    const fd = await acquire(lockPath, options);
    try {
      return await body();
    } finally {
      closeSync(fd);
    }
  } finally {
    releaseTurn();
    if (chains.get(lockPath) === chained) chains.delete(lockPath);
  }
}

/** The pid holding a flock on the file with inode `ino`, from /proc/locks; null when unknown. */
export async function lockHolderPid(lockPath: string): Promise<number | null> {
  if (process.platform !== "linux") return null;
  try {
    const { ino } = await fs.stat(lockPath);
    const text = await fs.readFile("/proc/locks", "utf8");
    for (const line of text.split("\n")) {
      // "1: FLOCK  ADVISORY  WRITE 12345 08:01:1311 0 EOF"; lines of waiters carry "->".
      const fields = line.trim().split(/\s+/);
      if (fields[1] !== "FLOCK" || fields.includes("->")) continue;
      const dev = fields[5] ?? "";
      if (dev.endsWith(`:${ino}`)) return Number(fields[4]) || null;
    }
  } catch {
    // best effort: the message just names no pid
  }
  return null;
}

/** The lock file's descriptor, holding the flock (closing it lets go). */
async function acquire(lockPath: string, options: LockOptions): Promise<number> {
  const fd = openOwnFd(lockPath, constants.O_WRONLY | constants.O_APPEND);
  try {
    const flock = loadFlock();
    if (flock(fd, LOCK_EX | LOCK_NB) === 0) return fd;
    // Held by another process. A blocking flock on a worker thread could not be
    // given up at the timeout, so retry the non-blocking call with a short backoff.
    const timeoutMs = options.timeoutMs ?? LOCK_DEFAULTS.timeoutMs;
    const noticeAfterMs = options.noticeAfterMs ?? LOCK_DEFAULTS.noticeAfterMs;
    const started = Date.now();
    let noticed = false;
    let delay = 1;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, LOCK_DEFAULTS.maxRetryMs);
      if (flock(fd, LOCK_EX | LOCK_NB) === 0) return fd;
      const waitedMs = Date.now() - started;
      if (waitedMs >= timeoutMs) throw new LockTimeoutError(lockPath, timeoutMs, await lockHolderPid(lockPath));
      if (!noticed && waitedMs >= noticeAfterMs && options.onWait) {
        noticed = true;
        const holderPid = await lockHolderPid(lockPath);
        try {
          options.onWait({ lockPath, waitedMs, holderPid, timeoutMs });
        } catch {
          // an observer never breaks the wait
        }
      }
    }
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}
