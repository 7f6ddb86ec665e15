// The summary cache of finished tasks, kept beside the queue in
// <queue>/cache/. A finished task (completed or failed) never changes state
// again, so what listing needs of it is read once and written here; later
// processes read two files instead of a task.json (and events.jsonl) per task.
//
// Two append-only files of JSON lines:
//   finished-index.jsonl  [id, ino, mtimeMs, size, state, lane, created stamp] per task:
//                         what next/wait --lane and the supervisor need to skip it
//   finished-views.jsonl  {id, file, events, response_exists, last_event, task}:
//                         what status --all and list print
// Every entry carries the identity (inode, mtime, size) of the task.json it was
// made from, and is used only while the file still has that identity, so a
// task rewritten by another writer (the Python tool, a hand edit) is read
// afresh. Appends are single write(2)s with O_APPEND, so concurrent processes
// interleave whole lines; a torn line (a crash mid-append) is skipped. The
// files are a cache: losing them costs one full read of the queue, nothing
// else. Python's tool never looks at cache/.

import { appendFileSync, mkdirSync, promises as fs, readFileSync, statSync, type Stats } from "node:fs";
import path from "node:path";
import { STATE_DIR_MODE, STATE_FILE_MODE, writeFileAtomic } from "./atomic.js";
import type { Task, TaskEvent } from "./types.js";

/** inode, mtime (ms) and size of a file: changes on every rewrite by rename. */
export type Identity = [ino: number, mtimeMs: number, size: number];

export function identityOf(stat: Pick<Stats, "ino" | "mtimeMs" | "size">): Identity {
  return [stat.ino, stat.mtimeMs, stat.size];
}

export function sameIdentity(a: Identity | null | undefined, b: Identity | null | undefined): boolean {
  if (!a || !b) return a === b;
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}

/** What the scanner needs to know of a finished task. */
export interface IndexEntry {
  id: string;
  identity: Identity;
  state: "completed" | "failed";
  lane: string;
  /** created_at with a fixed-width fraction, then the id: string order is time order. */
  order: string;
}

/** What listing prints of a finished task. */
export interface ViewEntry {
  id: string;
  /** Identity of task.json. */
  file: Identity;
  /** Identity of events.jsonl (null when missing). */
  events: Identity | null;
  response_exists: boolean;
  last_event: TaskEvent | null;
  task: Task;
}

export interface CachePaths {
  dir: string;
  index: string;
  views: string;
}

export function cachePaths(queueRoot: string): CachePaths {
  const dir = path.join(queueRoot, "cache");
  return { dir, index: path.join(dir, "finished-index.jsonl"), views: path.join(dir, "finished-views.jsonl") };
}

async function readLines(file: string): Promise<string[]> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR" || code === "EACCES") return [];
    throw error;
  }
  return text.split("\n");
}

function isIdentity(value: unknown): value is Identity {
  return Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === "number");
}

/** One parsed index line, or null for a torn or foreign one. */
function indexEntryOf(v: unknown): IndexEntry | null {
  if (!Array.isArray(v) || v.length !== 7) return null;
  const [id, ino, mtimeMs, size, state, lane, stamp] = v as unknown[];
  if (typeof id !== "string" || (state !== "completed" && state !== "failed") || typeof lane !== "string" || typeof stamp !== "string") return null;
  if (typeof ino !== "number" || typeof mtimeMs !== "number" || typeof size !== "number") return null;
  return { id, identity: [ino, mtimeMs, size], state, lane, order: `${stamp}\u0000${id}` };
}

/** The index file as a map (last line of an id wins); torn lines are skipped. */
export async function loadIndex(paths: CachePaths): Promise<{ entries: Map<string, IndexEntry>; lines: number }> {
  const entries = new Map<string, IndexEntry>();
  const lines = (await readLines(paths.index)).filter((line) => line !== "");
  let parsed: unknown[] | null = null;
  try {
    // One parse of the whole file is several times faster than one per line;
    // a torn line makes it fail, and then each line is parsed on its own.
    parsed = JSON.parse(`[${lines.join(",")}]`) as unknown[];
  } catch {
    parsed = null;
  }
  if (parsed) {
    for (const v of parsed) {
      const e = indexEntryOf(v);
      if (e) entries.set(e.id, e);
    }
  } else {
    for (const line of lines) {
      try {
        const e = indexEntryOf(JSON.parse(line));
        if (e) entries.set(e.id, e);
      } catch {
        // a torn or foreign line: the task is read afresh
      }
    }
  }
  return { entries, lines: lines.length };
}

/**
 * Call `visit` for each entry of the index file, parsing one line at a time:
 * nothing but the file's text is held, so a long-running process that learns
 * which of fifty thousand tasks are finished keeps no table of them. Returns
 * the number of lines.
 */
export async function forEachIndexEntry(paths: CachePaths, visit: (entry: IndexEntry) => void): Promise<number> {
  let text: string;
  try {
    text = readFileSync(paths.index, "utf8");
  } catch {
    return 0;
  }
  let lines = 0;
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    if (end > start) {
      lines += 1;
      try {
        const e = indexEntryOf(JSON.parse(text.slice(start, end)));
        if (e) visit(e);
      } catch {
        // a torn line: that task is read afresh
      }
    }
    start = end + 1;
  }
  return lines;
}

/** The views file as a map (last line of an id wins). */
export async function loadViews(paths: CachePaths): Promise<{ entries: Map<string, ViewEntry>; lines: number }> {
  const entries = new Map<string, ViewEntry>();
  const lines = await readLines(paths.views);
  let count = 0;
  for (const line of lines) {
    if (line === "") continue;
    count += 1;
    try {
      const v = JSON.parse(line) as ViewEntry;
      if (typeof v?.id !== "string" || !isIdentity(v.file) || (v.events !== null && !isIdentity(v.events)) || typeof v.task !== "object" || v.task === null) continue;
      entries.set(v.id, v);
    } catch {
      // skipped: read afresh
    }
  }
  return { entries, lines: count };
}

export function indexLine(e: IndexEntry): string {
  const stamp = e.order.slice(0, e.order.indexOf("\u0000"));
  return JSON.stringify([e.id, e.identity[0], e.identity[1], e.identity[2], e.state, e.lane, stamp]);
}

export function viewLine(e: ViewEntry): string {
  return JSON.stringify({ id: e.id, file: e.file, events: e.events, response_exists: e.response_exists, last_event: e.last_event, task: e.task });
}

/** Append lines in one write (O_APPEND); best effort: a read-only queue simply goes uncached. */
export async function appendLines(paths: CachePaths, file: string, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  try {
    // A line or two as tasks finish: plain system calls (the thread pool's round trips cost more than the calls).
    mkdirSync(paths.dir, { recursive: true, mode: STATE_DIR_MODE });
    appendFileSync(file, `${lines.join("\n")}\n`, { mode: STATE_FILE_MODE });
  } catch {
    // the cache is an optimisation; a queue we cannot write to is read in full next time
  }
}

/** Replace a cache file with exactly these lines (compaction, prune). */
export async function rewriteLines(paths: CachePaths, file: string, lines: readonly string[]): Promise<void> {
  try {
    await fs.mkdir(paths.dir, { recursive: true, mode: STATE_DIR_MODE });
    await writeFileAtomic(file, lines.length ? `${lines.join("\n")}\n` : "");
  } catch {
    // best effort, as appends
  }
}

/** A file's identity, or null when it is missing. Synchronous: used in tight loops over thousands of files. */
export function statIdentity(file: string): Identity | null {
  try {
    const stat = statSync(file, { throwIfNoEntry: false });
    return stat && stat.isFile() ? identityOf(stat) : null;
  } catch {
    return null; // unreadable: the scan reads the entry and reports why
  }
}

/** Whether a cache file holds enough dead lines to be worth rewriting. */
export function needsCompaction(lines: number, live: number): boolean {
  return lines > 1000 && lines > live * 2;
}

// --- The listing snapshot --------------------------------------------------
//
// tasks-listing.txt: what the tasks folder held when its (inode, mtime) was
// `dir` — its finished tasks (each checked against its task.json's identity
// when the snapshot was made) with their lanes, and everything else ("live":
// queued, claimed, unreadable, being created). Every task folder made or
// removed, by either tool, changes the tasks folder's mtime, and a finished
// task's task.json is never rewritten (PROTOCOL.md §5: no transition leaves
// completed or failed, in either implementation). So while the folder keeps
// that identity, a one-shot process takes the finished tasks from here
// without listing fifty thousand folders or stat'ing their files, and reads
// only the live ones. Written only from a full listing whose folder mtime was
// older than the racy window (scan.ts), by rename: never torn.
//
// Line 1: {"v":1,"dir":[ino,mtimeMs],"live":[ids],"finished":N,"lanes":{lane:N}};
// then one finished task a line: its id, a tab, its lane as a JSON string.

export interface ListingSnapshot {
  dir: [ino: number, mtimeMs: number];
  live: string[];
  /** Finished tasks by lane. */
  lanes: Record<string, number>;
  finishedCount: number;
  /** The finished tasks (id -> lane), parsed only when asked for. */
  finished(): Map<string, string>;
}

export function snapshotPath(paths: CachePaths): string {
  return path.join(paths.dir, "tasks-listing.txt");
}

/** The snapshot when it describes the folder with this identity; null when missing, stale or damaged. */
export async function readSnapshot(paths: CachePaths, dir: { ino: number; mtimeMs: number }): Promise<ListingSnapshot | null> {
  let text: string;
  try {
    text = readFileSync(snapshotPath(paths), "utf8");
  } catch {
    return null;
  }
  const nl = text.indexOf("\n");
  if (nl === -1) return null;
  let head: { v?: unknown; dir?: unknown; live?: unknown; finished?: unknown; lanes?: unknown };
  try {
    head = JSON.parse(text.slice(0, nl)) as typeof head;
  } catch {
    return null;
  }
  if (head.v !== 1 || !Array.isArray(head.dir) || head.dir[0] !== dir.ino || head.dir[1] !== dir.mtimeMs) return null;
  if (!Array.isArray(head.live) || !head.live.every((id) => typeof id === "string") || typeof head.finished !== "number") return null;
  const lanes = head.lanes;
  if (typeof lanes !== "object" || lanes === null || Array.isArray(lanes) || !Object.values(lanes).every((n) => typeof n === "number")) return null;
  const finishedCount = head.finished;
  // The body must hold exactly the count of lines the head announces: anything else is not this snapshot.
  let lines = 0;
  for (let at = text.indexOf("\n", nl + 1); at !== -1; at = text.indexOf("\n", at + 1)) lines += 1;
  if (lines !== finishedCount || (text.length > nl + 1 && !text.endsWith("\n"))) return null;
  return {
    dir: [dir.ino, dir.mtimeMs],
    live: head.live as string[],
    lanes: lanes as Record<string, number>,
    finishedCount,
    finished() {
      const map = new Map<string, string>();
      for (let start = nl + 1; start < text.length; ) {
        const end = text.indexOf("\n", start);
        const tab = text.indexOf("\t", start);
        if (tab !== -1 && tab < end) {
          let lane: unknown = null;
          try {
            lane = JSON.parse(text.slice(tab + 1, end));
          } catch {
            lane = null;
          }
          if (typeof lane === "string") map.set(text.slice(start, tab), lane);
        }
        start = end + 1;
      }
      return map;
    },
  };
}

/** Replace the snapshot (best effort, no fsync: a cache). `finished` maps id -> lane. */
export async function writeSnapshot(paths: CachePaths, dir: [number, number], live: readonly string[], finished: ReadonlyMap<string, string>): Promise<void> {
  const file = snapshotPath(paths);
  const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const lanes: Record<string, number> = {};
  const body: string[] = [];
  for (const [id, lane] of finished) {
    lanes[lane] = (lanes[lane] ?? 0) + 1;
    body.push(`${id}\t${JSON.stringify(lane)}\n`);
  }
  const head = JSON.stringify({ v: 1, dir, live, finished: finished.size, lanes });
  try {
    await fs.mkdir(paths.dir, { recursive: true, mode: STATE_DIR_MODE });
    await fs.writeFile(temp, `${head}\n${body.join("")}`, { mode: STATE_FILE_MODE });
    await fs.rename(temp, file);
  } catch {
    await fs.rm(temp, { force: true }).catch(() => undefined);
  }
}
