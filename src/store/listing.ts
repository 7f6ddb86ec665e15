// list() and summaries(): the live tasks of a scan plus the finished tasks of
// the summary cache, filtered, ordered and cut before any finished task is
// materialised, so `--limit 20` on a queue of fifty thousand reads twenty
// tasks, and a full listing reads one cache file instead of a file per task.

import { readEventLines } from "./events.js";
import type { QueuePaths } from "./layout.js";
import { readTaskFile } from "./records.js";
import { isRegularFile } from "./safe-file.js";
import { orderKey, type ScanResult } from "./scan.js";
import { appendLines, cachePaths, loadViews, needsCompaction, rewriteLines, sameIdentity, statIdentity, viewLine, type IndexEntry, type ViewEntry } from "./summary-cache.js";
import { appendRendered, loadRendered, renderedPath, rewriteRendered, type FinishedRenderer, type RenderedRecord } from "./rendered-cache.js";
import type { ListOptions, Task, TaskEvent, TaskSummary } from "./types.js";

/** One row of a listing before it is read: a live task (parsed) or a finished one (index entry). */
interface Row {
  order: string;
  live: Task | null;
  finished: IndexEntry | null;
}

/** The order key a task id's own timestamp gives (a cursor whose task is gone). */
export function orderFromId(id: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{6})Z/.exec(id);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}\u0000${id}` : `\u0000${id}`;
}

/** The order-key prefix of a date: every task created at or after it sorts at or after it. */
export function orderFromDate(date: Date): string {
  const iso = date.toISOString(); // 2026-11-24T05:18:09.211Z
  return `${iso.slice(0, 19)}.${iso.slice(20, 23)}000`;
}

/** The rows a listing shows, in order, before reading any finished task. */
export function selectRows(scan: ScanResult, order: (task: Task) => string, opts: ListOptions): Row[] {
  const states = opts.states ? new Set<string>(opts.states) : null;
  const keep = (lane: string, state: string): boolean => (!opts.lane || lane === opts.lane) && (!states || states.has(state));
  const rows: Row[] = [];
  for (const task of scan.tasks) if (keep(task.lane, task.state)) rows.push({ order: order(task), live: task, finished: null });
  if (!opts.activeOnly) for (const e of scan.finished) if (keep(e.lane, e.state)) rows.push({ order: e.order, live: null, finished: e });
  const since = opts.since ? orderFromDate(opts.since) : null;
  let selected = since ? rows.filter((r) => r.order >= since) : rows;
  selected.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
  if (opts.newestFirst) selected.reverse();
  if (opts.after) {
    const cursor = selected.find((r) => (r.live?.id ?? r.finished?.id) === opts.after)?.order ?? orderFromId(opts.after);
    selected = selected.filter((r) => (opts.newestFirst ? r.order < cursor : r.order > cursor));
  }
  if (opts.limit !== undefined && opts.limit >= 0) selected = selected.slice(0, opts.limit);
  return selected;
}

/** The facts of a task, read from its files. */
export async function readFacts(paths: QueuePaths, taskId: string): Promise<{ response_exists: boolean; last_event: TaskEvent | null }> {
  const events = await readEventLines(paths.eventsFile(taskId)).catch(() => [] as TaskEvent[]);
  const responseExists = isRegularFile(paths.responseFile(taskId));
  return { response_exists: responseExists, last_event: events.at(-1) ?? null };
}

/** Finished rows beyond which the whole views file is read rather than each task's files. */
const VIEWS_FILE_AT = 200;

/**
 * Materialise rows. Finished tasks come from the views file when it has them
 * for the same task.json (and, with facts, the same events.jsonl); anything
 * missing or stale is read from the task's files and appended to the cache.
 */
export async function materialize(
  paths: QueuePaths,
  rows: readonly Row[],
  withFacts: boolean,
  /** Told of a finished row whose task.json is no longer the file the scan knew (unreadable, replaced, not finished). */
  onStale?: (taskId: string) => void,
): Promise<TaskSummary[]> {
  const finishedCount = rows.reduce((n, r) => n + (r.finished ? 1 : 0), 0);
  // Live tasks only and no facts (the dispatcher's look at the queue): nothing to read.
  if (finishedCount === 0 && !withFacts) return rows.map((row) => ({ task: row.live as Task, response_exists: false, last_event: null }));
  const cache = cachePaths(paths.root);
  const loaded = finishedCount >= VIEWS_FILE_AT ? await loadViews(cache) : null;
  const views: Map<string, ViewEntry> = loaded?.entries ?? new Map();
  const appended: string[] = [];
  const out: TaskSummary[] = new Array(rows.length);
  const width = 32;
  for (let i = 0; i < rows.length; i += width) {
    await Promise.all(
      rows.slice(i, i + width).map(async (row, j) => {
        const at = i + j;
        if (row.live) {
          const facts = withFacts ? await readFacts(paths, row.live.id) : { response_exists: false, last_event: null };
          out[at] = { task: row.live, ...facts };
          return;
        }
        const e = row.finished as IndexEntry;
        const cached = views.get(e.id);
        const eventsIdentity = withFacts || cached ? statIdentity(paths.eventsFile(e.id)) : null;
        if (cached && sameIdentity(cached.file, e.identity) && (!withFacts || sameIdentity(cached.events, eventsIdentity))) {
          out[at] = { task: cached.task, response_exists: cached.response_exists, last_event: cached.last_event };
          return;
        }
        let task: Task;
        try {
          task = await readTaskFile(paths.taskFile(e.id), e.id);
        } catch {
          // Gone or broken since the scanner learnt it finished (pruned, the folder replaced): the caller rescans it.
          onStale?.(e.id);
          return;
        }
        // The events file's identity before its read: an event appended meanwhile makes the entry stale, never wrong.
        const eventsBefore = statIdentity(paths.eventsFile(e.id));
        const facts = await readFacts(paths, e.id);
        const fileIdentity = statIdentity(paths.taskFile(e.id));
        // A finished task's file is never rewritten; another file under its name (restored, recreated, edited) is news to the scanner.
        if ((task.state !== "completed" && task.state !== "failed") || !sameIdentity(fileIdentity, e.identity)) onStale?.(e.id);
        // Cache only what is provably the file we read: finished, and the same file as the index entry.
        // (Only when the views file was read: a listing of a few finished tasks reads their files and needs no cache.)
        if (loaded && (task.state === "completed" || task.state === "failed") && sameIdentity(fileIdentity, e.identity) && orderKey(task) === e.order) {
          appended.push(viewLine({ id: e.id, file: e.identity, events: eventsBefore, ...facts, task }));
        }
        out[at] = { task, ...facts };
      }),
    );
  }
  if (loaded && needsCompaction(loaded.lines + appended.length, views.size)) {
    await rewriteLines(cache, cache.views, [...[...views.values()].map(viewLine), ...appended]);
  } else {
    await appendLines(cache, cache.views, appended);
  }
  return out.filter((s) => s !== undefined);
}

/** One item of a rendered listing: a task read and summarised, or a finished task's rendered view. */
export type ListingItem =
  | { summary: TaskSummary; rendered?: undefined }
  | { summary?: undefined; rendered: RenderedRecord; state: "completed" | "failed"; lane: string };

/**
 * As materialize() with facts, but a finished task whose rendered view is in
 * the rendered cache (rendered-cache.ts) for the same task.json and
 * events.jsonl comes as that text, unread and unparsed; the rest are read,
 * and finished ones rendered by `renderer` and added to the cache.
 */
export async function materializeRendered(
  paths: QueuePaths,
  rows: readonly Row[],
  renderer: FinishedRenderer,
  /** As materialize's: told of a finished row whose task.json is no longer the file the scan knew. */
  onStale?: (taskId: string) => void,
): Promise<ListingItem[]> {
  const finishedCount = rows.reduce((n, r) => n + (r.finished ? 1 : 0), 0);
  if (finishedCount < VIEWS_FILE_AT) return (await materialize(paths, rows, true, onStale)).map((summary) => ({ summary }));
  const cache = cachePaths(paths.root);
  const file = renderedPath(cache, renderer.tag);
  const loaded = await loadRendered(file);
  const out: Array<ListingItem | undefined> = new Array(rows.length);
  const misses: number[] = [];
  for (let i = 0; i < rows.length; i += 1) {
    const e = (rows[i] as Row).finished;
    const record = e ? loaded.records.get(e.id) : undefined;
    if (e && record && sameIdentity(record.file, e.identity) && sameIdentity(record.events, statIdentity(paths.eventsFile(e.id)))) {
      out[i] = { rendered: record, state: e.state, lane: e.lane };
    } else misses.push(i);
  }
  const fresh: RenderedRecord[] = [];
  const width = 32;
  for (let i = 0; i < misses.length; i += width) {
    await Promise.all(
      misses.slice(i, i + width).map(async (at) => {
        const row = rows[at] as Row;
        if (row.live) {
          out[at] = { summary: { task: row.live, ...(await readFacts(paths, row.live.id)) } };
          return;
        }
        const e = row.finished as IndexEntry;
        let task: Task;
        try {
          task = await readTaskFile(paths.taskFile(e.id), e.id);
        } catch {
          onStale?.(e.id); // gone or broken since the scanner learnt it finished: the caller rescans it
          return;
        }
        // The events file's identity before its read: an event appended meanwhile makes the record stale, never wrong.
        const eventsBefore = statIdentity(paths.eventsFile(e.id));
        const facts = await readFacts(paths, e.id);
        const summary: TaskSummary = { task, ...facts };
        const fileIdentity = statIdentity(paths.taskFile(e.id));
        const state = task.state === "completed" || task.state === "failed" ? task.state : null;
        if (state === null || !sameIdentity(fileIdentity, e.identity)) onStale?.(e.id);
        // Render only what is provably the file the index entry describes, and finished.
        if (state !== null && sameIdentity(fileIdentity, e.identity) && orderKey(task) === e.order) {
          const record: RenderedRecord = { id: e.id, file: e.identity, events: eventsBefore, response_exists: facts.response_exists, ...renderer.render(summary) };
          fresh.push(record);
          out[at] = { rendered: record, state, lane: task.lane };
          return;
        }
        out[at] = { summary };
      }),
    );
  }
  if (loaded.damaged || needsCompaction(loaded.count + fresh.length, loaded.records.size + fresh.length)) {
    for (const r of fresh) loaded.records.set(r.id, r);
    await rewriteRendered(cache, file, loaded.records.values());
  } else {
    await appendRendered(cache, file, fresh);
  }
  return out.filter((item): item is ListingItem => item !== undefined);
}
