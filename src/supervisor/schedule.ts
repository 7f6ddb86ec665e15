// Scheduling in the dispatcher's select layer: which claimable tasks are due
// (not_before), ready (every depends_on completed) or doomed (a dependency
// failed, vanished or loops), in which order (priority, then age), which
// lanes are at their WIP limit, and when the next not_before falls due, so
// the dispatcher sets a timer for it instead of polling. The store re-checks
// not_before, dependencies and the WIP limit under its lock when claiming;
// this layer only avoids claims that would be refused.

import { readSchedule, type Schedule } from "../store/schedule.js";
import { leaseExpired } from "../store/context.js";
import type { Task, TaskState } from "../store/types.js";

/** A task that can never run because of a dependency: the dispatcher fails it with `reason`. */
export interface Doomed {
  task: Task;
  /** Names the dependency, e.g. "dependency 2026…-build failed: tests red". */
  reason: string;
  dependency: string;
}

export interface ScheduleView {
  /** Due, ready tasks, priority first then oldest, minus lanes at their WIP limit. */
  ready: Task[];
  /** Tasks to fail because of a dependency. */
  doomed: Doomed[];
  /** Epoch ms of the earliest future not_before among the offered tasks, or null. */
  nextDueMs: number | null;
}

/** What the scheduler needs to know of a dependency outside the live set. */
export interface DependencyInfo {
  state: TaskState | "missing";
  /** failure_reason of a failed task. */
  reason?: string | null;
}

export interface PlanInput {
  /** Claimable tasks this dispatcher may take, oldest first. */
  claimable: Task[];
  /** Every live (non-terminal) task of the queue, any lane: dependencies and WIP counts. */
  live: Task[];
  now: Date;
  /** lane -> max_running from handoff.yaml. */
  laneLimits?: Readonly<Record<string, number>>;
  /** Looks up a dependency that is not live (finished or gone). */
  lookup(taskId: string): Promise<DependencyInfo>;
}

/** Live leases per lane. */
export function runningByLane(live: readonly Task[], now: Date): Map<string, number> {
  const counts = new Map<string, number>();
  for (const task of live) {
    if (task.state === "claimed" && !leaseExpired(task, now)) counts.set(task.lane, (counts.get(task.lane) ?? 0) + 1);
  }
  return counts;
}

/** A dependency cycle through `start` among live tasks, as a path, or null. */
function cycleThrough(start: string, liveById: ReadonlyMap<string, Task>): string[] | null {
  const stack: Array<{ id: string; trail: string[] }> = [{ id: start, trail: [start] }];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const { id, trail } = stack.pop() as { id: string; trail: string[] };
    const task = liveById.get(id);
    if (!task) continue;
    for (const next of scheduleOf(task).dependsOn) {
      if (next === start) return [...trail, start];
      if (!seen.has(next)) {
        seen.add(next);
        stack.push({ id: next, trail: [...trail, next] });
      }
    }
  }
  return null;
}

/**
 * A task's schedule, kept per task object: the scanner hands out the same
 * object while its task.json is unchanged, and the dispatcher looks at every
 * claimable task at each look at the queue. (Keyed by the metadata object too,
 * so a copy with other metadata is read afresh.)
 */
const schedules = new WeakMap<Task, { metadata: Task["metadata"]; schedule: Schedule }>();

function scheduleOf(task: Task): Schedule {
  const cached = schedules.get(task);
  if (cached && cached.metadata === task.metadata) return cached.schedule;
  const schedule = readSchedule(task);
  schedules.set(task, { metadata: task.metadata, schedule });
  return schedule;
}

/** Sort the claimable tasks into ready, waiting and doomed. */
export async function planSchedule(input: PlanInput): Promise<ScheduleView> {
  const { now } = input;
  // Only dependencies need the live tasks by id (most queues have none).
  let liveMap: Map<string, Task> | null = null;
  const liveById = (): Map<string, Task> => (liveMap ??= new Map(input.live.map((t) => [t.id, t] as const)));
  const known = new Map<string, DependencyInfo>();
  const info = async (id: string): Promise<DependencyInfo> => {
    const live = liveById().get(id);
    if (live) return { state: live.state };
    let found = known.get(id);
    if (!found) {
      found = await input.lookup(id).catch((): DependencyInfo => ({ state: "missing" }));
      known.set(id, found);
    }
    return found;
  };

  const due: Task[] = [];
  const priorities: number[] = [];
  const doomed: Doomed[] = [];
  let nextDueMs: number | null = null;
  for (const task of input.claimable) {
    const schedule = scheduleOf(task);
    let blocked = false;
    let doom: Doomed | null = null;
    for (const dep of schedule.dependsOn) {
      const dependency = await info(dep);
      if (dependency.state === "completed") continue;
      if (dependency.state === "failed") {
        const why = dependency.reason ? `: ${firstLine(dependency.reason)}` : "";
        doom = { task, dependency: dep, reason: `dependency ${dep} failed${why}` };
      } else if (dependency.state === "missing") {
        doom = { task, dependency: dep, reason: `dependency ${dep} is not in the queue (deleted or pruned before it completed)` };
      } else {
        blocked = true;
        continue;
      }
      break;
    }
    if (!doom && blocked) {
      const cycle = cycleThrough(task.id, liveById());
      if (cycle) doom = { task, dependency: cycle[1] as string, reason: `dependency cycle ${cycle.join(" -> ")}: no task of it can ever start` };
    }
    if (doom) {
      doomed.push(doom);
      continue;
    }
    if (blocked) continue;
    if (schedule.notBefore && schedule.notBefore.getTime() > now.getTime()) {
      const at = schedule.notBefore.getTime();
      if (nextDueMs === null || at < nextDueMs) nextDueMs = at;
      continue;
    }
    due.push(task);
    priorities.push(schedule.priority);
  }

  const limits = input.laneLimits ?? {};
  const ordered = byPriorityThenAge(due, priorities);
  if (Object.keys(limits).length === 0) return { ready: ordered, doomed, nextDueMs };
  const running = runningByLane(input.live, now);
  const ready = ordered.filter((task) => {
    const limit = Object.hasOwn(limits, task.lane) ? limits[task.lane] : undefined;
    return limit === undefined || (running.get(task.lane) ?? 0) < limit;
  });
  return { ready, doomed, nextDueMs };
}

/** store/schedule.ts's byPriority (higher priority first, then the given age order), from priorities already read; no sort when all are equal. */
function byPriorityThenAge(tasks: Task[], priorities: readonly number[]): Task[] {
  const first = priorities[0];
  if (priorities.every((p) => p === first)) return tasks;
  return tasks
    .map((task, index) => ({ task, index, priority: priorities[index] as number }))
    .sort((a, b) => b.priority - a.priority || a.index - b.index)
    .map(({ task }) => task);
}

function firstLine(text: string): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== "") ?? "";
  return line.length > 200 ? `${line.slice(0, 199)}…` : line.trim();
}
