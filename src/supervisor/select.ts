// Which tasks this dispatcher may take: queued or lease-expired tasks of its
// lanes that its adapter accepts, oldest first. A task for another vendor is
// filtered out, never waited on, so it cannot block a newer one of ours. One
// scan also yields when the earliest live lease of an acceptable task ends
// (the next moment something may become claimable without a file event) and
// the unreadable task files, each reported once. Scheduling (not_before,
// priority, depends_on, per-lane WIP limits) is schedule.ts's: it orders the
// candidates, holds back what is not due or ready, and names the tasks a
// failed dependency dooms.

import { isClaimable } from "../store/context.js";
import { StoreError } from "../store/errors.js";
import { parseIso } from "../store/time.js";
import type { ScanProblem, Store, Task } from "../store/types.js";
import { planSchedule, type DependencyInfo, type Doomed } from "./schedule.js";

export interface Selection {
  /** Claimable tasks this dispatcher may take now: higher priority first, then oldest. */
  candidates: Task[];
  /** Tasks a failed, missing or cyclic dependency keeps from ever running: to be failed. */
  doomed: Doomed[];
  /** Epoch ms of the earliest future not_before of an acceptable task, or null. */
  nextDueMs: number | null;
  /** Epoch ms at which the earliest live lease on an acceptable task ends, or null. */
  nextLeaseExpiryMs: number | null;
  /** Task files that could not be read, not reported before. */
  newProblems: ScanProblem[];
}

export interface SelectorOptions {
  store: Pick<Store, "list" | "problems"> & Partial<Pick<Store, "get">>;
  lanes: readonly string[];
  /** lane -> max_running (handoff.yaml lanes.<name>.max_running), or a getter for limits that a reload may change. */
  laneLimits?: Readonly<Record<string, number>> | (() => Readonly<Record<string, number>>);
  /** The adapter's filter (metadata.required_vendor). */
  accepts(task: Task): boolean;
}

export interface Selector {
  /** Look at the queue once; `skip` holds ids not to offer (running here, cooling down). */
  select(now: Date, skip?: ReadonlySet<string>): Promise<Selection>;
}

/** A selector over the store's scan (list of live tasks, cached by the store). */
export function createSelector(options: SelectorOptions): Selector {
  const lanes = new Set(options.lanes);
  // file -> message already reported; forgotten when the file is fixed, so a new breakage is reported again.
  const reported = new Map<string, string>();

  const accepts = (task: Task): boolean => {
    try {
      return options.accepts(task);
    } catch {
      // A throwing filter must not stop the others: the task is simply not ours.
      return false;
    }
  };

  /** A dependency that is not live: finished (read its state) or gone. */
  const dependency = async (taskId: string): Promise<DependencyInfo> => {
    if (!options.store.get) return { state: "missing" };
    try {
      const task = await options.store.get(taskId);
      return { state: task.state, reason: task.failure_reason };
    } catch (error) {
      // Only a task that is really gone dooms its dependants; a read error just waits.
      const gone = error instanceof StoreError && (error.code === "unknown_task" || error.code === "invalid_task_id");
      return { state: gone ? "missing" : "queued" };
    }
  };

  return {
    async select(now, skip = new Set()) {
      // One scan (list of live tasks) gives both the claimable tasks and the
      // leases still running, which `available()` alone would not show.
      const live = await options.store.list({ activeOnly: true });
      const claimable: Task[] = [];
      let nextLeaseExpiryMs: number | null = null;
      for (const task of live) {
        if (!lanes.has(task.lane) || skip.has(task.id) || !accepts(task)) continue;
        if (isClaimable(task, now)) {
          claimable.push(task);
        } else if (task.state === "claimed") {
          const expires = parseIso(task.lease_expires_at)?.getTime();
          if (expires !== undefined && (nextLeaseExpiryMs === null || expires < nextLeaseExpiryMs)) nextLeaseExpiryMs = expires;
        }
      }
      const plan = await planSchedule({ claimable, live, now, laneLimits: typeof options.laneLimits === "function" ? options.laneLimits() : options.laneLimits, lookup: dependency });
      const problems = options.store.problems();
      const seen = new Set<string>();
      const newProblems: ScanProblem[] = [];
      for (const problem of problems) {
        seen.add(problem.file);
        if (reported.get(problem.file) !== problem.message) {
          reported.set(problem.file, problem.message);
          newProblems.push(problem);
        }
      }
      for (const file of reported.keys()) if (!seen.has(file)) reported.delete(file);
      return { candidates: plan.ready, doomed: plan.doomed, nextDueMs: plan.nextDueMs, nextLeaseExpiryMs, newProblems };
    },
  };
}
