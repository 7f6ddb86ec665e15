// The scanner behind list/next/available. A queue may hold fifty thousand
// finished tasks and be polled every few seconds, so its cost must follow the
// live tasks, not the history:
//
// - A live task (queued, claimed) is kept parsed and re-read only when its
//   task.json's (inode, mtime, size) changed — every writer replaces the file
//   by rename, so a rewrite always changes the inode.
// - A finished task (completed, failed) never changes state again: the scanner
//   keeps its id and nothing else (in a flat table, id-table.ts: ~55 bytes a
//   task, no object per task), and writes one line for it into the
//   summary cache beside the queue (summary-cache.ts). A process that starts
//   on a long-lived queue learns which tasks are finished from that cache,
//   each entry checked against the identity of its task.json, instead of
//   parsing every file. A long-running process has even that first scan made
//   by a short-lived helper process (scan-offload.ts), so the garbage of
//   reading fifty thousand files never enters its own heap.
// - The listing itself is reused while the tasks folder's (inode, mtime) is
//   unchanged. File-system clocks are coarse, so two changes can share one
//   mtime; like git's "racy" index entries, an mtime is only trusted once it
//   is older than RACY_WINDOW_MS at the moment it was read — any later change
//   then necessarily moves it.

import type { Dir, Stats } from "node:fs";
import { lstatSync, opendirSync, promises as fs, statSync } from "node:fs";
import path from "node:path";
import { IdTable } from "./id-table.js";
import { isValidTaskId } from "./layout.js";
import { normalizeTask, parseJson } from "./records.js";
import { readOwnFile, readOwnFileWithStat } from "./safe-file.js";
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

/** What the scanner holds of one live task or unreadable entry. */
export interface Entry {
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

/** What a scanner knows, as plain data (the helper process hands its first scan over in this form). */
export interface ScannerState {
  listing: ListingState | null;
  /** Live tasks and unreadable entries. */
  live: [string, Entry][];
  awaited: string[];
  /** Listed names that are not finished tasks (live, unreadable, not yet read). */
  listed: string[];
  /** How many finished tasks follow as names, and their bytes (each name's "\n" included). */
  finishedCount: number;
  finishedBytes: number;
  laneCounts: [string, number][] | null;
  liveCheckedAt: number;
}

interface ListingState {
  ino: number;
  mtimeMs: number;
  /** The folder's mtime at the last full listing (events since do not move it). */
  fullMtimeMs: number;
  fullAt: number;
  trusted: boolean;
}

/** How much the scanner holds (tests bound it: no parsed finished task, a few bytes a finished id). */
export interface ScannerStats {
  names: number;
  finished: number;
  /** Parsed tasks held: the live ones only. */
  parsed: number;
  /** Bytes of the table of names. */
  nameBytes: number;
}

export interface Scanner {
  /** Read the tasks folder. Needs no lock: every writer replaces files by rename. */
  scan(options?: ScanOptions): Promise<ScanResult>;
  /** What this scanner knows, and its finished tasks' names, each followed by "\n". */
  handOver(): { state: ScannerState; finished: Buffer };
  /** Start from what another scanner (the helper process) learnt, its finished tasks' names in `finished` (tagged NAME_TAGS.finished); ignored once this one has scanned. */
  takeOver(state: ScannerState, finished: IdTable): boolean;
  stats(): ScannerStats;
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
export const RACY_WINDOW_MS = 2000;

/**
 * Index bytes a task file read is worth: the summary cache is consulted for
 * unknown ids only when reading their files would cost more than walking the
 * index (a read is some 30 times a line's parse; a line is about 130 bytes).
 * A one-shot command starting from the listing snapshot knows its ~150 live
 * ids and reads them, rather than walk the index of 50,000 finished tasks;
 * one that had to list the folder again (50,000 unknown names) walks it.
 */
const INDEX_BYTES_PER_READ = 4096;

/** Largest finished index walked to see whether it lacks a few newly seen finished tasks (about 5,000 entries). */
const WALK_INDEX_MAX_BYTES = 1 << 20;

/** Unknown ids beyond which the summary cache is consulted before reading files. */
const CONSULT_CACHE_AT = 16;

/** How long a loaded summary cache is reused. */
const RECENT_INDEX_MS = 1000;

/** A helper that makes a fresh scanner's first scan elsewhere (scan-offload.ts); null when it cannot. */
export type FirstScan = (tasksDir: string, signal: AbortSignal) => Promise<{ state: ScannerState; finished: IdTable } | null>;

export interface ScannerOptions {
  /**
   * Long-running processes: the first scan is made by this helper and handed
   * over, so its garbage never enters this process's heap. Listing snapshots
   * are then neither read nor written here (the helper does).
   */
  firstScan?: FirstScan | null;
  /**
   * Start from the listing snapshot in <queue>/cache/ (summary-cache.ts) while
   * the tasks folder keeps the identity it describes, and write one after a
   * full listing: for one-shot processes, which would otherwise list every
   * task folder and stat every finished task's file on each run.
   */
  snapshot?: boolean;
}

/** Tags of the table of names. */
const LISTED = 0;
const FINISHED = 1;
export const NAME_TAGS = { listed: LISTED, finished: FINISHED } as const;

export function createScanner(tasksDir: string, scannerOptions: ScannerOptions = {}): Scanner {
  const cache = cachePaths(path.dirname(tasksDir));
  const firstScan = scannerOptions.firstScan ?? null;
  const useSnapshot = scannerOptions.snapshot === true && firstScan === null;
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
      if (!names.has(id)) names.set(id, LISTED);
      finishedLane?.set(id, lane);
    }
    deferred = null;
  };
  /** Live tasks and unreadable files, by id. */
  const live = new Map<string, Entry>();
  /**
   * The folder's entries, kept current by file-system event names between
   * full listings; a finished task's carries the FINISHED tag, and that tag
   * is all that is kept of it.
   */
  let names = new IdTable();
  const isFinishedId = (id: string): boolean => names.get(id) === FINISHED;
  /** No longer known finished (its file is to be read again); true if it was. */
  const unfinish = (id: string): boolean => {
    if (names.get(id) !== FINISHED) return false;
    names.set(id, LISTED);
    return true;
  };
  /** Task folders seen without a task.json yet: looked at again every scan until it lands. */
  const awaited = new Set<string>();
  /** When and at which folder identity the names were last listed in full; null before (or after forget). */
  let listing: ListingState | null = null;
  /** When every live task's task.json was last checked (scans in between check the touched ones). */
  let liveCheckedAt = 0;
  /**
   * The summary cache as last loaded, kept for a moment: a one-shot command
   * that scans twice (next, then the idle payload) parses it once, and a
   * long-running process does not hold it.
   */
  let recent: { entries: Map<string, IndexEntry>; lines: number } | null = null;
  let recentTimer: NodeJS.Timeout | undefined;
  /** The helper's first scan while it runs. */
  let warming: Promise<void> | null = null;
  const helperAbort = new AbortController();
  /** The finished index's size in bytes (0 when there is none). */
  const indexSize = (): number => statSync(cache.index, { throwIfNoEntry: false })?.size ?? 0;

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
  async function listIds(changed: readonly string[] | null): Promise<{ added: string[] | null; full?: boolean } | null> {
    // The scanner's own folder and files: plain system calls (a thread-pool round trip costs more than a stat).
    let dirStat;
    try {
      dirStat = statSync(tasksDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    const checkedAt = Date.now();
    if (changed !== null) absorb();
    // No entry made or removed since the last full listing (the folder's mtime then, trusted, has
    // not moved): a full listing would list the same names, so none is due.
    const unchangedSinceFull = listing !== null && listing.trusted && listing.ino === dirStat.ino && listing.fullMtimeMs === dirStat.mtimeMs;
    if (unchangedSinceFull && listing) listing.fullAt = checkedAt;
    if (changed === null && unchangedSinceFull) return { added: [] };
    if (listing && listing.ino === dirStat.ino && changed !== null && checkedAt - listing.fullAt < FULL_RELIST_MS) {
      const added: string[] = [];
      for (const name of new Set(changed)) {
        if (name.startsWith(".") || !isValidTaskId(name)) continue;
        const st = lstatSync(path.join(tasksDir, name), { throwIfNoEntry: false });
        const present = st !== undefined && (st.isDirectory() || st.isSymbolicLink());
        const tag = names.get(name);
        if (present && tag === undefined) {
          names.set(name, LISTED);
          added.push(name);
        } else if (present && unfinish(name)) {
          // An event on a finished task's name: its folder was removed and made again (or renamed over). Read it anew.
          added.push(name);
        } else if (!present && tag !== undefined) {
          names.delete(name);
          live.delete(name);
          awaited.delete(name);
        }
      }
      listing.mtimeMs = dirStat.mtimeMs;
      return { added };
    }
    if (changed === null && listing && listing.trusted && listing.ino === dirStat.ino && listing.mtimeMs === dirStat.mtimeMs) {
      return { added: [] };
    }
    if (useSnapshot && changed === null && listing === null) {
      // A fresh process: the snapshot names the folder's entries while the folder is unchanged.
      const snapshot = await readSnapshot(cache, dirStat);
      if (snapshot) {
        names.clear();
        for (const id of snapshot.live) names.set(id, LISTED);
        listing = { ino: dirStat.ino, mtimeMs: dirStat.mtimeMs, fullMtimeMs: dirStat.mtimeMs, fullAt: checkedAt, trusted: true };
        deferred = snapshot;
        laneCounts = new Map(Object.entries(snapshot.lanes));
        snapshotKey = `${dirStat.ino}:${dirStat.mtimeMs}`;
        return { added: null };
      }
    }
    // A snapshot's finished tasks join the names (checked, as every name of a full listing is).
    absorb();
    laneCounts = null;
    await relist();
    // An unchanged mtime proves an unchanged folder only once it is older than the racy window.
    const trusted = dirStat.mtimeMs < checkedAt - RACY_WINDOW_MS;
    listing = { ino: dirStat.ino, mtimeMs: dirStat.mtimeMs, fullMtimeMs: dirStat.mtimeMs, fullAt: checkedAt, trusted };
    for (const id of live.keys()) if (!names.has(id)) live.delete(id);
    for (const id of awaited) if (!names.has(id)) awaited.delete(id);
    return { added: null, full: true };
  }

  /**
   * List the folder into the table of names: each name is looked up as it is
   * read (a few hundred at a time), names no longer there are dropped. No
   * array of fifty thousand entries is built: what a relist leaves behind is
   * short-lived garbage only.
   */
  async function relist(): Promise<void> {
    names.beginMarks();
    let dir: Dir | null = null;
    try {
      dir = opendirSync(tasksDir, { bufferSize: 256 });
      let seen = 0;
      for (let d = dir.readSync(); d !== null; d = dir.readSync()) {
        // Yield now and then so a server stays responsive.
        if (++seen % 4096 === 0) await new Promise((resolve) => setImmediate(resolve));
        const name = d.name;
        // d_type comes with the listing: a plain file where a task folder belongs is not a task (and is ignored).
        if (name.startsWith(".") || !(d.isDirectory() || d.isSymbolicLink())) continue;
        if (names.mark(name) === undefined && isValidTaskId(name)) names.set(name, LISTED);
      }
    } catch (error) {
      names.unmarked(); // ends the marks; the names stay as they were
      throw error;
    } finally {
      dir?.closeSync();
    }
    for (const id of names.unmarked()) names.delete(id);
  }

  // Ids here are listed and valid (one plain name), so joining is concatenation (path.join costs milliseconds over a listing).
  const tasksRoot = path.resolve(tasksDir);
  const taskFile = (id: string): string => `${tasksRoot}${path.sep}${id}${path.sep}task.json`;

  /** The entry of a task file's text as read, with the identity `stat` gives. */
  function entryOf(id: string, file: string, text: string, stat: Stats): Entry {
    try {
      const task = normalizeTask(parseJson(text, file, id), file, id);
      return { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size, task, problem: null, order: orderKey(task) };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size, task: null, problem: { taskId: id, file, message }, order: "" };
    }
  }

  /**
   * The entry of one task folder; "pending" for a folder still being created,
   * "gone" for one removed meanwhile. `sync`: stat with a plain system call
   * (a scan of a few files); else on the thread pool (a cold scan of
   * thousands, which then lets the event loop breathe between files).
   */
  async function readEntry(id: string, sync: boolean): Promise<Entry | "gone" | "pending"> {
    const file = taskFile(id);
    if (sync && !live.has(id)) {
      // Nothing cached to compare with (every task of a one-shot command): the read's own fstat
      // gives the identity, one stat a task fewer. Any trouble opening or reading is left to the
      // careful path below, which tells a missing, pending or unreadable entry apart.
      let read: { text: string; stat: Stats } | null;
      try {
        read = readOwnFileWithStat(file);
      } catch {
        read = null;
      }
      if (read !== null) return entryOf(id, file, read.text, read.stat);
    }
    let stat: Stats;
    try {
      stat = sync ? statSync(file) : await fs.stat(file);
    } catch (error) {
      // One bad entry (an unreadable folder, a symlink loop, a file where a
      // folder belongs) is that entry's problem; the scan goes on with the rest.
      const problem = await entryProblem(id, file, error);
      return typeof problem === "string" ? problem : { ino: 0, mtimeMs: 0, size: 0, task: null, order: "", problem };
    }
    const cached = live.get(id);
    if (cached && cached.ino === stat.ino && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached;
    let text: string;
    try {
      text = await readOwnFile(file);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size, task: null, problem: { taskId: id, file, message }, order: "" };
    }
    return entryOf(id, file, text, stat);
  }

  async function scan(options: ScanOptions = {}): Promise<ScanResult> {
    if (firstScan && listing === null && names.size === 0 && live.size === 0) {
      // Concurrent first scans wait for the one helper.
      warming ??= firstScan(tasksDir, helperAbort.signal)
        .then((handed) => {
          if (handed) takeOver(handed.state, handed.finished);
        })
        .finally(() => (warming = null));
      await warming;
      // Closed while the helper worked: no scan of our own on the way out.
      if (helperAbort.signal.aborted) return { tasks: [], finished: [], finishedCount: 0, problems: [], pending: [] };
    }
    const listed = await listIds(options.changed ?? null);
    if (listed === null) {
      deferred = null;
      laneCounts = null;
      live.clear();
      names.clear();
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
    // (Made into an array first: a concurrent scan may change the table while this one awaits.)
    // A live id is never tagged finished (every place that tags one finished
    // drops its live entry), so live ids skip the table's look-up: a scan of
    // the live tasks costs a Map look-up a task.
    let ids: Iterable<string>;
    if (listed.added !== null && !wantFinished) {
      const more: string[] = [];
      for (const id of awaited) if (!live.has(id)) more.push(id);
      for (const id of listed.added) if (!live.has(id) && !awaited.has(id)) more.push(id);
      ids = more.length === 0 ? [...live.keys()] : [...new Set([...live.keys(), ...more])];
    } else {
      ids = [...names.keys(wantFinished ? undefined : LISTED)];
    }
    let unknown = 0;
    for (const id of ids) if (!live.has(id) && !isFinishedId(id)) unknown += 1;

    // Finished tasks from the summary cache, each checked against its file.
    let index: Map<string, IndexEntry> | null = null;
    let indexLines = 0;
    if (wantFinished) ({ entries: index, lines: indexLines } = await loadIndexOnce());
    else if (unknown >= CONSULT_CACHE_AT && unknown * INDEX_BYTES_PER_READ >= indexSize()) {
      // Only ids are learnt: the entries are read a line at a time and kept nowhere.
      // (An entry whose file was rewritten since stays unknown and is read below.)
      await forEachIndexEntry(cache, (e) => {
        if (names.get(e.id) !== LISTED || live.has(e.id)) return;
        if (sameIdentity(e.identity, statIdentity(taskFile(e.id)))) {
          names.set(e.id, FINISHED);
          finishedLane?.set(e.id, e.lane);
        }
      });
    }
    const finishedEntries: IndexEntry[] = [];
    const toRead: string[] = [];
    const tasks: Task[] = [];
    let checked = 0;
    for (const id of ids) {
      const cached = live.get(id);
      if (cached !== undefined) {
        if (touched && !touched.has(id) && cached.task) tasks.push(cached.task);
        else toRead.push(id);
        continue;
      }
      const known = isFinishedId(id);
      if (known && !wantFinished) continue;
      const entry = index?.get(id);
      if (entry) {
        // Synchronous stats in a tight loop are several times faster than
        // promises; yield now and then so a server stays responsive.
        // A task this process already checked is not checked again.
        if (!known && ++checked % 4096 === 0) await new Promise((resolve) => setImmediate(resolve));
        if (known || sameIdentity(entry.identity, statIdentity(taskFile(id)))) {
          names.set(id, FINISHED);
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
    const sync = toRead.length <= 256;
    for (let i = 0; i < toRead.length; i += width) {
      const batch = toRead.slice(i, i + width);
      const entries = await Promise.all(batch.map((id) => readEntry(id, sync)));
      entries.forEach((entry, j) => {
        const id = batch[j] as string;
        const wasLive = live.has(id);
        if (typeof entry === "string") {
          live.delete(id);
          unfinish(id);
          if (entry === "pending") {
            pending.push(id);
            awaited.add(id);
          } else awaited.delete(id);
          return;
        }
        awaited.delete(id);
        if (isFinished(entry.task)) {
          live.delete(id);
          if (!isFinishedId(id) && laneCounts) laneCounts.set(entry.task.lane, (laneCounts.get(entry.task.lane) ?? 0) + 1);
          names.set(id, FINISHED);
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
        unfinish(id);
        live.set(id, entry);
        if (entry.task) tasks.push(entry.task);
        else if (entry.problem) problems.push(entry.problem);
      });
    }

    if (unseenFinished.length > 0) {
      // Append only what the cache lacks: looked up in the index this process holds, else a line
      // at a time while the index is small. A long one (tens of thousands of finished tasks) is not
      // walked for a handful of tasks (every `respond` finds the task it answered here): they are
      // appended, and an entry the cache held already is then there twice, which readers take
      // as the same entry (the last line of an id wins) and the next compaction drops.
      const lacking = new Map(unseenFinished.map((e) => [e.id, e] as const));
      if (recent) {
        for (const [id, e] of lacking) if (sameIdentity(recent.entries.get(id)?.identity, e.identity)) lacking.delete(id);
      } else if (indexSize() <= WALK_INDEX_MAX_BYTES) {
        await forEachIndexEntry(cache, (e) => {
          if (sameIdentity(lacking.get(e.id)?.identity, e.identity)) lacking.delete(e.id);
        });
      }
      newEntries.push(...lacking.values());
    }
    // What this scan learnt goes into the moment's copy too.
    for (const e of newEntries) recent?.entries.set(e.id, e);
    const newLines = newEntries.map(indexLine);
    if (index && needsCompaction(indexLines + newLines.length, names.countOf(FINISHED))) {
      const keep: string[] = [];
      for (const id of names.keys(FINISHED)) {
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
      for (const id of names.keys()) {
        if (!isFinishedId(id)) liveIds.push(id);
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
      finishedCount: names.countOf(FINISHED) + (deferred?.finishedCount ?? 0),
      problems,
      pending,
      finishedLanes: laneCounts,
    };
  }

  function handOver(): { state: ScannerState; finished: Buffer } {
    const chunks: Buffer[] = [];
    const newline = Buffer.from("\n");
    names.writeNames(FINISHED, (chunk) => chunks.push(chunk, newline));
    const finished = Buffer.concat(chunks);
    return {
      state: {
        listing,
        live: [...live],
        awaited: [...awaited],
        listed: [...names.keys(LISTED)],
        finishedCount: names.countOf(FINISHED),
        finishedBytes: finished.length,
        laneCounts: laneCounts ? [...laneCounts] : null,
        liveCheckedAt,
      },
      finished,
    };
  }

  function takeOver(state: ScannerState, finished: IdTable): boolean {
    if (listing !== null || names.size > 0 || live.size > 0) return false;
    // Not what the helper meant to send: start from nothing (a scan of our own).
    if (finished.size !== state.finishedCount || finished.countOf(FINISHED) !== state.finishedCount) return false;
    names = finished;
    for (const id of state.listed) names.set(id, LISTED);
    // A live entry is never tagged finished (scan() relies on it).
    for (const [id, entry] of state.live) if (names.get(id) !== FINISHED) live.set(id, entry);
    for (const id of state.awaited) awaited.add(id);
    laneCounts = state.laneCounts ? new Map(state.laneCounts) : null;
    liveCheckedAt = state.liveCheckedAt;
    listing = state.listing;
    return true;
  }

  return {
    scan,
    order: (task) => live.get(task.id)?.order ?? orderKey(task),
    forget: (taskId) => {
      deferred = null;
      laneCounts = null;
      finishedLane?.delete(taskId);
      names.delete(taskId);
      live.delete(taskId);
      listing = null;
    },
    recheck: (taskId) => {
      unfinish(taskId);
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
      names.clear();
      listing = null;
      helperAbort.abort(); // a helper still scanning is killed
    },
    handOver,
    takeOver,
    stats: () => ({
      names: names.size,
      finished: names.countOf(FINISHED),
      parsed: [...live.values()].filter((e) => e.task !== null).length,
      nameBytes: names.byteLength,
    }),
  };
}
