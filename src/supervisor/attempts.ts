// Attempt accounting from a task's events. The attempt number is the count
// of `claimed` events (every claim, by any dispatcher, Python ones included).
// Only the store writes `claimed` (its claim transition, under the lock): the
// event API (CLI, HTTP, MCP) refuses the store's own types, so a submitter or
// reviewer cannot forge attempts. Whoever can write events.jsonl directly can
// also rewrite task.json, and is trusted by design (docs/security.md).
// Runs that ended through no fault of the task — a vendor usage limit, a
// CLI that needs a login, a dispatcher shutting down — are recorded with `counts_as_attempt: false`
// and do not use up --max-attempts, so a long usage limit never fails work.

import type { TaskEvent } from "../store/types.js";

/** Event types the dispatcher appends (PROTOCOL.md §6 leaves them to us). */
export const EVENT = {
  started: "dispatcher_started",
  headlessStarted: "headless_started",
  headlessCompleted: "headless_completed",
  headlessFailed: "headless_failed",
  usageLimit: "usage_limit",
  needsLogin: "needs_login",
  warning: "dispatcher_warning",
} as const;

export interface AttemptInfo {
  /** 1-based number of this run: the task's `claimed` events. */
  attempt: number;
  /** Attempts that count against --max-attempts (this one included). */
  counted: number;
  /** One line per earlier attempt, oldest first. */
  history: string[];
}

/** The failure line of an attempt, as recorded in headless_failed data. */
function reasonOf(event: TaskEvent | undefined): string {
  const reason = event?.data?.reason;
  if (typeof reason === "string" && reason !== "") return reason;
  return event?.message || "ended without a recorded result (the dispatcher may have died; the lease ran out)";
}

/** Attempt number, counted attempts and the earlier attempts' history, from the events read after claiming. */
export function attemptInfo(events: readonly TaskEvent[]): AttemptInfo {
  const claims = events.filter((e) => e.type === "claimed");
  const failures = events.filter((e) => e.type === EVENT.headlessFailed);
  const completions = events.filter((e) => e.type === EVENT.headlessCompleted);
  const attempt = Math.max(1, claims.length);
  // An attempt is uncounted once at most, and only an attempt that was really
  // claimed: repeated or stray "uncounted" records cannot buy extra attempts.
  const uncounted = new Set(
    failures.filter((e) => e.data?.counts_as_attempt === false && Number.isInteger(e.data?.attempt) && (e.data.attempt as number) >= 1 && (e.data.attempt as number) <= claims.length).map((e) => e.data.attempt),
  ).size;
  const history: string[] = [];
  claims.slice(0, -1).forEach((claim, index) => {
    const n = index + 1;
    const failed = failures.find((e) => e.data?.attempt === n);
    const completed = completions.find((e) => e.data?.attempt === n);
    const owner = typeof claim.data?.owner === "string" ? ` by ${claim.data.owner}` : "";
    const what = failed ? reasonOf(failed) : completed ? "the run completed but its response was not recorded" : reasonOf(undefined);
    history.push(`attempt ${n} (claimed ${claim.created_at}${owner}): ${what}`);
  });
  return { attempt, counted: Math.max(1, attempt - uncounted), history };
}

/** The first line of a failure body, capped, for event data and history. */
export function firstLine(text: string, maxChars = 300): string {
  const line = (text.split(/\r?\n/).find((l) => l.trim() !== "") ?? "").trim();
  return line.length > maxChars ? `${line.slice(0, maxChars - 3)}...` : line;
}

/** A failure body with the attempt history appended. */
export function withHistory(body: string, info: AttemptInfo, maxAttempts: number, thisRun: string): string {
  if (info.attempt <= 1 && info.history.length === 0) return body;
  const lines = [...info.history, `attempt ${info.attempt} (this run): ${thisRun}`];
  return `${body.replace(/\s+$/, "")}\n\nAttempt history (${info.counted} of at most ${maxAttempts} counted):\n${lines.map((l) => `- ${l}`).join("\n")}\n`;
}
