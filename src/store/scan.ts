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
import { promises as fs, statSync } from "node:fs";
import path from "node:path";
import { isValidTaskId } from "./layout.js";
import { normalizeTask, parseJson } from "./records.js";
import { readOwnFile } from "./safe-file.js";
import {
  appendLines,
  cachePaths,
  forEachIndexEntry,
  identityOf,
  indexLine,
  loadIndex,
  needsCompaction,
  readSnapshot,
  rewriteLines,
  sameIdentity,
  statIdentity,
  writeSnapshot,
  type IndexEntry,
  type ListingSnapshot,
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
   * Names in the tasks folder that file-system events reported since the last
   * scan; null when no watcher runs (the folder is listed in full).
   */
  changed?: readonly string[] | null;
  /**
   * Live tasks whose folders file-system events reported changed since the
   * last scan; null or absent when none are known (every live task's
   * task.json is then checked). Ignored after a full listing and at least
   * every FULL_RELIST_MS, which heals a missed event.
   */
  touched?: readonly string[] | null;
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
  /** Task folders being created (no task.json yet): a waiter watches them so the task.json landing wakes it. */
  pending: string[];
  /** Finished tasks by lane, when this scanner knows them exactly (it started from a listing snapshot); else null. */
  finishedLanes?: ReadonlyMap<string, number> | null;
}

export interface Scanner {
  /** Read the tasks folder. Needs no lock: every writer replaces files by rename. */
  scan(options?: ScanOptions): Promise<ScanResult>;
  /** Sort key: oldest first by created_at, then id. */
  order(task: Task): string;
  /** Forget a finished task (prune removed it). */
  forget(taskId: string): void;
  /** Read this task's file again at the next scan, though it was known finished (its task.json was replaced). */
  recheck(taskId: string): void;
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

/**
 * A task folder whose task.json is missing this long is reported: a younger one
 * is being created (scans take no lock, and create writes task.json just after
 * making the folder).
 */
const MISSING_TASK_FILE_GRACE_MS = 60_000;

/** The problem a failed stat of `file` (tasks/<id>/task.json) means, or null for a folder still being created. */
async function entryProblem(id: string, file: string, error: unknown): Promise<ScanProblem | "gone" | "pending"> {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") {
    const folder = await fs.lstat(path.dirname(file)).catch(() => null);
    if (folder === null) return "gone"; // removed meanwhile
    if (folder.isDirectory() && Date.now() - folder.mtimeMs < MISSING_TASK_FILE_GRACE_MS) return "pending";
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

/** Longest time the listing is kept current by event names alone before a full listing. */
const FULL_RELIST_MS = 30_000;

/** How old the folder's mtime must be before an unchanged mtime proves an unchanged listing. */
const RACY_WINDOW_MS = 2000;

/** Unknown ids beyond which the summary cache is consulted before reading files. */
const CONSULT_CACHE_AT = 16;

/** How long a loaded summary cache is reused. */
const RECENT_INDEX_MS = 1000;

export interface ScannerOptions {
  /**
   * Start from the listing snapshot in <queue>/cache/ (summary-cache.ts) while
   * the tasks folder keeps the identity it describes, and write one after a
   * full listing: for one-shot processes, which would otherwise list every
   * task folder and stat every finished task's file on each run.
   */
  snapshot?: boolean;
}

export function createScanner(tasksDir: string, scannerOptions: ScannerOptions = {}): Scanner {
  const cache = cachePaths(path.dirname(tasksDir));
  const useSnapshot = scannerOptions.snapshot === true;
  /** The folder identity (ino:mtime) the snapshot on disk describes, as this process read or wrote it. */
  let snapshotKey: string | null = null;
  /** A snapshot whose finished tasks are not merged in yet: a scan of the live tasks never needs them. */
  let deferred: ListingSnapshot | null = null;
  /** With snapshots: the lane of each finished task this process knows (a snapshot records them). */
  const finishedLane = useSnapshot ? new Map<string, string>() : null;
  /** Finished tasks by lane while exactly known (from a snapshot, then counted on). */
  let laneCounts: Map<string, number> | null = null;
  /**
   * Merge a deferred snapshot's finished tasks into the listing. They join as
   * ids to look at, not as known finished tasks: a scan that needs them checks
   * each against the summary cache and its task.json's identity, as after a
   * full listing (only a scan of the live tasks skips them unchecked).
   */
  const absorb = (): void => {
    if (!deferred || !listing) return;
    for (const [id, lane] of deferred.finished()) {
      listing.ids.add(id);
      finishedLane?.set(id, lane);
    }
    deferred = null;
  };
  /** Live tasks and unreadable files, by id. */
  const live = new Map<string, Entry>();
  /** Finished tasks: the id only. */
  const finished = new Set<string>();
  /** Task folders seen without a task.json yet: looked at again every scan until it lands. */
  const awaited = new Set<string>();
  /** The folder's entries: a set kept current by file-system event names between full listings. */
  let listing: { ino: number; mtimeMs: number; ids: Set<string>; fullAt: number; trusted: boolean } | null = null;
  /** When every live task's task.json was last checked (scans in between check the touched ones). */
  let liveCheckedAt = 0;
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

  /**
   * Task ids in the folder. With the names file-system events reported since
   * the last scan (`changed`), only those entries are looked at: a new task
   * costs the same with fifty thousand finished ones as with none. A full
   * listing happens without events, after FULL_RELIST_MS (to heal a missed
   * event), and when the folder itself was replaced. `added` is null after a
   * full listing (every id is a candidate).
   */
  async function listIds(changed: readonly string[] | null): Promise<{ ids: Set<string>; added: string[] | null; full?: boolean } | null> {
    let dirStat;
    try {
      dirStat = await fs.stat(tasksDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    const checkedAt = Date.now();
    if (changed !== null) absorb();
    if (listing && listing.ino === dirStat.ino && changed !== null && checkedAt - listing.fullAt < FULL_RELIST_MS) {
      const added: string[] = [];
      for (const name of new Set(changed)) {
        if (name.startsWith(".") || !isValidTaskId(name)) continue;
        const present = await fs.lstat(path.join(tasksDir, name)).then(
          (st) => st.isDirectory() || st.isSymbolicLink(),
          () => false,
        );
        if (present && !listing.ids.has(name)) {
          listing.ids.add(name);
          added.push(name);
        } else if (present && finished.delete(name)) {
          // An event on a finished task's name: its folder was removed and made again (or renamed over). Read it anew.
          added.push(name);
        } else if (!present && listing.ids.delete(name)) {
          live.delete(name);
          finished.delete(name);
          awaited.delete(name);
        }
      }
      listing.mtimeMs = dirStat.mtimeMs;
      return { ids: listing.ids, added };
    }
    if (changed === null && listing && listing.trusted && listing.ino === dirStat.ino && listing.mtimeMs === dirStat.mtimeMs) {
      return { ids: listing.ids, added: [] };
    }
    if (useSnapshot && changed === null && listing === null) {
      // A fresh process: the snapshot names the folder's entries while the folder is unchanged.
      const snapshot = await readSnapshot(cache, dirStat);
      if (snapshot) {
        const ids = new Set<string>(snapshot.live);
        listing = { ino: dirStat.ino, mtimeMs: dirStat.mtimeMs, ids, fullAt: checkedAt, trusted: true };
        deferred = snapshot;
        laneCounts = new Map(Object.entries(snapshot.lanes));
        snapshotKey = `${dirStat.ino}:${dirStat.mtimeMs}`;
        return { ids, added: null };
      }
    }
    // A snapshot's finished tasks join the ids (checked, as every id of a full listing is).
    absorb();
    laneCounts = null;
    // d_type comes with the listing: a plain file where a task folder belongs is not a task (and is ignored).
    const dirents: Dirent[] = await fs.readdir(tasksDir, { withFileTypes: true });
    const ids = new Set<string>();
    for (const d of dirents) {
      const name = d.name;
      if (name.startsWith(".") || !(d.isDirectory() || d.isSymbolicLink())) continue;
      if (listing?.ids.has(name) || isValidTaskId(name)) ids.add(name);
    }
    // An unchanged mtime proves an unchanged folder only once it is older than the racy window.
    listing = { ino: dirStat.ino, mtimeMs: dirStat.mtimeMs, ids, fullAt: checkedAt, trusted: dirStat.mtimeMs < checkedAt - RACY_WINDOW_MS };
    for (const id of live.keys()) if (!ids.has(id)) live.delete(id);
    for (const id of finished) if (!ids.has(id)) finished.delete(id);
    for (const id of awaited) if (!ids.has(id)) awaited.delete(id);
    return { ids, added: null, full: true };
  }

  const taskFile = (id: string): string => path.join(tasksDir, id, "task.json");

  /** The entry of one task folder; "pending" for a folder still being created, "gone" for one removed meanwhile. */
  async function readEntry(id: string): Promise<Entry | "gone" | "pending"> {
    const file = taskFile(id);
    let stat;
    try {
      // A plain system call: a live task's file is looked at on every scan.
      stat = statSync(file);
    } catch (error) {
      // One bad entry (an unreadable folder, a symlink loop, a file where a
      // folder belongs) is that entry's problem; the scan goes on with the rest.
      const problem = await entryProblem(id, file, error);
      return typeof problem === "string" ? problem : { ino: 0, mtimeMs: 0, size: 0, task: null, order: "", problem };
    }
    const cached = live.get(id);
    if (cached && cached.ino === stat.ino && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached;
    try {
      const task = normalizeTask(parseJson(await readOwnFile(file), file, id), file, id);
      return { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size, task, problem: null, order: orderKey(task) };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size, task: null, problem: { taskId: id, file, message }, order: "" };
    }
  }

  async function scan(options: ScanOptions = {}): Promise<ScanResult> {
    const listed = await listIds(options.changed ?? null);
    if (listed === null) {
      deferred = null;
      laneCounts = null;
      live.clear();
      finished.clear();
      listing = null;
      return { tasks: [], finished: [], finishedCount: 0, problems: [], pending: [] };
    }
    const wantFinished = options.finished === true;
    if (wantFinished) absorb();
    // Live tasks whose folders no event named keep their parsed copy unchecked.
    const nowMs = Date.now();
    const touched = options.touched && listed.added !== null && nowMs - liveCheckedAt < FULL_RELIST_MS ? new Set([...options.touched, ...listed.added]) : null;
    if (touched === null) liveCheckedAt = nowMs;
    // The ids worth looking at: every one after a full listing or when finished
    // tasks are asked for; else the live ones and what events added.
    const ids: Iterable<string> = wantFinished || listed.added === null ? listed.ids : new Set([...live.keys(), ...awaited, ...listed.added]);
    let unknown = 0;
    for (const id of ids) if (!finished.has(id) && !live.has(id)) unknown += 1;

    // Finished tasks from the summary cache, each checked against its file.
    let index: Map<string, IndexEntry> | null = null;
    let indexLines = 0;
    if (wantFinished) ({ entries: index, lines: indexLines } = await loadIndexOnce());
    else if (unknown >= CONSULT_CACHE_AT) {
      // Only ids are learnt: the entries are read a line at a time and kept nowhere.
      // (An entry whose file was rewritten since stays unknown and is read below.)
      await forEachIndexEntry(cache, (e) => {
        if (!listed.ids.has(e.id) || finished.has(e.id) || live.has(e.id)) return;
        if (sameIdentity(e.identity, statIdentity(taskFile(e.id)))) {
          finished.add(e.id);
          finishedLane?.set(e.id, e.lane);
        }
      });
    }
    const finishedEntries: IndexEntry[] = [];
    const toRead: string[] = [];
    const tasks: Task[] = [];
    let checked = 0;
    for (const id of ids) {
      const known = finished.has(id);
      if (known && !wantFinished) continue;
      if (!known && live.has(id)) {
        const cached = live.get(id) as Entry;
        if (touched && !touched.has(id) && cached.task) tasks.push(cached.task);
        else toRead.push(id);
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
          finishedLane?.set(id, entry.lane);
          if (wantFinished) finishedEntries.push(entry);
          continue;
        }
      }
      toRead.push(id);
    }

    const problems: ScanProblem[] = [];
    const newEntries: IndexEntry[] = [];
    const pending: string[] = [];
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
        if (typeof entry === "string") {
          live.delete(id);
          finished.delete(id);
          if (entry === "pending") {
            pending.push(id);
            awaited.add(id);
          } else awaited.delete(id);
          return;
        }
        awaited.delete(id);
        if (isFinished(entry.task)) {
          live.delete(id);
          if (!finished.has(id) && laneCounts) laneCounts.set(entry.task.lane, (laneCounts.get(entry.task.lane) ?? 0) + 1);
          finished.add(id);
          finishedLane?.set(id, entry.task.lane);
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
        live.set(id, entry);
        if (entry.task) tasks.push(entry.task);
        else if (entry.problem) problems.push(entry.problem);
      });
    }

    if (unseenFinished.length > 0) {
      // Append only what the cache lacks, looked up a line at a time.
      const lacking = new Map(unseenFinished.map((e) => [e.id, e] as const));
      await forEachIndexEntry(cache, (e) => {
        if (sameIdentity(lacking.get(e.id)?.identity, e.identity)) lacking.delete(e.id);
      });
      newEntries.push(...lacking.values());
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
    if (useSnapshot && listed.full && listing?.trusted && snapshotKey !== `${listing.ino}:${listing.mtimeMs}`) {
      // Every entry of this full listing is now known finished (checked against its file) or not.
      const liveIds: string[] = [];
      const finishedIds = new Map<string, string>();
      let complete = true;
      for (const id of listing.ids) {
        if (!finished.has(id)) liveIds.push(id);
        else {
          const lane = finishedLane?.get(id);
          if (lane === undefined) complete = false;
          else finishedIds.set(id, lane);
        }
      }
      if (complete) {
        snapshotKey = `${listing.ino}:${listing.mtimeMs}`;
        await writeSnapshot(cache, [listing.ino, listing.mtimeMs], liveIds, finishedIds);
        laneCounts = new Map();
        for (const lane of finishedIds.values()) laneCounts.set(lane, (laneCounts.get(lane) ?? 0) + 1);
      }
    }
    return {
      tasks,
      finished: finishedEntries,
      finishedCount: finished.size + (deferred?.finishedCount ?? 0),
      problems,
      pending,
      finishedLanes: laneCounts,
    };
  }

  return {
    scan,
    order: (task) => live.get(task.id)?.order ?? orderKey(task),
    forget: (taskId) => {
      deferred = null;
      laneCounts = null;
      finishedLane?.delete(taskId);
      finished.delete(taskId);
      live.delete(taskId);
      listing = null;
    },
    recheck: (taskId) => {
      finished.delete(taskId);
      live.delete(taskId);
      // Looked at by every scan until read, whichever ids that scan considers (as a folder still being created is).
      awaited.add(taskId);
    },
    clear: () => {
      deferred = null;
      laneCounts = null;
      finishedLane?.clear();
      awaited.clear();
      if (recentTimer) clearTimeout(recentTimer);
      recent = null;
      live.clear();
      finished.clear();
      listing = null;
    },
  };
}
