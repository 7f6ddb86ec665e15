// What a dashboard shows and counts of finished tasks (the board's counts and
// recent cards, the charts), without parsing every task.json of a long-lived
// queue on each look. A finished task never changes (PROTOCOL.md §5), so its
// few facts — lane, state, times, vendor, cost — are read once and kept in
// <queue>/cache/finished-facts.jsonl beside the summary cache, one JSON line a
// task: [id, ino, mtimeMs, size, fact]. A line is used only while the task's
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

export interface FinishedFactsOptions {
  /** Return the facts of every task finished at or after this time (`window`). */
  since: Date;
  /** How many of the most recently finished tasks to return (`recent`). */
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
  window: FinishedFact[];
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

/** When a fact's task finished (ms): finished_at, else updated_at; 0 when neither parses. */
export function finishedMs(fact: Pick<FinishedFact, "finished_at" | "updated_at">): number {
  const at = Date.parse(fact.finished_at ?? fact.updated_at);
  return Number.isFinite(at) ? at : 0;
}

/** Folds facts into a FinishedFactsResult: counts, the newest `recent`, and the window. */
export class FactsFold {
  readonly result: FinishedFactsResult = { total: 0, counts: Object.create(null) as FinishedFactsResult["counts"], recent: [], window: [] };
  private readonly recentAt: number[] = [];
  private readonly sinceMs: number;
  constructor(private readonly options: FinishedFactsOptions) {
    this.sinceMs = options.since.getTime();
  }
  add(fact: FinishedFact): void {
    const r = this.result;
    r.total += 1;
    const lane = (r.counts[fact.lane] ??= { completed: 0, failed: 0 });
    lane[fact.state] += 1;
    const at = finishedMs(fact);
    if (at >= this.sinceMs) r.window.push(fact);
    // The newest `recent`, kept sorted newest first (a short list: insertion is cheap).
    const n = this.options.recent;
    if (n <= 0 || (this.recentAt.length >= n && at <= (this.recentAt[n - 1] as number))) return;
    let i = this.recentAt.findIndex((t) => at > t);
    if (i === -1) i = this.recentAt.length;
    this.recentAt.splice(i, 0, at);
    r.recent.splice(i, 0, fact);
    if (this.recentAt.length > n) {
      this.recentAt.pop();
      r.recent.pop();
    }
  }
}

export function factsPath(queueRoot: string): string {
  return path.join(cachePaths(queueRoot).dir, "finished-facts.jsonl");
}

function isFact(v: unknown): v is FinishedFact {
  const f = v as FinishedFact;
  return typeof f === "object" && f !== null && typeof f.id === "string" && typeof f.lane === "string" && (f.state === "completed" || f.state === "failed") && typeof f.cost_usd === "number";
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
  let lines = 0;
  const kept: string[] = [];
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    if (end > start) {
      lines += 1;
      const line = text.slice(start, end);
      try {
        const v = JSON.parse(line) as unknown[];
        const entry = typeof v[0] === "string" ? wanted.get(v[0]) : undefined;
        if (entry && Array.isArray(v) && v.length === 5 && sameIdentity(entry.identity, [v[1], v[2], v[3]] as [number, number, number]) && isFact(v[4])) {
          wanted.delete(entry.id);
          fold.add(v[4]);
          kept.push(line);
        }
      } catch {
        // a torn line (a crash mid-append): that task is read afresh
      }
    }
    start = end + 1;
  }
  text = "";
  const fresh: string[] = [];
  let read = 0;
  for (const e of wanted.values()) {
    if (++read % READS_PER_YIELD === 0) await new Promise((resolve) => setImmediate(resolve));
    let task: Task;
    let response: TaskResponse | null;
    try {
      task = await readTaskFile(paths.taskFile(e.id), e.id);
      response = await readResponseFile(paths.responseFile(e.id), e.id).catch(() => null);
    } catch {
      onStale?.(e.id); // gone or broken since the scanner learnt it finished
      continue;
    }
    const fact = factOf(task, response);
    const identity = statIdentity(paths.taskFile(e.id));
    if ((task.state !== "completed" && task.state !== "failed") || !sameIdentity(identity, e.identity) || orderKey(task) !== e.order) {
      onStale?.(e.id);
      if (task.state !== "completed" && task.state !== "failed") continue;
    } else {
      // Cached only when provably the file the index entry describes.
      fresh.push(JSON.stringify([e.id, e.identity[0], e.identity[1], e.identity[2], fact]));
    }
    fold.add(fact);
  }
  if (needsCompaction(lines + fresh.length, kept.length + fresh.length)) await rewriteLines(cache, file, [...kept, ...fresh]);
  else await appendLines(cache, file, fresh);
  return fold.result;
}
