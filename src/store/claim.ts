// claim: take a queued task, or a claimed one whose lease ran out, under a new
// random token. The request file must still hash to what was submitted.

import { randomBytes } from "node:crypto";
import { addEvent, isTerminal, leaseExpired, loadTask, locked, saveTask, sha256File, type StoreContext } from "./context.js";
import { TransitionError, ValidationError, showValue } from "./errors.js";
import { assertOneLineName } from "./input-shape.js";
import { settleFromResponse } from "./respond.js";
import { readSchedule } from "./schedule.js";
import { isoFromDate } from "./time.js";
import { appendEvents, checkedEvents, eventOf, readEventLines } from "./events.js";
import type { ClaimInput, EventInput, Task } from "./types.js";

/** @default 7200 s, PROTOCOL.md §5 */
export const DEFAULT_LEASE_SECONDS = 7200;

/** 100 years: a longer lease would put lease_expires_at past the last representable date. */
export const MAX_LEASE_SECONDS = 100 * 365 * 24 * 3600;

export function checkLeaseSeconds(value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > MAX_LEASE_SECONDS) {
    throw new ValidationError(
      `Expected \`lease_seconds\` to be a number > 0 and <= ${MAX_LEASE_SECONDS} (100 years), got \`${showValue(value)}\` (${typeof value})`,
    );
  }
  return value;
}

/**
 * Scheduling refusals, checked under the lock: a future not_before, unfinished
 * dependencies, and the lane's WIP limit (`running` counts the live leases of
 * a lane from the queue itself, so every dispatcher on the queue sees the same count).
 */
export async function refuseUnscheduled(
  stateOf: (taskId: string) => Promise<string>,
  task: Task,
  now: Date,
  maxRunning: number | null,
  running: (lane: string) => Promise<number>,
): Promise<void> {
  const schedule = readSchedule(task);
  if (schedule.notBefore && schedule.notBefore.getTime() > now.getTime()) {
    throw new TransitionError("not_due", `cannot claim ${task.id}; not before ${isoFromDate(schedule.notBefore)}`, { taskId: task.id });
  }
  for (const dep of schedule.dependsOn) {
    const state = await stateOf(dep);
    if (state !== "completed") {
      throw new TransitionError("not_due", `cannot claim ${task.id}; it depends on ${dep}, which is ${state === "missing" ? "not in the queue" : state}`, { taskId: task.id });
    }
  }
  if (maxRunning !== null && (await running(task.lane)) >= maxRunning) {
    throw new TransitionError("lane_full", `cannot claim ${task.id}; lane ${task.lane} already runs ${maxRunning} task(s) (lanes.${task.lane}.max_running)`, { taskId: task.id });
  }
}

/** Live leases of `lane`, for the WIP limit; `running` is the store's count under the lock already held. */
export type LaneRunningCount = (lane: string) => Promise<number>;

/** A claim's input, checked before anything is read. */
export function checkClaimInput(taskId: string, input: ClaimInput): { owner: string; leaseSeconds: number; maxRunning: number | null } {
  const leaseSeconds = checkLeaseSeconds(input.leaseSeconds ?? DEFAULT_LEASE_SECONDS);
  const owner = input.owner;
  if (typeof owner !== "string" || owner === "") throw new ValidationError("owner is required and must be a non-empty string");
  assertOneLineName("owner", owner, { taskId });
  const maxRunning = input.maxRunning ?? null;
  if (maxRunning !== null && (!Number.isInteger(maxRunning) || maxRunning < 1)) {
    throw new ValidationError(`Expected \`max_running\` to be a whole number >= 1, got \`${showValue(maxRunning)}\``);
  }
  return { owner, leaseSeconds, maxRunning };
}

/** Refuse a finished task and a live lease (`now` is the store's clock). */
export function refuseUnclaimable(task: Task, now: Date): void {
  if (isTerminal(task)) {
    throw new TransitionError("invalid_state", `cannot claim ${task.id}; task is ${task.state}`, { taskId: task.id });
  }
  if (task.state === "claimed" && !leaseExpired(task, now)) {
    throw new TransitionError("lease_held", `cannot claim ${task.id}; active lease held by ${task.claim_owner ?? "unknown"}`, { taskId: task.id });
  }
}

/** The task as a claim leaves it: a fresh random token, the owner, the claim time and the lease's end (both stores). */
export function claimedTask(task: Task, owner: string, stamp: string, leaseExpiresAt: string): Task {
  return {
    ...task,
    state: "claimed",
    claim_owner: owner,
    claim_token: randomBytes(16).toString("hex"),
    claimed_at: stamp,
    lease_expires_at: leaseExpiresAt,
    updated_at: stamp,
  };
}

export function claimTask(ctx: StoreContext, taskId: string, input: ClaimInput, running: LaneRunningCount = async () => 0): Promise<Task> {
  const { owner, leaseSeconds, maxRunning } = checkClaimInput(taskId, input);
  return locked(ctx, async (ctx) => {
    const loaded = await loadTask(ctx, taskId);
    const task = (await settleFromResponse(ctx, loaded)) ?? loaded;
    const now = ctx.now();
    refuseUnclaimable(task, now);
    const stateOf = (dep: string): Promise<string> => loadTask(ctx, dep).then((t) => t.state, () => "missing");
    await refuseUnscheduled(stateOf, task, now, maxRunning, running);
    const current = await sha256File(ctx, task.request_path, taskId);
    if (current === null) {
      throw new TransitionError("request_changed", `request source is missing for ${taskId}: ${task.request_path}; restore it or resubmit the task`, { taskId });
    }
    if (current !== task.request_sha256) {
      throw new TransitionError(
        "request_changed",
        `request hash mismatch for ${taskId}: submitted ${task.request_sha256}, now ${current} (${task.request_path} changed after submit; resubmit the task)`,
        { taskId },
      );
    }
    const stamp = ctx.stamp();
    const claimed = claimedTask(task, owner, stamp, isoFromDate(new Date(now.getTime() + leaseSeconds * 1000)));
    const event: EventInput = { type: "claimed", message: `claimed by ${owner}`, data: { owner } };
    if (input.events) {
      // The caller's events go in the same write (and fsync) as `claimed`, right after it.
      const logged = eventOf(event);
      const history = [...(await readEventLines(ctx.paths.eventsFile(taskId))), logged];
      const extra = checkedEvents(taskId, input.events(claimed, history));
      await appendEvents(ctx.paths.eventsFile(taskId), [logged, ...extra.map((e) => eventOf(e))], ctx.batch);
    } else {
      await addEvent(ctx, taskId, event);
    }
    await saveTask(ctx, claimed);
    ctx.onWrite(taskId);
    return claimed;
  });
}
