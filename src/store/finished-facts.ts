// What a dashboard shows and counts of finished tasks (the board's counts and
// recent cards, the charts), without parsing every task.json of a long-lived
// queue on each look. A finished task never changes (PROTOCOL.md §5), so its
// few facts — lane, state, times, vendor, cost — are read once and kept in
// <queue>/cache/finished-facts.jsonl beside the summary cache, one short JSON
// line a task: [id, ino, mtimeMs, size, lane, state (0 completed, 1 failed),
// created, claimed, finished (ms since the epoch or null), vendor, cost].
// The few most recent cards are then read from their tasks' files. A line is used only while the task's
// task.json keeps that identity (inode, mtime, size); anything else is read
// afresh and appended (single O_APPEND writes, as summary-cache.ts). A cache:
// losing it costs one reading of the finished tasks.
//
// The PostgreSQL store answers the same question with aggregates and bounded
// queries (postgres/store.ts); both build a fact with factOf().

import { readResponseFile, readTaskFile } from "./records.js";
import type { QueuePaths } from "./layout.js";
import { orderKey } from "./scan.js";
import { appendLines, cachePaths, needsCompaction, rewriteLines, sameIdentity, statIdentity, type IndexEntry } from "./summary-cache.js";
import type { Task, TaskResponse, TerminalState } from "./types.js";
import { promises as fs } from "node:fs";
import path from "node:path";

/** What a dashboard shows and counts of one finished task: a few fields, never its prompt or answer. */
export interface FinishedFact {
  id: string;
  correlation_id: string;
  lane: string;
  state: TerminalState;
  created_at: string;
  updated_at: string;
  claimed_at: string | null;
  /** completed_at or failed_at; the response's created_at when neither is set. */
  finished_at: string | null;
  claim_owner: string | null;
  /** The task's metadata a card shows (strings and numbers only). */
  metadata: { vendor?: string | number; model?: string | number; model_class?: string | number; effort?: string | number };
  /** Who answered: the response's metadata.vendor, else the task's; null when neither names one. */
  vendor: string | null;
  /** The cost the run reported (the response's metadata.cost_usd); 0 when none. */
  cost_usd: number;
}

/** What the charts and counts need of a finished task: times in ms since the epoch (null when unknown). */
export interface FinishedTimes {
  id: string;
  lane: string;
  state: TerminalState;
  created_ms: number | null;
  claimed_ms: number | null;
  /** When it finished (completed_at, failed_at, the response's time, else updated_at). */
  finished_ms: number | null;
  vendor: string | null;
  cost_usd: number;
}

export interface FinishedFactsOptions {
  /** Return the times of every task finished at or after this time (`window`). */
  since: Date;
  /** How many of the most recently finished tasks to return as cards (`recent`). */
  recent: number;
}

export interface FinishedFactsResult {
  /** How many finished tasks the queue holds. */
  total: number;
  /** Every finished task counted by lane and state. */
  counts: Record<string, { completed: number; failed: number }>;
  /** The `recent` most recently finished tasks, newest first. */
  recent: FinishedFact[];
  /** Every task finished at or after `since`, in no particular order. */
  window: FinishedTimes[];
}

const CARD_KEYS = ["vendor", "model", "model_class", "effort"] as const;

/** The fact of a finished task and its response (either store; only the fields named in FinishedFact are read). */
export function factOf(task: Task, response: Pick<TaskResponse, "metadata" | "created_at"> | null): FinishedFact {
  const m = task.metadata ?? {};
  const metadata: FinishedFact["metadata"] = {};
  for (const key of CARD_KEYS) {
    const v = Object.hasOwn(m, key) ? m[key] : undefined;
    if (typeof v === "string" || typeof v === "number") metadata[key] = v;
  }
  const rm = response?.metadata ?? {};
  const vendor = typeof rm.vendor === "string" ? rm.vendor : typeof m.vendor === "string" ? m.vendor : null;
  const cost = typeof rm.cost_usd === "number" && Number.isFinite(rm.cost_usd) && rm.cost_usd > 0 ? rm.cost_usd : 0;
  return {
    id: task.id,
    correlation_id: task.correlation_id,
    lane: task.lane,
    state: task.state === "failed" ? "failed" : "completed",
    created_at: task.created_at,
    updated_at: task.updated_at,
    claimed_at: task.claimed_at ?? null,
    finished_at: task.completed_at ?? task.failed_at ?? (typeof response?.created_at === "string" ? response.created_at : null),
    claim_owner: task.claim_owner ?? null,
    metadata,
    vendor,
    cost_usd: cost,
  };
}

const ms = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const at = Date.parse(iso);
  return Number.isFinite(at) ? at : null;
};

/** The times of a fact. */
export function timesOf(fact: FinishedFact): FinishedTimes {
  return {
    id: fact.id,
    lane: fact.lane,
    state: fact.state,
    created_ms: ms(fact.created_at),
    claimed_ms: ms(fact.claimed_at),
    finished_ms: ms(fact.finished_at ?? fact.updated_at),
    vendor: fact.vendor,
    cost_usd: fact.cost_usd,
  };
}

/** Folds times into counts, the window and the ids of the newest `recent` (cards are made by the caller). */
export class FactsFold {
  readonly result: FinishedFactsResult = { total: 0, counts: Object.create(null) as FinishedFactsResult["counts"], recent: [], window: [] };
  /** The newest finished, newest first: [finished ms, id]. */
  private readonly newest: Array<[number, string]> = [];
  private readonly sinceMs: number;
  constructor(private readonly options: FinishedFactsOptions) {
    this.sinceMs = options.since.getTime();
  }
  add(t: FinishedTimes): void {
    const r = this.result;
    r.total += 1;
    const lane = (r.counts[t.lane] ??= { completed: 0, failed: 0 });
    lane[t.state] += 1;
    const at = t.finished_ms ?? 0;
    if (at >= this.sinceMs) r.window.push(t);
    // The newest `recent`, kept sorted newest first (a short list: insertion is cheap).
    const n = this.options.recent;
    if (n <= 0 || (this.newest.length >= n && at <= (this.newest[n - 1] as [number, string])[0])) return;
    let i = this.newest.findIndex(([other]) => at > other);
    if (i === -1) i = this.newest.length;
    this.newest.splice(i, 0, [at, t.id]);
    if (this.newest.length > n) this.newest.pop();
  }
  /** Ids of the most recently finished, newest first. */
  recentIds(): string[] {
    return this.newest.map(([, id]) => id);
  }
}

export function factsPath(queueRoot: string): string {
  return path.join(cachePaths(queueRoot).dir, "finished-facts.jsonl");
}

/** One cache line as times, or null for a torn or foreign one. */
function timesOfLine(v: unknown): { id: string; identity: [number, number, number]; times: FinishedTimes } | null {
  if (!Array.isArray(v) || v.length !== 11) return null;
  const [id, ino, mtimeMs, size, lane, state, created, claimed, finished, vendor, cost] = v as unknown[];
  const time = (x: unknown): boolean => x === null || typeof x === "number";
  if (typeof id !== "string" || typeof ino !== "number" || typeof mtimeMs !== "number" || typeof size !== "number" || typeof lane !== "string") return null;
  if ((state !== 0 && state !== 1) || !time(created) || !time(claimed) || !time(finished) || (vendor !== null && typeof vendor !== "string") || typeof cost !== "number") return null;
  return {
    id,
    identity: [ino, mtimeMs, size],
    times: {
      id,
      lane,
      state: state === 1 ? "failed" : "completed",
      created_ms: created as number | null,
      claimed_ms: claimed as number | null,
      finished_ms: finished as number | null,
      vendor: vendor as string | null,
      cost_usd: cost,
    },
  };
}

function lineOf(e: IndexEntry, t: FinishedTimes): string {
  return JSON.stringify([e.id, e.identity[0], e.identity[1], e.identity[2], t.lane, t.state === "failed" ? 1 : 0, t.created_ms, t.claimed_ms, t.finished_ms, t.vendor, t.cost_usd]);
}

/** The cache file's lines, parsed in one go (several times faster than a parse a line); a torn line makes it parse them one by one. */
function parseLines(text: string): { values: unknown[]; lines: string[] } {
  const lines = text.split("\n").filter((line) => line !== "");
  try {
    return { values: JSON.parse(`[${lines.join(",")}]`) as unknown[], lines };
  } catch {
    return {
      values: lines.map((line) => {
        try {
          return JSON.parse(line) as unknown;
        } catch {
          return null; // a torn line (a crash mid-append): that task is read afresh
        }
      }),
      lines,
    };
  }
}

/** A task's fact from its files; null when its task.json cannot be read. */
async function readFact(paths: QueuePaths, id: string): Promise<{ task: Task; fact: FinishedFact } | null> {
  try {
    const task = await readTaskFile(paths.taskFile(id), id);
    const response = await readResponseFile(paths.responseFile(id), id).catch(() => null);
    return { task, fact: factOf(task, response) };
  } catch {
    return null;
  }
}

/** Tasks read between two yields to the event loop, so a server stays responsive on a cold cache. */
const READS_PER_YIELD = 256;

/**
 * The finished-facts result of a file queue. `finished`: the scanner's index
 * entries of every finished task, each already checked against its task.json.
 * `onStale` is told of an entry whose task.json is no longer that file.
 */
export async function readFinishedFacts(
  paths: QueuePaths,
  finished: readonly IndexEntry[],
  options: FinishedFactsOptions,
  onStale?: (taskId: string) => void,
): Promise<FinishedFactsResult> {
  const cache = cachePaths(paths.root);
  const file = factsPath(paths.root);
  const wanted = new Map<string, IndexEntry>();
  for (const e of finished) wanted.set(e.id, e);
  const fold = new FactsFold(options);
  let text = "";
  try {
    text = await fs.readFile(file, "utf8");
  } catch {
    text = ""; // none yet (or unreadable: read afresh)
  }
  const { values, lines } = parseLines(text);
  text = "";
  const kept: string[] = [];
  values.forEach((v, i) => {
    const line = timesOfLine(v);
    const entry = line ? wanted.get(line.id) : undefined;
    if (!line || !entry || !sameIdentity(entry.identity, line.identity)) return;
    wanted.delete(entry.id);
    fold.add(line.times);
    kept.push(lines[i] as string);
  });
  const fresh: string[] = [];
  let read = 0;
  for (const e of wanted.values()) {
    if (++read % READS_PER_YIELD === 0) await new Promise((resolve) => setImmediate(resolve));
    const fact = await readFact(paths, e.id);
    if (fact === null) {
      onStale?.(e.id); // gone or broken since the scanner learnt it finished
      continue;
    }
    const identity = statIdentity(paths.taskFile(e.id));
    const finished = fact.task.state === "completed" || fact.task.state === "failed";
    if (!finished || !sameIdentity(identity, e.identity) || orderKey(fact.task) !== e.order) {
      onStale?.(e.id);
      if (!finished) continue;
    }
    const times = timesOf(fact.fact);
    // Cached only when provably the file the index entry describes.
    if (finished && sameIdentity(identity, e.identity) && orderKey(fact.task) === e.order) fresh.push(lineOf(e, times));
    fold.add(times);
  }
  if (needsCompaction(lines.length + fresh.length, kept.length + fresh.length)) await rewriteLines(cache, file, [...kept, ...fresh]);
  else await appendLines(cache, file, fresh);
  // The few newest as cards, read from their files.
  const cards = await Promise.all(fold.recentIds().map((id) => readFact(paths, id)));
  fold.result.recent = cards.filter((c): c is { task: Task; fact: FinishedFact } => c !== null).map((c) => c.fact);
  return fold.result;
}
