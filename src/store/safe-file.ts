// Opening files the store does not control without being hung, flooded or
// redirected by them. Request, supporting, prompt and task files are named by
// users and live in a workspace that agents write: one may be a FIFO (an
// open or a read blocks forever), a device or kernel file (/dev/zero,
// /proc/self/pagemap: endless or huge), or a sparse giant. The store's own
// files (lock, events.jsonl) may have been replaced by a symbolic link that
// points elsewhere. Every open here is O_NONBLOCK (a FIFO never blocks the
// open), checked with fstat on the descriptor actually opened, and every read
// is bounded.

import { createHash } from "node:crypto";
import { closeSync, constants, existsSync, fstatSync, openSync, promises as fs, readFileSync, readlinkSync, readSync, realpathSync, statSync, type Stats } from "node:fs";
import { UnsafeFileError } from "./errors.js";

/** Default of `request_max_bytes` in handoff.yaml: the largest request, supporting, prompt or task file read. @default 8 MiB */
export const DEFAULT_REQUEST_MAX_BYTES = 8 * 1024 * 1024;

/** Kernel and device file systems: never a request, whatever fstat says (/proc files claim to be regular, size 0). */
const SPECIAL_ROOTS = ["/proc", "/sys", "/dev"];

const CHUNK_BYTES = 64 * 1024;
/**
 * A regular file at most this large is opened, checked and read with plain
 * system calls: a request is usually a few KiB, and the thread pool's round
 * trip for each open, fstat, readlink, read and close cost more CPU than the
 * calls themselves (a dispatched task reads its request three times). A
 * larger file is read in chunks on the thread pool, so a slow disk never
 * stalls the event loop for long.
 */
const SYNC_READ_MAX_BYTES = 256 * 1024;
const HAS_PROC_FD = process.platform === "linux" && existsSync("/proc/self/fd");

function kindOf(stat: Stats): string {
  if (stat.isDirectory()) return "a folder";
  if (stat.isFIFO()) return "a FIFO (named pipe)";
  if (stat.isCharacterDevice()) return "a character device";
  if (stat.isBlockDevice()) return "a block device";
  if (stat.isSocket()) return "a socket";
  if (stat.isSymbolicLink()) return "a symbolic link";
  return "not a regular file";
}

function underSpecialRoot(real: string): string | null {
  return SPECIAL_ROOTS.find((root) => real === root || real.startsWith(`${root}/`)) ?? null;
}

/** The path of what `handle` really is (Linux: the kernel's view, immune to renames and symlink swaps). */
async function realPathOf(handle: fs.FileHandle, file: string): Promise<string> {
  if (HAS_PROC_FD) {
    const real = await fs.readlink(`/proc/self/fd/${handle.fd}`).catch(() => null);
    if (real !== null) return real;
  }
  return fs.realpath(file).catch(() => file);
}

export interface RegularFileOptions {
  /** Names the file in messages: "request_path", "--prompt-file", "task file"... */
  label: string;
  /** Refuse files larger than this. @default DEFAULT_REQUEST_MAX_BYTES */
  maxBytes?: number;
  /** The task the file belongs to, for the error. */
  taskId?: string;
}

/** realPathOf with plain system calls. */
function realPathOfFd(fd: number, file: string): string {
  if (HAS_PROC_FD) {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      // fall through
    }
  }
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

/** The refusal of what fstat and the kernel say `file` is, or null for a regular file outside the special roots within `maxBytes`. */
function refusal(file: string, stat: Stats, real: () => string, options: RegularFileOptions): Error | null {
  // A folder fails as reading one always has (EISDIR), so callers keep their "is a folder" message.
  if (stat.isDirectory()) return Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${file}'`), { code: "EISDIR", path: file });
  if (!stat.isFile()) return new UnsafeFileError(file, `${options.label} must be a regular file: ${file} is ${kindOf(stat)}`, { taskId: options.taskId });
  const special = underSpecialRoot(real());
  if (special !== null) {
    return new UnsafeFileError(file, `${options.label} must be a regular file: ${file} lies under ${special} (kernel and device files are refused)`, { taskId: options.taskId });
  }
  if (stat.size > (options.maxBytes ?? DEFAULT_REQUEST_MAX_BYTES)) return tooLarge(file, options, stat.size);
  return null;
}

/**
 * The whole content of a small user-named regular file read with plain
 * system calls (the same checks as openRegularFile), or null when it is
 * larger than SYNC_READ_MAX_BYTES (the caller reads it on the thread pool).
 */
function readSmallRegularFile(file: string, options: RegularFileOptions): Buffer | null {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    const refused = refusal(file, stat, () => realPathOfFd(fd, file), options);
    if (refused) throw refused;
    if (stat.size > SYNC_READ_MAX_BYTES) return null;
    // Bounded like readChunks: a file that grew past the limit since the fstat is refused too.
    const limit = Math.min(options.maxBytes ?? DEFAULT_REQUEST_MAX_BYTES, SYNC_READ_MAX_BYTES);
    const buffer = Buffer.allocUnsafe(Math.max(stat.size, 4096) + 1);
    let total = 0;
    for (;;) {
      if (total === buffer.length) return null; // it grew while read: the chunked reader decides
      const bytesRead = readSync(fd, buffer, total, buffer.length - total, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > limit) {
        if (total > (options.maxBytes ?? DEFAULT_REQUEST_MAX_BYTES)) throw tooLarge(file, options, null);
        return null;
      }
    }
    return Buffer.from(buffer.subarray(0, total));
  } finally {
    closeSync(fd);
  }
}

/**
 * Open a user-named file for reading: a regular file outside /proc, /sys and
 * /dev, at most `maxBytes`; symlinks are followed (the check is on what was
 * opened). ENOENT and friends are thrown as they are.
 */
export async function openRegularFile(file: string, options: RegularFileOptions): Promise<{ handle: fs.FileHandle; stat: Stats }> {
  const maxBytes = options.maxBytes ?? DEFAULT_REQUEST_MAX_BYTES;
  const handle = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = await handle.stat();
    const real = stat.isFile() ? await realPathOf(handle, file) : file;
    const refused = refusal(file, stat, () => real, { ...options, maxBytes });
    if (refused) throw refused;
    return { handle, stat };
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

function tooLarge(file: string, options: RegularFileOptions, size: number | null): UnsafeFileError {
  const maxBytes = options.maxBytes ?? DEFAULT_REQUEST_MAX_BYTES;
  const has = size === null ? "grew past it while being read" : `has ${size} bytes`;
  return new UnsafeFileError(file, `${options.label} is larger than ${maxBytes} bytes (request_max_bytes in handoff.yaml): ${file} ${has}`, {
    taskId: options.taskId,
    code: "file_too_large",
  });
}

/** Feed the file to `sink` in chunks, at most maxBytes in all (a file growing while read is refused too). */
async function readChunks(handle: fs.FileHandle, file: string, options: RegularFileOptions, sink: (chunk: Buffer) => void): Promise<void> {
  const maxBytes = options.maxBytes ?? DEFAULT_REQUEST_MAX_BYTES;
  const buffer = Buffer.alloc(CHUNK_BYTES);
  let total = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
    if (bytesRead === 0) return;
    total += bytesRead;
    if (total > maxBytes) throw tooLarge(file, options, null);
    sink(Buffer.from(buffer.subarray(0, bytesRead)));
  }
}

/** The whole content of a user-named regular file (bounded). */
export async function readRegularFile(file: string, options: RegularFileOptions): Promise<Buffer> {
  const small = readSmallRegularFile(file, options);
  if (small !== null) return small;
  const { handle } = await openRegularFile(file, options);
  try {
    const chunks: Buffer[] = [];
    await readChunks(handle, file, options, (chunk) => chunks.push(chunk));
    return Buffer.concat(chunks);
  } finally {
    await handle.close();
  }
}

/** sha256 of a user-named regular file, streamed and bounded; null when it does not exist. */
export async function hashRegularFile(file: string, options: RegularFileOptions): Promise<string | null> {
  const missing = (error: unknown): null => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw error;
  };
  let small: Buffer | null;
  try {
    small = readSmallRegularFile(file, options);
  } catch (error) {
    return missing(error);
  }
  if (small !== null) return createHash("sha256").update(small).digest("hex");
  let opened;
  try {
    opened = await openRegularFile(file, options);
  } catch (error) {
    return missing(error);
  }
  const hash = createHash("sha256");
  try {
    await readChunks(opened.handle, file, options, (chunk) => hash.update(chunk));
  } finally {
    await opened.handle.close();
  }
  return hash.digest("hex");
}

/** The store's own files are opened with plain system calls: they are small
 * local files, and a thread-pool round trip for each open, fstat, read and
 * close cost more CPU than the calls themselves (the queue does dozens a task). */
function ownOpenError(file: string, error: unknown, verb: "open" | "read"): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ELOOP" || code === "EMLINK") {
    const tail = verb === "open" ? " (the queue's own files are never followed; remove the link)" : " (the queue's own files are never followed)";
    return new UnsafeFileError(file, `refusing to ${verb} ${file}: it is a symbolic link${tail}`, { cause: error });
  }
  if (verb === "open" && code === "ENXIO") return new UnsafeFileError(file, `refusing to open ${file}: it is a FIFO, not a regular file (remove it)`, { cause: error });
  return error;
}

/**
 * Open one of the store's own files (lock, events.jsonl), creating it 0600 if
 * missing, never through a symbolic link at its last component and never
 * blocking on a FIFO. `flags` are added to O_CREAT | O_NOFOLLOW | O_NONBLOCK.
 * Returns the descriptor; the caller closes it.
 */
export function openOwnFd(file: string, flags: number): number {
  let fd: number;
  try {
    fd = openSync(file, flags | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
  } catch (error) {
    throw ownOpenError(file, error, "open");
  }
  let stat: Stats | null = null;
  try {
    stat = fstatSync(fd);
  } catch {
    // as before: an fstat failure is not a refusal
  }
  if (stat && !stat.isFile()) {
    closeSync(fd);
    throw new UnsafeFileError(file, `refusing to open ${file}: it is ${kindOf(stat)}, not a regular file (remove it)`);
  }
  return fd;
}

/**
 * True when `file` is a regular file (a symbolic link is followed); false when
 * it is missing, something else, or cannot be looked at. A plain system call,
 * as for every small file of the store's own: a thread-pool round trip costs
 * more CPU than the stat it carries (docs/write-path.md).
 */
export function isRegularFile(file: string): boolean {
  try {
    return statSync(file, { throwIfNoEntry: false })?.isFile() === true;
  } catch {
    return false;
  }
}

/**
 * Read one of the store's own files (task.json, response.json, events.jsonl)
 * as text: never through a symbolic link at its last component, never a FIFO
 * or device. ENOENT and ENOTDIR are thrown as they are.
 */
export async function readOwnFile(file: string): Promise<string> {
  return readOwnFileWithStat(file).text;
}

/** readOwnFile, synchronously, with the fstat of what was read (its identity). */
export function readOwnFileWithStat(file: string): { text: string; stat: Stats } {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    throw ownOpenError(file, error, "read");
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new UnsafeFileError(file, `refusing to read ${file}: it is ${kindOf(stat)}, not a regular file`);
    return { text: readToEnd(fd, stat.size).toString("utf8"), stat };
  } finally {
    closeSync(fd);
  }
}

/** The rest of `fd` read with plain system calls, `size` (its fstat) telling how much to expect: no second fstat, one read while the size holds. */
function readToEnd(fd: number, size: number): Buffer {
  let buffer = Buffer.allocUnsafe(size + 1);
  let total = 0;
  for (;;) {
    const want = buffer.length - total;
    const bytesRead = readSync(fd, buffer, total, want, null);
    total += bytesRead;
    // A regular file's short read is its end, as it was when read (writers replace these files, or append whole lines).
    if (bytesRead < want) return buffer.subarray(0, total);
    const bigger = Buffer.allocUnsafe(buffer.length * 2);
    buffer.copy(bigger, 0, 0, total);
    buffer = bigger;
  }
}
