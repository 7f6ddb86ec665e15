// Crash-safe file writes: temp file in the same folder, fsync, rename over the
// target, fsync the folder. A reader sees the old file or the new one, never a
// torn one, and a crash never leaves the target half-written.

import { chmodSync, closeSync, fchmodSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fsyncFd, settleBatch, syncLater, type SyncBatch } from "./durability.js";
import { toJsonFile } from "./json.js";
import type { SpareFiles } from "./spare-files.js";

/** Mode of state files under the queue. */
export const STATE_FILE_MODE = 0o600;
/** Mode of folders under the queue. */
export const STATE_DIR_MODE = 0o700;

let tempCount = 0;
/**
 * Sixteen hex digits for a temp file's name: a random half and a counter.
 * Uniqueness comes from O_EXCL (a clash fails, never overwrites), so no
 * cryptographic randomness is needed (it cost ~15 us a file).
 */
function tempSuffix(): string {
  tempCount = (tempCount + 1) >>> 0;
  return `${Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, "0")}${tempCount.toString(16).padStart(8, "0")}`;
}

/**
 * Create a folder (and parents) and make the folders it created `mode` (0700),
 * best effort. A folder that already existed keeps its mode: `--store` may name
 * a shared folder (a 1777 one, say), and the store changes nothing it did not make.
 */
export async function ensureDir(dir: string, mode: number = STATE_DIR_MODE): Promise<void> {
  // Plain system calls: every write makes sure of its folder, and the thread pool's round trip costs more than the mkdir.
  const first = mkdirSync(dir, { recursive: true, mode });
  if (first === undefined) return;
  // mkdir's mode is filtered by the umask: set it on each folder made here, from the first down to `dir`.
  const made = [path.resolve(first)];
  for (const part of path.relative(first, dir).split(path.sep).filter(Boolean)) made.push(path.join(made.at(-1) as string, part));
  for (const folder of made) {
    try {
      chmodSync(folder, mode);
    } catch {
      // best effort
    }
  }
}

/** fsync a folder so a rename inside it survives a power loss; ignored where unsupported. */
export async function fsyncDir(dir: string): Promise<void> {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    await fsyncFd(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface AtomicWriteOptions {
  /** @default 0o600 */
  mode?: number | null;
  /** The locked transition's fsync batch (StoreContext.batch); without one the fsyncs are waited for inline. */
  batch?: SyncBatch;
  /** A long-running process's recycled files (spare-files.ts): the temp file is one of them when it can be, and the displaced target becomes one. */
  spares?: SpareFiles;
}

/** A write on an open file fails without a path (ENOSPC, EDQUOT): name the file it was for. */
export function withPath(error: unknown, file: string): unknown {
  const e = error as NodeJS.ErrnoException;
  if (e instanceof Error && typeof e.code === "string" && e.path === undefined) e.path = file;
  return e;
}

/** `tmp` made (or a spare moved there) holding `data`; returns its open descriptor. */
function writeTemp(tmp: string, data: string | Uint8Array, mode: number | null, spares: SpareFiles | undefined): number {
  if (spares && mode !== null) {
    const fd = spares.writeInto(tmp, typeof data === "string" ? Buffer.from(data) : data, mode);
    if (fd !== null) return fd;
  }
  // Plain system calls for the small steps (a local file of a few hundred
  // bytes); only the fsyncs go to the thread pool.
  const fd = openSync(tmp, "wx", mode ?? 0o666);
  try {
    writeFileSync(fd, data);
    if (mode !== null) {
      try {
        fchmodSync(fd, mode);
      } catch {
        // best effort, as before
      }
    }
  } catch (error) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw error;
  }
  return fd;
}

/** rename(tmp, target); the file it displaces becomes a spare when `spares` is given. */
function renameOver(tmp: string, target: string, spares: SpareFiles | undefined): void {
  const spare = spares?.keep(target) ?? null;
  try {
    renameSync(tmp, target);
  } catch (error) {
    if (spare !== null) spares?.forget(spare);
    rmSync(tmp, { force: true });
    throw error;
  }
}

/**
 * Atomically replace `target` with `data`. In a locked transition's batch
 * (durability.ts) the rename also waits for the fsyncs the transition
 * started before it, and the folder's fsync is waited for after the lock.
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const { batch, spares } = options;
  const mode = options.mode === undefined ? STATE_FILE_MODE : options.mode;
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${tempSuffix()}.tmp`);
  let fd: number;
  try {
    fd = writeTemp(tmp, data, mode, spares);
  } catch (error) {
    throw withPath(error, target);
  }
  try {
    // Earlier writes of the transition become durable before this rename does.
    await (batch ? Promise.all([fsyncFd(fd), settleBatch(batch)]) : fsyncFd(fd));
  } catch (error) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw withPath(error, target);
  }
  closeSync(fd);
  renameOver(tmp, target, spares);
  await syncLater(batch, () => fsyncDir(dir));
}

/** Atomically write `value` as a Python-style JSON file (indent 2, sorted keys, newline), mode 0600; `batch` as writeFileAtomic's. */
export async function writeJsonAtomic(target: string, value: unknown, options: { batch?: SyncBatch; spares?: SpareFiles } = {}): Promise<void> {
  await writeFileAtomic(target, toJsonFile(value), { batch: options.batch, spares: options.spares });
}
