// What to do with a finished run: respond completed, respond failed, release
// the task for another try, release it and pause the vendor (usage limit, or
// a CLI that needs a login: both never count as an attempt), or
// drop it (the claim was lost: someone else owns the task now, and writing
// anything but an event would be the zombie worker's mistake).

import type { ChildResult, Outcome } from "../../vendors/types.js";
import { VERDICTS, type RespondInput, type Verdict } from "../store/types.js";
import { firstLine, withHistory, type AttemptInfo } from "./attempts.js";

export type Settlement =
  | { action: "complete"; body: string; metadata: Record<string, unknown> }
  | { action: "fail"; body: string; metadata: Record<string, unknown>; reason: string }
  | { action: "release"; reason: string; countsAsAttempt: boolean; metadata: Record<string, unknown> }
  | {
      action: "usage-limit";
      message: string;
      resetAt: Date | null;
      metadata: Record<string, unknown>;
      /** The pause to set: a limit, or credentials the CLI cannot use. */
      pauseKind: "usage-limit" | "needs-login";
      /** needs-login: what the person should do (`run \`claude /login\``). */
      fix?: string;
      /** The reset came with a date: the pause may last up to 7 days. */
      resetDated?: boolean;
    }
  | { action: "drop"; reason: string };

export interface SettleContext {
  info: AttemptInfo;
  maxAttempts: number;
  vendor: string;
  owner: string;
}

function present(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined && v !== null));
}

/** Facts of the run the supervisor measured itself; they win over an adapter's guesses. */
export function runFacts(run: ChildResult, ctx: SettleContext): Record<string, unknown> {
  return present({
    duration_ms: run.durationMs,
    exit_code: run.exitCode,
    signal: run.signal,
    killed_by: run.killedBy ?? undefined,
    attempt: ctx.info.attempt,
    vendor: ctx.vendor,
    dispatcher: ctx.owner,
    stdout_truncated: run.stdoutTruncated || undefined,
  });
}

/** The settlement of `outcome` for `run`. */
export function decideSettlement(outcome: Outcome, run: ChildResult, ctx: SettleContext): Settlement {
  if (run.killedBy === "lease-lost") return { action: "drop", reason: "the claim was lost while the child ran" };
  const facts = runFacts(run, ctx);

  if (outcome.kind === "usage-limit") {
    return {
      action: "usage-limit",
      pauseKind: "usage-limit",
      message: outcome.message,
      resetAt: outcome.resetAt ?? null,
      resetDated: outcome.resetDated === true,
      metadata: { ...(outcome.metadata ?? {}), ...facts },
    };
  }
  if (outcome.kind === "needs-login") {
    return {
      action: "usage-limit",
      pauseKind: "needs-login",
      message: outcome.message,
      fix: outcome.fix,
      resetAt: null,
      metadata: { ...(outcome.metadata ?? {}), ...facts },
    };
  }

  if (outcome.kind === "completed") {
    if (outcome.body.trim() !== "") {
      const asked = present({ model_used: run.invocation.model, effort_used: run.invocation.effort });
      return { action: "complete", body: outcome.body, metadata: { ...asked, ...outcome.metadata, ...facts } };
    }
    // Exit 0 with nothing to hand back is a failure: an empty answer is no answer.
    const how = run.exitCode === 0 ? "exited 0" : "ended";
    outcome = { kind: "failed", body: `${ctx.vendor} ${how} without any output: there is no answer to hand back`, retry: true, metadata: outcome.metadata };
  }

  const reason = firstLine(outcome.body) || "the run failed";
  const metadata = { ...(outcome.metadata ?? {}), ...facts };
  if (run.killedBy === "shutdown") {
    // Not the task's fault: back to the queue without using up an attempt.
    return { action: "release", reason: `dispatcher shutting down: ${reason}`, countsAsAttempt: false, metadata };
  }
  if (typeof outcome.metadata?.resume_failed === "string") {
    // The vendor lost the session: not the task's fault; the next attempt pastes the thread instead.
    return { action: "release", reason: `${reason}; the next attempt pastes the thread instead`, countsAsAttempt: false, metadata };
  }
  if (outcome.retry && ctx.info.counted < ctx.maxAttempts) {
    return { action: "release", reason, countsAsAttempt: true, metadata };
  }
  const exhausted = outcome.retry ? `gave up after ${ctx.info.counted} attempts (--max-attempts ${ctx.maxAttempts})` : null;
  const body = withHistory(exhausted ? `${outcome.body.replace(/\s+$/, "")}\n\n${exhausted}` : outcome.body, ctx.info, ctx.maxAttempts, reason);
  return { action: "fail", body, metadata, reason };
}

/**
 * The review fields of a response, from what an adapter parsed out of the
 * agent's answer (`verdict`, `blocking_count`, `nonblocking_count` in its
 * metadata, e.g. from a `VERDICT:` line). Only a combination the store
 * accepts is passed on; anything else stays metadata only.
 */
export function reviewOf(metadata: Record<string, unknown>): Pick<RespondInput, "verdict" | "blockingCount" | "nonblockingCount"> {
  const verdict = metadata.verdict;
  if (typeof verdict !== "string" || !VERDICTS.includes(verdict as Verdict)) return {};
  const count = (value: unknown): number | undefined => (typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : undefined);
  const blockingCount = count(metadata.blocking_count) ?? 0;
  if (blockingCount > 0 && verdict !== "needs-revision") return {};
  return { verdict: verdict as Verdict, blockingCount, nonblockingCount: count(metadata.nonblocking_count) ?? 0 };
}
