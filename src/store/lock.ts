// An exclusive flock(2) on <queue>/lock, the lock Python's fcntl.flock takes.
// Node has no flock binding and fcntl/OFD locks do not exclude flock on Linux,
// so libc's flock is called through koffi. A free lock is taken with a
// non-blocking call; a held one is waited for on a libuv worker thread, so the
// event loop never blocks. Inside one process, holders queue on a promise
// chain per lock file: only one worker thread ever waits per file.

import { promises as fs } from "node:fs";
import { createRequire } from "node:module";

const LOCK_EX = 2;
const LOCK_NB = 4;

type FlockFn = ((fd: number, op: number) => number) & {
  async(fd: number, op: number, callback: (error: unknown, result: number) => void): void;
};

let flockFn: FlockFn | undefined;

/** Load libc's flock once, on first use (keeps one-shot commands that take no lock fast). */
function loadFlock(): FlockFn {
  if (flockFn) return flockFn;
  const require = createRequire(import.meta.url);
  const koffi = require("koffi") as {
    load(name: string): { func(signature: string): unknown };
  };
  const libcName = process.platform === "darwin" ? "libc.dylib" : "libc.so.6";
  flockFn = koffi.load(libcName).func("int flock(int fd, int op)") as FlockFn;
  return flockFn;
}

function flockAsync(fn: FlockFn, fd: number, op: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fn.async(fd, op, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

const chains = new Map<string, Promise<void>>();

/**
 * Run `body` while holding an exclusive flock on `lockPath` (created 0600 if
 * missing). The lock is released by closing the descriptor, also when `body` throws.
 */
export async function withLock<T>(lockPath: string, body: () => Promise<T>): Promise<T> {
  const previous = chains.get(lockPath) ?? Promise.resolve();
  let releaseTurn!: () => void;
  const turn = new Promise<void>((resolve) => (releaseTurn = resolve));
  const chained = previous.then(() => turn);
  chains.set(lockPath, chained);
  await previous;
  try {
    const handle = await acquire(lockPath);
    try {
      return await body();
    } finally {
      await handle.close();
    }
  } finally {
    releaseTurn();
    if (chains.get(lockPath) === chained) chains.delete(lockPath);
  }
}

async function acquire(lockPath: string): Promise<fs.FileHandle> {
  const handle = await fs.open(lockPath, "a", 0o600);
  try {
    const flock = loadFlock();
    if (flock(handle.fd, LOCK_EX | LOCK_NB) === 0) return handle;
    // Held by another process: wait for it off the main thread. EINTR and
    // friends return -1; retry until the call succeeds.
    for (;;) {
      if ((await flockAsync(flock, handle.fd, LOCK_EX)) === 0) return handle;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}
