// Scheduling fields of a task, kept in its metadata so the Python tool still
// reads and writes the file: `not_before` (ISO time; not claimable before),
// `priority` (integer, higher first within a lane) and `depends_on` (task ids
// that must complete first). This module reads them leniently from any task
// (a hand-written or Python-written one may hold "5" or "a,b") and validates
// them strictly at create, where a dependency cycle is refused.

import { ValidationError, showValue } from "./errors.js";
import { isValidTaskId } from "./layout.js";
import { isoFromDate, parseIso } from "./time.js";
import type { Task } from "./types.js";

/** The metadata keys this module owns. */
export const SCHEDULE_KEYS = { notBefore: "not_before", priority: "priority", dependsOn: "depends_on" } as const;

/** Longest dependency chain walked at submit (cycle check) before giving up on it. */
const MAX_DEPENDENCY_WALK = 10_000;

export interface Schedule {
  notBefore: Date | null;
  /** @default 0 */
  priority: number;
  dependsOn: string[];
}

/** The schedule a task carries; unreadable values count as absent. */
export function readSchedule(task: Pick<Task, "metadata">): Schedule {
  const meta = task.metadata ?? {};
  return {
    notBefore: parseIso(meta[SCHEDULE_KEYS.notBefore]),
    priority: priorityOf(meta[SCHEDULE_KEYS.priority]) ?? 0,
    dependsOn: idsOf(meta[SCHEDULE_KEYS.dependsOn]) ?? [],
  };
}

function priorityOf(value: unknown): number | null {
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  if (typeof value === "string" && /^\s*[+-]?\d{1,15}\s*$/.test(value)) return Number(value);
  return null;
}

/** A list of ids, or one string holding ids separated by commas or spaces. */
function idsOf(value: unknown): string[] | null {
  if (value === undefined || value === null || value === "") return null;
  const parts = Array.isArray(value) ? value : typeof value === "string" ? value.split(/[\s,]+/) : null;
  if (parts === null) return null;
  const ids = parts.filter((p): p is string => typeof p === "string" && p.trim() !== "").map((p) => p.trim());
  return [...new Set(ids)];
}

/** True while the task's not_before lies after `now`. */
export function notYetDue(task: Pick<Task, "metadata">, now: Date): boolean {
  const at = readSchedule(task).notBefore;
  return at !== null && at.getTime() > now.getTime();
}

/**
 * A time as the user wrote it: an ISO-8601 time (a zone is required, or it is
 * read as UTC like every protocol timestamp), or `+N[s|m|h|d]` from `now`.
 */
export function parseWhen(value: unknown, now: Date, field = "not_before"): Date {
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value;
  if (typeof value === "string") {
    const relative = /^\+(\d{1,9})([smhd]?)$/.exec(value.trim());
    if (relative) {
      const unit = { "": 60_000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as "" | "s" | "m" | "h" | "d"];
      return new Date(now.getTime() + Number(relative[1]) * unit);
    }
    const parsed = parseIso(value);
    if (parsed && parsed.getUTCFullYear() < 10_000 && fieldsInRange(value)) return parsed;
  }
  throw new ValidationError(
    `${field} must be an ISO time (2026-11-25T18:00:00Z) or a delay from now (+30m, +2h, +45s, +1d), got \`${showValue(value)}\``,
  );
}

/** parseIso lets Date.UTC roll month 13 into the next year; a user's typo must be refused instead. */
function fieldsInRange(text: string): boolean {
  const m = /^\s*\d{4}-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})/.exec(text);
  if (!m) return false;
  const [mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && s <= 59;
}

export interface ScheduleInput {
  not_before?: unknown;
  priority?: unknown;
  depends_on?: unknown;
}

/**
 * The validated schedule of a new task, as metadata entries to merge (only
 * the keys that are set). Explicit fields win over the same keys in `metadata`.
 * `lookup` reads an existing task (throws when unknown), for the dependency
 * checks: every dependency must exist and no dependency chain may loop.
 */
export async function scheduleMetadata(
  input: ScheduleInput,
  metadata: Record<string, unknown>,
  now: Date,
  lookup: (taskId: string) => Promise<Task | null>,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const pick = (key: keyof ScheduleInput): unknown => (input[key] !== undefined && input[key] !== null ? input[key] : metadata[key]);

  const when = pick("not_before");
  if (when !== undefined && when !== null && when !== "") out[SCHEDULE_KEYS.notBefore] = isoFromDate(parseWhen(when, now));

  const priority = pick("priority");
  if (priority !== undefined && priority !== null && priority !== "") {
    const value = priorityOf(priority);
    if (value === null) throw new ValidationError(`priority must be a whole number (higher runs first, default 0), got \`${showValue(priority)}\``);
    out[SCHEDULE_KEYS.priority] = value;
  }

  const deps = pick("depends_on");
  if (deps !== undefined && deps !== null && deps !== "") {
    const ids = Array.isArray(deps) || typeof deps === "string" ? idsOf(deps) : null;
    if (ids === null || (Array.isArray(deps) && deps.some((d) => typeof d !== "string"))) {
      throw new ValidationError(`depends_on must be a list of task ids, got \`${showValue(deps)}\``);
    }
    for (const id of ids) {
      if (!isValidTaskId(id)) throw new ValidationError(`depends_on names an invalid task id: ${JSON.stringify(id)}`);
    }
    await checkDependencies(ids, lookup);
    if (ids.length > 0) out[SCHEDULE_KEYS.dependsOn] = ids;
  }
  return out;
}

/** Every dependency exists, and no chain of depends_on reachable from them loops back. */
async function checkDependencies(ids: string[], lookup: (taskId: string) => Promise<Task | null>): Promise<void> {
  const cache = new Map<string, Task | null>();
  const get = async (id: string): Promise<Task | null> => {
    if (!cache.has(id)) cache.set(id, await lookup(id));
    return cache.get(id) ?? null;
  };
  for (const id of ids) {
    if ((await get(id)) === null) throw new ValidationError(`depends_on names a task that is not in the queue: ${id}; submit it first or drop it from --after`);
  }
  // Depth-first walk with the path on a stack: meeting a task already on the path is a cycle.
  const done = new Set<string>();
  let walked = 0;
  const visit = async (id: string, trail: string[]): Promise<void> => {
    if (done.has(id)) return;
    const at = trail.indexOf(id);
    if (at >= 0) {
      throw new ValidationError(`depends_on would wait on a dependency cycle: ${[...trail.slice(at), id].join(" -> ")}; break the cycle first`);
    }
    if ((walked += 1) > MAX_DEPENDENCY_WALK) throw new ValidationError(`depends_on chain is longer than ${MAX_DEPENDENCY_WALK} tasks`);
    const task = await get(id);
    if (task) for (const next of readSchedule(task).dependsOn) await visit(next, [...trail, id]);
    done.add(id);
  };
  for (const id of ids) await visit(id, []);
}

/** Claim order within a lane: higher priority first, then the scanner's age order. */
export function byPriority<T extends Pick<Task, "metadata">>(tasks: T[]): T[] {
  return tasks
    .map((task, index) => ({ task, index, priority: readSchedule(task).priority }))
    .sort((a, b) => b.priority - a.priority || a.index - b.index)
    .map(({ task }) => task);
}

/**
 * A filter over one scan: due (not_before passed) and every dependency
 * completed. `tasks` must hold the finished tasks too, to see the dependencies.
 */
export function readyToRun(tasks: readonly Task[], now: Date): (task: Task) => boolean {
  const states = new Map(tasks.map((t) => [t.id, t.state] as const));
  return (task) => {
    const schedule = readSchedule(task);
    if (schedule.notBefore && schedule.notBefore.getTime() > now.getTime()) return false;
    return schedule.dependsOn.every((id) => states.get(id) === "completed");
  };
}
