// Carry out a run's settlement (settle.ts decides it): the matching event,
// then respond, release, pause the vendor and release, or drop. Returns how
// the trip ended, for the dispatcher's counters.

import type { ChildResult, Outcome } from "../../vendors/types.js";
import type { Task } from "../store/types.js";
import { EVENT, firstLine } from "./attempts.js";
import type { ResolvedOptions } from "./options.js";
import { decideSettlement, type Settlement } from "./settle.js";
import { errorMessage, type Trip } from "./trip.js";

/** How a task's trip ended, for the dispatcher's counters. */
export type TaskEnd = "completed" | "failed" | "released" | "usage-limit" | "dropped";

export interface SettleDeps {
  options: ResolvedOptions;
  /** A usage-limit outcome: pause the vendor (the task is released here). */
  onUsageLimit(settlement: Extract<Settlement, { action: "usage-limit" }>, task: Task): Promise<{ until: string } | null>;
}

/** What settlement sees of a run that never started (the preparation failed). */
function noRun(): ChildResult {
  return {
    exitCode: null,
    signal: null,
    stdout: "",
    stderr: "",
    stdoutTruncated: false,
    stderrTruncated: false,
    durationMs: 0,
    killedBy: null,
    spawnError: null,
    invocation: { file: "", args: [], input: "", cwd: "" },
  };
}

/** Decide and write the settlement of `outcome`; `run` is null when nothing ran. */
export async function settleTask(trip: Trip, outcome: Outcome, run: ChildResult | null, deps: SettleDeps): Promise<TaskEnd> {
  const { options } = deps;
  const { info, log } = trip;
  const ran = run ?? noRun();
  const settlement = decideSettlement(outcome, ran, { info, maxAttempts: options.maxAttempts, vendor: options.vendor, owner: options.owner });
  const facts = { attempt: info.attempt, duration_ms: ran.durationMs, exit_code: ran.exitCode };
  const failedData = (reason: string, action: string, countsAsAttempt: boolean): Record<string, unknown> => ({
    ...facts,
    signal: ran.signal,
    killed_by: ran.killedBy ?? null,
    spawn_error: ran.spawnError?.message ?? null,
    action,
    counts_as_attempt: countsAsAttempt,
    reason,
  });

  switch (settlement.action) {
    case "complete": {
      // The run's report goes into the respond's own transition (one lock and one fsync for both).
      const report = trip.note(EVENT.headlessCompleted, `completed in ${ran.durationMs} ms`, {
        ...facts,
        model_used: settlement.metadata.model_used ?? null,
        effort_used: settlement.metadata.effort_used ?? null,
        cost_usd: settlement.metadata.cost_usd ?? null,
      });
      const ok = await trip.respond("completed", settlement.body, settlement.metadata, [report]);
      log.info({ duration_ms: ran.durationMs, responded: ok }, ok ? "task completed" : "task completed but the response was dropped");
      return ok ? "completed" : "dropped";
    }
    case "fail": {
      const report = trip.note(EVENT.headlessFailed, settlement.reason, failedData(settlement.reason, "fail", true));
      const ok = await trip.respond("failed", settlement.body, settlement.metadata, [report]);
      log.warn({ duration_ms: ran.durationMs, reason: settlement.reason }, ok ? "task failed" : "task failed but the response was dropped");
      return ok ? "failed" : "dropped";
    }
    case "release": {
      await trip.event(EVENT.headlessFailed, settlement.reason, failedData(settlement.reason, "release", settlement.countsAsAttempt));
      const ok = await trip.release(settlement.reason);
      log.warn({ duration_ms: ran.durationMs, reason: settlement.reason }, "task released for another attempt");
      return ok ? "released" : "dropped";
    }
    case "usage-limit": {
      const login = settlement.pauseKind === "needs-login";
      const reason = login ? `needs login: ${firstLine(settlement.message)}; ${settlement.fix ?? ""}` : `usage limit: ${firstLine(settlement.message)}`;
      await trip.event(EVENT.headlessFailed, reason, failedData(reason, settlement.pauseKind, false));
      const pause = await deps.onUsageLimit(settlement, trip.task).catch((error) => {
        log.error({ err: errorMessage(error) }, "could not write the vendor pause");
        return null;
      });
      await trip.event(login ? EVENT.needsLogin : EVENT.usageLimit, settlement.message, {
        attempt: info.attempt,
        ...(login ? { fix: settlement.fix ?? null } : {}),
        reset_at: settlement.resetAt ? settlement.resetAt.toISOString() : null,
        paused_until: pause?.until ?? null,
      });
      const ok = await trip.release(reason);
      if (login) log.warn({ paused_until: pause?.until ?? null, fix: settlement.fix }, `needs login: task released (attempt not counted), vendor paused: ${firstLine(settlement.message)}; fix: ${settlement.fix}`);
      else log.warn({ reset_at: settlement.resetAt?.toISOString() ?? null, paused_until: pause?.until ?? null }, "usage limit: task released, vendor paused");
      return ok ? "usage-limit" : "dropped";
    }
    case "drop": {
      await trip.event(EVENT.headlessFailed, settlement.reason, failedData(settlement.reason, "drop", true));
      log.warn({ duration_ms: ran.durationMs }, "claim lost: child stopped, nothing written");
      return "dropped";
    }
  }
}

/** Fail a task whose earlier attempts all ended without settling (e.g. a dispatcher killed mid-run each time). */
export async function giveUp(trip: Trip, options: ResolvedOptions): Promise<TaskEnd> {
  const { info, task } = trip;
  const body = [
    `${options.vendor} dispatcher gave up on ${task.id}: ${info.counted - 1} earlier attempts did not finish (--max-attempts ${options.maxAttempts}).`,
    "",
    "Attempt history:",
    ...info.history.map((line) => `- ${line}`),
    "",
  ].join("\n");
  trip.log.warn("attempts exhausted before running; failing the task");
  const ok = await trip.respond("failed", body, { attempt: info.attempt, vendor: options.vendor, dispatcher: options.owner });
  return ok ? "failed" : "dropped";
}
