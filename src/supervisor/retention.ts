// The dispatcher's side of retention: handoff.yaml's `retention:` policy,
// applied once a day. The time of the last run is kept beside the queue
// (cache/retention.json), so several dispatchers of one queue, or one that
// restarts often, still prune about once a day, not once per start.

import { promises as fs } from "node:fs";
import path from "node:path";
import type { RetentionPolicy } from "../config/retention.js";
import type { PruneResult } from "../store/prune.js";
import { pruneWorktrees } from "./worktrees.js";
import type { Store } from "../store/types.js";

export const RETENTION_INTERVAL_MS = 24 * 60 * 60 * 1000;

export interface RetentionLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface RetentionOptions {
  /** A PostgreSQL queue's `shared` holds the last run in the database: one host prunes per interval. */
  store: Pick<Store, "prune" | "root" | "getResponse"> & Partial<Pick<Store, "shared">>;
  policy: RetentionPolicy;
  log: RetentionLog;
  /** @default one day */
  intervalMs?: number;
  /** Earliest first run after start (start-up is not slowed by a prune). @default 60 s, or AGENT_LANES_RETENTION_DELAY_MS */
  firstDelayMs?: number;
  now?: () => Date;
}

function stampFile(queueRoot: string): string {
  return path.join(queueRoot, "cache", "retention.json");
}

async function lastRun(queueRoot: string): Promise<number | null> {
  try {
    const value = JSON.parse(await fs.readFile(stampFile(queueRoot), "utf8")) as { last_run_at?: unknown };
    const at = typeof value.last_run_at === "string" ? Date.parse(value.last_run_at) : Number.NaN;
    return Number.isFinite(at) ? at : null;
  } catch {
    return null;
  }
}

/** Apply `policy` now, then once a day, until stop(). */
export function startRetention(options: RetentionOptions): { stop(): void; done(): Promise<void> } {
  const interval = options.intervalMs ?? RETENTION_INTERVAL_MS;
  const envDelay = Number(process.env.AGENT_LANES_RETENTION_DELAY_MS);
  const firstDelay = options.firstDelayMs ?? (Number.isFinite(envDelay) && envDelay >= 0 ? envDelay : 60_000);
  const now = options.now ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  const arm = (ms: number): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = run();
    }, Math.min(Math.max(0, ms), 2 ** 31 - 1));
    timer.unref();
  };

  const shared = options.store.shared;
  const run = async (): Promise<void> => {
    if (shared) {
      // Hosts share no folder: the database hands the turn to one dispatcher, on its clock.
      let turn: { due: boolean; inMs: number };
      try {
        turn = await shared.takeTurn("retention", interval);
      } catch (error) {
        options.log.warn({ err: error instanceof Error ? error.message : String(error) }, "retention: cannot reach the queue; trying again in an hour");
        return arm(Math.min(interval, 60 * 60 * 1000));
      }
      if (!turn.due) return arm(turn.inMs);
    } else {
      const previous = await lastRun(options.store.root);
      const due = previous === null ? 0 : previous + interval - now().getTime();
      if (due > 0) return arm(due);
    }
    try {
      const result: PruneResult = await options.store.prune({
        // A pruned task's worktree and branch go with it when merged or unchanged.
        beforeRemove: pruneWorktrees(options.store, {
          onRemoved: (task, reason) => options.log.info({ task_id: task.id }, `retention: ${reason}`),
          onKept: (task, reason) => options.log.warn({ task_id: task.id }, `retention: kept the worktree: ${reason}`),
        }),
        olderThanMs: options.policy.olderThanMs,
        keepLast: options.policy.keepLast,
        lane: options.policy.lane,
        states: options.policy.states,
        archiveDir: options.policy.archiveDir,
      });
      if (!shared) {
        await fs.mkdir(path.dirname(stampFile(options.store.root)), { recursive: true, mode: 0o700 });
        await fs.writeFile(stampFile(options.store.root), `${JSON.stringify({ last_run_at: now().toISOString(), pruned: result.pruned.length })}\n`, { mode: 0o600 });
      }
      options.log.info(
        { pruned: result.pruned.length, kept_unfetched: result.kept.length, remaining_finished: result.remaining_finished, archives: result.archives },
        `retention: pruned ${result.pruned.length} finished task(s)`,
      );
    } catch (error) {
      options.log.warn({ err: error instanceof Error ? error.message : String(error) }, "retention: prune failed; trying again in an hour");
      await shared?.giveBackTurn("retention").catch(() => undefined);
      return arm(Math.min(interval, 60 * 60 * 1000));
    }
    arm(interval);
  };

  arm(firstDelay);
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
    done: () => running,
  };
}
