// The scanner behind list/next/available. A queue may hold fifty thousand
// finished tasks and be polled every few seconds, so its cost must follow the
// live tasks, not the history:
//
// - A live task (queued, claimed) is kept parsed and re-read only when its
//   task.json's (inode, mtime, size) changed — every writer replaces the file
//   by rename, so a rewrite always changes the inode.
// - A finished task (completed, failed) never changes state again: the scanner
//   keeps its id and nothing else, and writes one line for it into the
//   summary cache beside the queue (summary-cache.ts). A process that starts
//   on a long-lived queue learns which tasks are finished from that cache,
//   each entry checked against the identity of its task.json, instead of
//   parsing every file.
// - The listing itself is reused while the tasks folder's (inode, mtime) is
//   unchanged. File-system clocks are coarse, so two changes can share one
//   mtime; like git's "racy" index entries, an mtime is only trusted once it
//   is older than RACY_WINDOW_MS at the moment it was read — any later change
//   then necessarily moves it.

import type { Dirent } from "node:fs";
import { promises as fs } from "node:fs";
import path from "node:path";
import { isValidTaskId } from "./layout.js";
import { normalizeTask, parseJson } from "./records.js";
import {
  appendLines,
  cachePaths,
  identityOf,
  indexLine,
  loadIndex,
  needsCompaction,
  rewriteLines,
  sameIdentity,
  statIdentity,
  type IndexEntry,
} from "./summary-cache.js";
import type { ScanProblem, Task } from "./types.js";

interface Entry {
  ino: number;
  mtimeMs: number;
  size: number;
  task: Task | null;
  problem: ScanProblem | null;
  order: string;
}

export interface ScanOptions {
  /**
   * Also return an index entry (state, lane, order) for every finished task,
   * each checked against its task.json's identity. Costs one stat per
   * finished task; without it finished tasks cost nothing.
   */
  finished?: boolean;
}

export interface ScanResult {
  /** Every readable live task (queued or claimed), in no particular order. */
  tasks: Task[];
  /** With `finished: true`: the finished tasks, in no particular order. */
  finished: IndexEntry[];
  /** How many finished tasks the folder holds. */
  finishedCount: number;
  problems: ScanProblem[];
}

export interface Scanner {
  /** Read the tasks folder. */
  scan(options?: ScanOptions): Promise<ScanResult>;
  /** Sort key: oldest first by created_at, then id. */
  order(task: Task): string;
  /** Forget a finished task (prune removed it). */
  forget(taskId: string): void;
  clear(): void;
}

/** created_at with a six-digit fraction, then the id: string order is time order. */
export function orderKey(task: Pick<Task, "created_at" | "id">): string {
  const m = /^(.*?T\d{2}:\d{2}:\d{2})(?:\.(\d+))?/.exec(task.created_at);
  const stamp = m ? `${m[1]}.${(m[2] ?? "").padEnd(6, "0").slice(0, 6)}` : task.created_at;
  return `${stamp}\u0000${task.id}`;
}

function isFinished(task: Task | null): task is Task & { state: "completed" | "failed" } {
  return task !== null && (task.state === "completed" || task.state === "failed");
}

/** How old the folder's mtime must be before an unchanged mtime proves an unchanged listing. */
const RACY_WINDOW_MS = 2000;

/** Unknown ids beyond which the summary cache is consulted before reading files. */
const CONSULT_CACHE_AT = 16;

/** How long a loaded summary cache is reused. */
const RECENT_INDEX_MS = 1000;

export function createScanner(tasksDir: string): Scanner {
  const cache = cachePaths(path.dirname(tasksDir));
  /** Live tasks and unreadable files, by id. */
  const live = new Map<string, Entry>();
  /** Finished tasks: the id only. */
  const finished = new Set<string>();
  let listing: { ino: number; mtimeMs: number; ids: string[] } | null = null;
  /**
   * The summary cache as last loaded, kept for a moment: a one-shot command
   * that scans twice (next, then the idle payload) parses it once, and a
   * long-running process does not hold it.
   */
  let recent: { entries: Map<string, IndexEntry>; lines: number } | null = null;
  let recentTimer: NodeJS.Timeout | undefined;
  const loadIndexOnce = async (): Promise<{ entries: Map<string, IndexEntry>; lines: number }> => {
    if (recent) return recent;
    recent = await loadIndex(cache);
    recentTimer = setTimeout(() => (recent = null), RECENT_INDEX_MS);
    recentTimer.unref();
    return recent;
  };

  /** Task ids in the folder (and whether they were just read), from the last listing when the folder provably did not change. */
  async function listIds(): Promise<{ ids: string[]; fresh: boolean } | null> {
    let dirStat;
    try {
      dirStat = await fs.stat(tasksDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    if (listing && listing.ino === dirStat.ino && listing.mtimeMs === dirStat.mtimeMs) return { ids: listing.ids, fresh: false };
    const checkedAt = Date.now();
    const dirents: Dirent[] = await fs.readdir(tasksDir, { withFileTypes: true });
    const ids = dirents
      .filter((d) => !d.name.startsWith(".") && (d.isDirectory() || d.isSymbolicLink()) && isValidTaskId(d.name))
      .map((d) => d.name);
    listing = dirStat.mtimeMs < checkedAt - RACY_WINDOW_MS ? { ino: dirStat.ino, mtimeMs: dirStat.mtimeMs, ids } : null;
    return { ids, fresh: true };
  }

  const taskFile = (id: string): string => path.join(tasksDir, id, "task.json");

  async function readEntry(id: string): Promise<Entry> {
    const file = taskFile(id);
    let stat;
    try {
      stat = await fs.stat(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") {
        return { ino: 0, mtimeMs: 0, size: 0, task: null, order: "", problem: { taskId: id, file, message: "task.json is missing" } };
      }
      throw error;
    }
    const cached = live.get(id);
    if (cached && cached.ino === stat.ino && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached;
    try {
      const task = normalizeTask(parseJson(await fs.readFile(file, "utf8"), file, id), file, id);
      return { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size, task, problem: null, order: orderKey(task) };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size, task: null, problem: { taskId: id, file, message }, order: "" };
    }
  }

  async function scan(options: ScanOptions = {}): Promise<ScanResult> {
    const listed = await listIds();
    if (listed === null) {
      live.clear();
      finished.clear();
      return { tasks: [], finished: [], finishedCount: 0, problems: [] };
    }
    const { ids, fresh } = listed;
    const wantFinished = options.finished === true;
    let unknown = 0;
    for (const id of ids) if (!finished.has(id) && !live.has(id)) unknown += 1;

    // Finished tasks from the summary cache, each checked against its file.
    let index: Map<string, IndexEntry> | null = null;
    let indexLines = 0;
    if (wantFinished || unknown >= CONSULT_CACHE_AT) ({ entries: index, lines: indexLines } = await loadIndexOnce());
    const finishedEntries: IndexEntry[] = [];
    const toRead: string[] = [];
    let checked = 0;
    for (const id of ids) {
      const known = finished.has(id);
      if (known && !wantFinished) continue;
      if (!known && live.has(id)) {
        toRead.push(id);
        continue;
      }
      const entry = index?.get(id);
      if (entry) {
        // Synchronous stats in a tight loop are several times faster than
        // promises; yield now and then so a server stays responsive.
        // A task this process already checked is not checked again.
        if (!known && ++checked % 4096 === 0) await new Promise((resolve) => setImmediate(resolve));
        if (known || sameIdentity(entry.identity, statIdentity(taskFile(id)))) {
          finished.add(id);
          if (wantFinished) finishedEntries.push(entry);
          continue;
        }
      }
      toRead.push(id);
    }

    const tasks: Task[] = [];
    const problems: ScanProblem[] = [];
    const newEntries: IndexEntry[] = [];
    /** Finished tasks this process had never seen, read because the cache was not consulted: appended only if the cache lacks them. */
    const unseenFinished: IndexEntry[] = [];
    // Bounded parallelism: fast on a cold cache, gentle on the file descriptor table.
    const width = 32;
    for (let i = 0; i < toRead.length; i += width) {
      const batch = toRead.slice(i, i + width);
      const entries = await Promise.all(batch.map(readEntry));
      entries.forEach((entry, j) => {
        const id = batch[j] as string;
        const wasLive = live.has(id);
        if (isFinished(entry.task)) {
          live.delete(id);
          finished.add(id);
          const indexEntry: IndexEntry = {
            id,
            identity: identityOf(entry),
            state: entry.task.state,
            lane: entry.task.lane,
            order: entry.order,
          };
          if (index === null && !wasLive) unseenFinished.push(indexEntry);
          else newEntries.push(indexEntry);
          if (wantFinished) finishedEntries.push(indexEntry);
          return;
        }
        finished.delete(id);
        if (entry.problem && entry.problem.message === "task.json is missing") live.delete(id);
        else live.set(id, entry);
        if (entry.task) tasks.push(entry.task);
        else if (entry.problem) problems.push(entry.problem);
      });
    }
    // Live tasks that needed no read this time (unchanged listing entries were all re-read above).
    if (fresh) {
      const seen = new Set<string>(ids);
      for (const id of live.keys()) if (!seen.has(id)) live.delete(id);
      for (const id of finished) if (!seen.has(id)) finished.delete(id);
    }

    if (unseenFinished.length > 0) {
      ({ entries: index, lines: indexLines } = await loadIndexOnce());
      for (const e of unseenFinished) if (!sameIdentity(index.get(e.id)?.identity, e.identity)) newEntries.push(e);
    }
    // What this scan learnt goes into the moment's copy too.
    for (const e of newEntries) recent?.entries.set(e.id, e);
    const newLines = newEntries.map(indexLine);
    if (index && needsCompaction(indexLines + newLines.length, finished.size)) {
      const keep: string[] = [];
      for (const id of finished) {
        const e = index.get(id);
        if (e) keep.push(indexLine(e));
      }
      await rewriteLines(cache, cache.index, keep);
    } else {
      await appendLines(cache, cache.index, newLines);
    }
    return { tasks, finished: finishedEntries, finishedCount: finished.size, problems };
  }

  return {
    scan,
    order: (task) => live.get(task.id)?.order ?? orderKey(task),
    forget: (taskId) => {
      finished.delete(taskId);
      live.delete(taskId);
      listing = null;
    },
    clear: () => {
      if (recentTimer) clearTimeout(recentTimer);
      recent = null;
      live.clear();
      finished.clear();
      listing = null;
    },
  };
}
