// Recycled files for the atomic writes of a long-running process (dispatch,
// serve): each rename over task.json frees the file it displaces, and the
// next write makes a new one. On ext4 without a journal, making a file skips
// every inode of its block group freed in the last minutes; on a machine
// whose other work removes many files that is 0.5-0.9 ms of CPU a file, and a
// dispatched task makes three (task.json twice, response.json). So the file a
// rename displaces is kept under a private name (a hard link made just
// before the rename), and a later write into the same queue is written into
// it instead of a new file, then renamed to its `.<name>.<hex>.tmp` name and
// on, exactly as a new temp file would be (same bytes, same fsyncs).
//
// A displaced file may still be open: a reader (of any process, the Python
// tool's included) that opened the old task.json before the rename reads it
// after. So a spare is reused only when nobody else has it open, which the
// kernel tells exactly: a write lease (fcntl F_SETLEASE) is granted only when
// no other descriptor or mapping of the file exists, and is given back at
// once. Nobody can open it after that: its only name is the private one. It
// must also be a plain file of ours with no other name (a backup's hard link
// would be written through) and the mode the writer wants, and have been
// displaced at least MIN_AGE_MS ago: its new mtime is then later than any it
// had, so a cache that knows a task file by (inode, mtime, size) sees a
// change even when the same inode comes back under the same name.
//
// Linux only (leases); elsewhere every write makes a new file, as before.

import { closeSync, constants, fstatSync, ftruncateSync, linkSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { libcFunction } from "./koffi.js";

/** Spare file names: `.spare-<pid>-<n>` (also the run records' spares, supervisor/sweep.ts). */
const SPARE_NAME = /^\.spare-(\d+)-\d+$/;

/** A displaced file is reused no sooner than this (see the top of the file). */
const MIN_AGE_MS = 100;
/** More spares than this at once are not kept (the displaced file is freed as before). */
const MAX_SPARES = 256;

/** Numbers the spares of every store of this process (several may share a folder). */
let spareCount = 0;

const F_SETLEASE = 1024;
const F_WRLCK = 1;
const F_UNLCK = 2;

type FcntlFn = (fd: number, cmd: number, type: "int", arg: number) => number;
let fcntlFn: FcntlFn | null | undefined;

/** libc's fcntl, or null where leases are not available (then nothing is reused). */
function loadFcntl(): FcntlFn | null {
  if (fcntlFn !== undefined) return fcntlFn;
  try {
    fcntlFn = process.platform === "linux" ? libcFunction<FcntlFn>("int fcntl(int fd, int cmd, ...)") : null;
  } catch {
    fcntlFn = null;
  }
  return fcntlFn;
}

/** True when no other descriptor or mapping of the file open on `fd` (for writing) exists: a write lease is granted, then given back. */
function nobodyElseHasOpen(fd: number, fcntl: FcntlFn): boolean {
  if (fcntl(fd, F_SETLEASE, "int", F_WRLCK) !== 0) return false;
  fcntl(fd, F_SETLEASE, "int", F_UNLCK);
  return true;
}

/** Remove the spares in `dir` of processes that are gone (one that died kept its spares). */
export function removeDeadSpares(dir: string, names: readonly string[], isAlive: (pid: number) => boolean): void {
  for (const name of names) {
    const owner = SPARE_NAME.exec(name)?.[1];
    if (owner !== undefined && Number(owner) !== process.pid && !isAlive(Number(owner))) rmSync(path.join(dir, name), { force: true });
  }
}

/** link(2) `target` as `file`; a file already there under our pid is a dead process's that had the same pid: replaced. */
function linkTo(target: string, file: string): void {
  try {
    linkSync(target, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    rmSync(file, { force: true });
    linkSync(target, file);
  }
}

/** process.kill(pid, 0) says whether a process exists (EPERM: it does, not ours); a zombie counts. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Open a spare for rewriting: its descriptor and mode when it is a plain
 * file of ours with no other name (a hard link made meanwhile would be
 * written through); null when it is not, or is gone (the caller removes it).
 */
export function openOwnSpare(file: string): { fd: number; mode: number } | null {
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    if (st.isFile() && st.nlink === 1 && st.uid === process.getuid?.()) return { fd, mode: st.mode & 0o7777 };
  } catch {
    // gone, or not openable
  }
  if (fd !== undefined) closeSync(fd);
  return null;
}

/** Write `data` over the old bytes of the file open on `fd`, then cut it to length (emptying it first would free its block and take another). */
export function overwrite(fd: number, data: Uint8Array): void {
  writeSync(fd, data, 0, data.length, 0);
  ftruncateSync(fd, data.length);
}

export interface SpareFiles {
  /**
   * Write `data` into a spare of mode `mode` and rename it to `tmp`; the
   * descriptor is still open (for the fsync). Null when no spare is usable:
   * the caller makes a new file.
   */
  writeInto(tmp: string, data: Uint8Array, mode: number): number | null;
  /** `target` is about to be displaced by a rename: keep its file as a spare. Returns the spare's name, or null. */
  keep(target: string): string | null;
  /** The rename did not happen after all: drop that spare (it is still `target`). */
  forget(spare: string): void;
  /** Remove every spare (the process is stopping). */
  close(): void;
}

/** Spares in `dir` (created on first use); this process's own, named `.spare-<pid>-<n>`. */
export function spareFiles(dir: string, now: () => number = Date.now): SpareFiles {
  const kept: { file: string; at: number }[] = [];
  /** Null until the folder is made; false once keeping failed for good (no folder, another file system). */
  let usable: boolean | null = null;

  const ready = (): boolean => {
    if (usable !== null) return usable;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      removeDeadSpares(dir, readdirSync(dir), processExists);
      usable = loadFcntl() !== null;
    } catch {
      usable = false;
    }
    return usable;
  };

  /** The oldest spare once it is old enough, opened for writing and checked; null when there is none. */
  const takeOne = (mode: number): { file: string; fd: number } | null => {
    const fcntl = loadFcntl();
    while (fcntl && kept.length > 0 && now() - (kept[0] as { at: number }).at >= MIN_AGE_MS) {
      const { file } = kept.shift() as { file: string };
      const spare = openOwnSpare(file);
      if (spare && spare.mode === mode && nobodyElseHasOpen(spare.fd, fcntl)) return { file, fd: spare.fd };
      if (spare) closeSync(spare.fd);
      rmSync(file, { force: true });
    }
    return null;
  };

  return {
    writeInto(tmp, data, mode) {
      const spare = takeOne(mode);
      if (!spare) return null;
      try {
        overwrite(spare.fd, data);
        // Moved in with fresh contents and mtime, under the name a new temp file would have.
        renameSync(spare.file, tmp);
        return spare.fd;
      } catch {
        closeSync(spare.fd);
        rmSync(spare.file, { force: true });
        return null;
      }
    },
    keep(target) {
      if (kept.length >= MAX_SPARES || !ready()) return null;
      const file = path.join(dir, `.spare-${process.pid}-${(spareCount += 1)}`);
      try {
        linkTo(target, file);
      } catch (error) {
        // No file to displace (a first response.json) is the common case; anything else (another file system) ends keeping.
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") usable = false;
        return null;
      }
      kept.push({ file, at: now() });
      return file;
    },
    forget(file) {
      const at = kept.findIndex((spare) => spare.file === file);
      if (at >= 0) kept.splice(at, 1);
      rmSync(file, { force: true });
    },
    close() {
      for (const { file } of kept.splice(0)) rmSync(file, { force: true });
    },
  };
}
