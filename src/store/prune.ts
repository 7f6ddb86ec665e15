// Retention: remove (or archive, then remove) finished tasks past a policy,
// with their correlation index files, under the queue lock. Never a live
// task, and never a task whose response nobody has fetched yet (`wait` writes
// the body to response_path; until a file there is at least as new as the
// response, the answer may still be wanted) unless forced.
//
// A pruned task folder is first renamed to a dot-name inside tasks/ (every
// reader, ours and Python's `tasks/*/task.json` glob, skips it), then
// removed: a reader never sees half a task. Archives hold one tar.gz per
// month of finishing, outside tasks/, and grow by appending.

import { promises as fs } from "node:fs";
import path from "node:path";
import { ensureDir, fsyncDir } from "./atomic.js";
import { locked, type StoreContext } from "./context.js";
import { ValidationError } from "./errors.js";
import { isInside, isValidTaskId } from "./layout.js";
import { readResponseFile, readTaskFile } from "./records.js";
import { cachePaths, indexLine, loadIndex, loadViews, rewriteLines, viewLine, type IndexEntry } from "./summary-cache.js";
import { parseIso } from "./time.js";
import type { Task, TaskResponse } from "./types.js";

export interface PruneOptions {
  /** Finished longer ago than this (ms). @default 30 days */
  olderThanMs?: number;
  /** Keep the newest N finished tasks of the selection, whatever their age. */
  keepLast?: number;
  lane?: string;
  /** Only tasks in these states. @default both */
  states?: ReadonlyArray<"completed" | "failed">;
  /** Move pruned tasks into <archiveDir>/<YYYY-MM>.tar.gz instead of deleting them outright. */
  archiveDir?: string;
  /** Report what would happen; change nothing. */
  dryRun?: boolean;
  /** Also prune tasks whose response was never fetched. */
  force?: boolean;
  /** @default the store's clock */
  now?: Date;
  /**
   * Called for each task just before its folder is removed (under the lock):
   * a hook for what lives outside the queue, e.g. a task's worktree.
   */
  beforeRemove?: (task: Task) => Promise<void>;
}

export interface PrunedTask {
  id: string;
  lane: string;
  state: "completed" | "failed";
  finished_at: string;
  /** The archive it went into, or null when removed outright. */
  archive: string | null;
}

export interface KeptTask {
  id: string;
  lane: string;
  state: "completed" | "failed";
  finished_at: string;
  reason: "response_not_fetched";
  /** What to do about it. */
  detail: string;
}

export interface PruneResult {
  dry_run: boolean;
  pruned: PrunedTask[];
  kept: KeptTask[];
  /** Archive files written. */
  archives: string[];
  /** Correlation index files removed with their task. */
  index_files: string[];
  /** Finished tasks left in the queue (within the policy, kept, or not selected). */
  remaining_finished: number;
}

export const DEFAULT_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

export function finishedAt(task: Task): string {
  return (task.state === "completed" ? task.completed_at : task.failed_at) ?? task.updated_at ?? task.created_at;
}

/** Whether the answer was fetched: `wait` wrote a file at response_path no older than the response. */
async function fetched(task: Task, response: TaskResponse | null): Promise<boolean> {
  if (response === null) return true; // nothing to fetch (failed without an answer)
  const target = path.resolve(task.workspace_root, task.response_path);
  const stat = await fs.stat(target).catch(() => null);
  if (!stat?.isFile()) return false;
  const answeredAt = parseIso(response.created_at)?.getTime() ?? 0;
  // One second of slack for file systems with coarse timestamps.
  if (stat.mtimeMs >= answeredAt - 1000) return true;
  const body = await fs.readFile(target, "utf8").catch(() => null);
  return body === response.body;
}

export { fetched as responseFetched };

/** <archiveDir>/<YYYY-MM>.tar.gz of the month a task finished in (UTC). */
function archiveFile(archiveDir: string, task: Task): string {
  const when = parseIso(finishedAt(task)) ?? new Date(0);
  return path.join(archiveDir, `${when.toISOString().slice(0, 7)}.tar.gz`);
}

/** Index files of the correlations folder whose task_id is one of `ids`, with that id. */
async function indexFilesOf(correlationsDir: string, ids: ReadonlySet<string>): Promise<Array<{ file: string; taskId: string }>> {
  const names = await fs.readdir(correlationsDir).catch(() => [] as string[]);
  const found: Array<{ file: string; taskId: string }> = [];
  for (const name of names) {
    if (!name.endsWith(".json") || name.startsWith(".")) continue;
    const file = path.join(correlationsDir, name);
    try {
      const value = JSON.parse(await fs.readFile(file, "utf8")) as { task_id?: unknown };
      if (typeof value.task_id === "string" && ids.has(value.task_id)) found.push({ file, taskId: value.task_id });
    } catch {
      // an unreadable index file belongs to nobody we know; left alone
    }
  }
  return found;
}

/** Apply a retention policy to the queue. */
/** The policy's numbers, checked. */
export function checkPruneOptions(opts: PruneOptions): { olderThanMs: number; keepLast: number; states: Set<string> } {
  const olderThanMs = opts.olderThanMs ?? DEFAULT_RETENTION_MS;
  const keepLast = opts.keepLast ?? 0;
  if (!Number.isFinite(olderThanMs) || olderThanMs < 0) throw new ValidationError("older_than must be a duration >= 0");
  if (!Number.isInteger(keepLast) || keepLast < 0) throw new ValidationError("keep_last must be a whole number >= 0");
  return { olderThanMs, keepLast, states: new Set<string>(opts.states ?? ["completed", "failed"]) };
}

/**
 * Which of the selected finished tasks go: past keep_last (newest first by
 * when they finished) and finished before `cutoff`; a task whose answer was
 * not fetched stays unless forced (`unfetched` gives the detail, or null when fetched).
 */
export async function choosePrune(
  selected: Task[],
  policy: { keepLast: number; cutoff: number; force: boolean },
  unfetched: (task: Task) => Promise<string | null>,
): Promise<{ victims: Task[]; kept: KeptTask[] }> {
  const sorted = [...selected].sort((a, b) => (finishedAt(a) < finishedAt(b) ? 1 : finishedAt(a) > finishedAt(b) ? -1 : 0));
  const kept: KeptTask[] = [];
  const victims: Task[] = [];
  for (const [i, task] of sorted.entries()) {
    if (i < policy.keepLast) continue;
    const at = parseIso(finishedAt(task))?.getTime();
    if (at === undefined || at > policy.cutoff) continue;
    const detail = policy.force ? null : await unfetched(task);
    if (detail !== null) {
      kept.push({ id: task.id, lane: task.lane, state: task.state as "completed" | "failed", finished_at: finishedAt(task), reason: "response_not_fetched", detail });
      continue;
    }
    victims.push(task);
  }
  return { victims, kept };
}

export async function pruneTasks(ctx: StoreContext, opts: PruneOptions = {}): Promise<PruneResult> {
  const now = opts.now ?? ctx.now();
  const { olderThanMs, keepLast, states } = checkPruneOptions(opts);
  const archiveDir = opts.archiveDir ? path.resolve(opts.archiveDir) : null;
  if (archiveDir && isInside(ctx.paths.tasks, archiveDir)) {
    throw new ValidationError(`the archive folder must lie outside the queue's tasks/ folder: ${archiveDir}`);
  }
  const cutoff = now.getTime() - olderThanMs;

  return locked(ctx, async (ctx) => {
    const names = await fs.readdir(ctx.paths.tasks).catch(() => [] as string[]);
    // Every finished task of the selection, read under the lock: nobody can change it meanwhile.
    const selected: Task[] = [];
    let finishedTotal = 0;
    for (const id of names) {
      if (id.startsWith(".") || !isValidTaskId(id)) continue;
      let task: Task;
      try {
        task = await readTaskFile(ctx.paths.taskFile(id), id);
      } catch {
        continue; // unreadable: never ours to remove
      }
      if (task.state !== "completed" && task.state !== "failed") continue;
      finishedTotal += 1;
      if ((opts.lane === undefined || task.lane === opts.lane) && states.has(task.state)) selected.push(task);
    }
    const pruned: PrunedTask[] = [];
    const { victims, kept } = await choosePrune(selected, { keepLast, cutoff, force: Boolean(opts.force) }, async (task) => {
      const response = await readResponseFile(ctx.paths.responseFile(task.id), task.id).catch(() => null);
      if (await fetched(task, response)) return null;
      return `no file at ${path.resolve(task.workspace_root, task.response_path)} as new as the response: run wait ${task.id}, or prune with --force`;
    });
    const ids = new Set(victims.map((t) => t.id));
    const indexFiles = await indexFilesOf(ctx.paths.correlations, ids);
    const archives = new Set<string>();
    for (const task of victims) {
      const archive = archiveDir ? archiveFile(archiveDir, task) : null;
      if (archive) archives.add(archive);
      pruned.push({ id: task.id, lane: task.lane, state: task.state as "completed" | "failed", finished_at: finishedAt(task), archive });
    }
    if (opts.dryRun || victims.length === 0) {
      return { dry_run: Boolean(opts.dryRun), pruned, kept, archives: [...archives], index_files: indexFiles.map((f) => f.file), remaining_finished: finishedTotal - (opts.dryRun ? 0 : victims.length) };
    }

    // 1. Archive first: a crash after this leaves the tasks in place and in the archive, never in neither.
    if (archiveDir) {
      const { appendToArchive } = await import("./archive.js");
      await ensureDir(archiveDir);
      const byArchive = new Map<string, Task[]>();
      for (const task of victims) {
        const file = archiveFile(archiveDir, task);
        byArchive.set(file, [...(byArchive.get(file) ?? []), task]);
      }
      for (const [file, tasks] of byArchive) {
        const taskIds = new Set(tasks.map((t) => t.id));
        const members = [
          ...tasks.map((t) => path.relative(ctx.paths.root, ctx.paths.taskDir(t.id))),
          ...indexFiles.filter((f) => taskIds.has(f.taskId)).map((f) => path.relative(ctx.paths.root, f.file)),
        ];
        await appendToArchive(ctx.paths.root, file, members);
      }
    }
    // 2. Index files, then each task folder: hidden by a rename, then removed.
    for (const { file } of indexFiles) await fs.rm(file, { force: true });
    if (indexFiles.length > 0) await fsyncDir(ctx.paths.correlations);
    for (const task of victims) {
      await opts.beforeRemove?.(task);
      const hidden = path.join(ctx.paths.tasks, `.pruned-${task.id}`);
      await fs.rename(ctx.paths.taskDir(task.id), hidden);
      await fs.rm(hidden, { recursive: true, force: true });
    }
    await fsyncDir(ctx.paths.tasks);
    // 3. The summary cache forgets them (it would skip them anyway: their files are gone).
    const cache = cachePaths(ctx.paths.root);
    const { entries } = await loadIndex(cache);
    const keep: IndexEntry[] = [...entries.values()].filter((e) => !ids.has(e.id));
    if (keep.length !== entries.size) await rewriteLines(cache, cache.index, keep.map(indexLine));
    const views = await loadViews(cache);
    const keepViews = [...views.entries.values()].filter((v) => !ids.has(v.id));
    if (keepViews.length !== views.entries.size) await rewriteLines(cache, cache.views, keepViews.map(viewLine));
    return { dry_run: false, pruned, kept, archives: [...archives], index_files: indexFiles.map((f) => f.file), remaining_finished: finishedTotal - victims.length };
  });
}
