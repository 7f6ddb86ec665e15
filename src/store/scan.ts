// The scanner behind list/next/available. A queue may hold ten thousand
// finished tasks and be polled every few seconds, so parsed tasks are cached:
// a terminal task never changes again (no transition leaves completed or
// failed), so it is never re-read; any other task is re-read only when its
// task.json's (inode, mtime, size) changed — every writer replaces the file by
// rename, so a rewrite always changes the inode.
//
// The listing itself is reused while the tasks folder's (inode, mtime) is
// unchanged. File-system clocks are coarse, so two changes can share one
// mtime; like git's "racy" index entries, an mtime is only trusted once it is
// older than RACY_WINDOW_MS at the moment it was read — any later change then
// necessarily moves it.

import type { Dirent } from "node:fs";
import { promises as fs } from "node:fs";
import path from "node:path";
import { isValidTaskId } from "./layout.js";
import { normalizeTask, parseJson } from "./records.js";
import { readOwnFile } from "./safe-file.js";
import type { ScanProblem, Task } from "./types.js";

interface Entry {
  ino: number;
  mtimeMs: number;
  size: number;
  task: Task | null;
  problem: ScanProblem | null;
  /** created_at normalised so string order is time order, then the id. */
  order: string;
}

export interface ScanResult {
  /** Every readable task, in no particular order. */
  tasks: Task[];
  problems: ScanProblem[];
}

export interface Scanner {
  /** Read the tasks folder. Needs no lock: every writer replaces files by rename. */
  scan(): Promise<ScanResult>;
  /** Sort key: oldest first by created_at, then id. */
  order(task: Task): string;
  clear(): void;
}

function orderKey(task: Task): string {
  const m = /^(.*?T\d{2}:\d{2}:\d{2})(?:\.(\d+))?/.exec(task.created_at);
  const stamp = m ? `${m[1]}.${(m[2] ?? "").padEnd(6, "0").slice(0, 6)}` : task.created_at;
  return `${stamp}\u0000${task.id}`;
}

function isTerminal(task: Task | null): boolean {
  return task !== null && (task.state === "completed" || task.state === "failed");
}

/**
 * A task folder whose task.json is missing this long is reported: a younger one
 * is being created (scans take no lock, and create writes task.json just after
 * making the folder).
 */
const MISSING_TASK_FILE_GRACE_MS = 60_000;

/** The problem a failed stat of `file` (tasks/<id>/task.json) means, or null for a folder still being created. */
async function entryProblem(id: string, file: string, error: unknown): Promise<ScanProblem | null> {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") {
    const folder = await fs.lstat(path.dirname(file)).catch(() => null);
    if (folder === null) return null; // removed meanwhile
    if (folder.isDirectory() && Date.now() - folder.mtimeMs < MISSING_TASK_FILE_GRACE_MS) return null;
    return { taskId: id, file, message: "task.json is missing" };
  }
  const reason =
    code === "EACCES" || code === "EPERM"
      ? "cannot be read: permission denied"
      : code === "ELOOP"
        ? "cannot be read: symbolic link loop"
        : code === "ENOTDIR"
          ? "task.json is missing (the task entry is not a folder)"
          : code === "ENAMETOOLONG"
            ? "cannot be read: name too long"
            : `cannot be read: ${error instanceof Error ? error.message : String(error)}`;
  return { taskId: id, file, message: reason };
}

/** How old the folder's mtime must be before an unchanged mtime proves an unchanged listing. */
const RACY_WINDOW_MS = 2000;

export function createScanner(tasksDir: string): Scanner {
  const cache = new Map<string, Entry>();
  let listing: { ino: number; mtimeMs: number; ids: string[] } | null = null;

  /** Task ids in the folder, from the last listing when the folder provably did not change. */
  async function listIds(): Promise<string[] | null> {
    let dirStat;
    try {
      dirStat = await fs.stat(tasksDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    if (listing && listing.ino === dirStat.ino && listing.mtimeMs === dirStat.mtimeMs) return listing.ids;
    const checkedAt = Date.now();
    const dirents: Dirent[] = await fs.readdir(tasksDir, { withFileTypes: true });
    const ids = dirents
      .filter((d) => !d.name.startsWith(".") && (d.isDirectory() || d.isSymbolicLink()) && isValidTaskId(d.name))
      .map((d) => d.name);
    listing = dirStat.mtimeMs < checkedAt - RACY_WINDOW_MS ? { ino: dirStat.ino, mtimeMs: dirStat.mtimeMs, ids } : null;
    return ids;
  }

  async function readEntry(id: string): Promise<Entry | null> {
    const file = path.join(tasksDir, id, "task.json");
    let stat;
    try {
      stat = await fs.stat(file);
    } catch (error) {
      // One bad entry (an unreadable folder, a symlink loop, a file where a
      // folder belongs) is that entry's problem; the scan goes on with the rest.
      cache.delete(id);
      const problem = await entryProblem(id, file, error);
      return problem ? { ino: 0, mtimeMs: 0, size: 0, task: null, order: "", problem } : null;
    }
    const cached = cache.get(id);
    if (cached && cached.ino === stat.ino && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached;
    let entry: Entry;
    try {
      const task = normalizeTask(parseJson(await readOwnFile(file), file, id), file, id);
      entry = { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size, task, problem: null, order: orderKey(task) };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      entry = { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size, task: null, problem: { taskId: id, file, message }, order: "" };
    }
    cache.set(id, entry);
    return entry;
  }

  async function scan(): Promise<ScanResult> {
    const ids = await listIds();
    if (ids === null) return { tasks: [], problems: [] };
    const seen = new Set<string>(ids);
    const tasks: Task[] = [];
    const problems: ScanProblem[] = [];
    const toRead: string[] = [];
    for (const id of ids) {
      const cached = cache.get(id);
      if (cached && isTerminal(cached.task)) tasks.push(cached.task as Task);
      else toRead.push(id);
    }
    // Bounded parallelism: fast on a cold cache, gentle on the file descriptor table.
    const width = 32;
    for (let i = 0; i < toRead.length; i += width) {
      const entries = await Promise.all(toRead.slice(i, i + width).map(readEntry));
      for (const entry of entries) {
        if (entry?.task) tasks.push(entry.task);
        else if (entry?.problem) problems.push(entry.problem);
      }
    }
    for (const id of cache.keys()) if (!seen.has(id)) cache.delete(id);
    return { tasks, problems };
  }

  return {
    scan,
    order: (task) => cache.get(task.id)?.order ?? orderKey(task),
    clear: () => {
      cache.clear();
      listing = null;
    },
  };
}
