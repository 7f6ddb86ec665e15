// cancel: answer a queued task `failed` with "cancelled" (and who and why), so
// its waiter returns at once and no dispatcher ever claims it. Only a queued
// task can be cancelled: a claimed one has an agent working on it, whose
// answer would then be refused; the holder must release it (or respond) first.

import { isTerminal, loadTask, locked, sha256File, type StoreContext } from "./context.js";
import { TransitionError, ValidationError, showValue } from "./errors.js";
import { recordResponse, settleFromResponse, type ResponseFields } from "./respond.js";
import type { CancelInput, RespondResult, Task } from "./types.js";

/** The response body of a cancelled task: `cancelled`, `cancelled by <by>`, `…: <reason>`. */
export function cancelBody(input: CancelInput): string {
  const by = input.by ? ` by ${input.by}` : "";
  return input.reason ? `cancelled${by}: ${input.reason}` : `cancelled${by}`;
}

function optionalText(field: string, value: unknown, taskId: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") {
    throw new ValidationError(`Expected \`${field}\` to be a string, got \`${showValue(value)}\` (${typeof value})`, { taskId });
  }
  // Kept on one line: the body becomes failure_reason, which one-line views print.
  return value.replace(/\s+/g, " ").trim() || undefined;
}

/** who and why, one line each; validated before anything is read. */
export function checkCancelInput(taskId: string, input: CancelInput = {}): { by: string | undefined; reason: string | undefined } {
  return { by: optionalText("by", input.by, taskId), reason: optionalText("reason", input.reason, taskId) };
}

/** Only a queued task can be cancelled. */
export function refuseCancel(task: Task): void {
  const taskId = task.id;
  if (isTerminal(task)) {
    throw new TransitionError("invalid_state", `cannot cancel task ${taskId}: it is already ${task.state}`, { taskId });
  }
  if (task.state !== "queued") {
    throw new TransitionError(
      "invalid_state",
      `cannot cancel task ${taskId}: it is ${task.state} by ${task.claim_owner ?? "unknown"}; only queued tasks can be cancelled (release the claim first)`,
      { taskId },
    );
  }
}

/** The response and event of a cancel; `current` is the request's hash now (null when unreadable). */
export function cancelResponse(
  task: Task,
  by: string | undefined,
  reason: string | undefined,
  current: string | null,
): { fields: ResponseFields; event: { message: string; data: Record<string, unknown> } } {
  const body = cancelBody({ by, reason });
  return {
    fields: {
      reviewer: by ?? "agent-lanes",
      status: "failed",
      body,
      reviewed_request_sha256: current,
      request_changed_before_response: current !== task.request_sha256,
      follow_up_required: false,
      verdict: null,
      blocking_count: 0,
      nonblocking_count: 0,
      metadata: { cancelled: true },
    },
    event: { message: body, data: { cancelled: true, ...(reason ? { reason } : {}) } },
  };
}

export function cancelTask(ctx: StoreContext, taskId: string, input: CancelInput = {}): Promise<RespondResult> {
  // Validated before the lock, like release: nothing is written on bad input.
  const { by, reason } = checkCancelInput(taskId, input);
  return locked(ctx, async (ctx) => {
    let task = await loadTask(ctx, taskId);
    task = (await settleFromResponse(ctx, task)) ?? task;
    refuseCancel(task);
    // A request that is no longer a readable regular file must not stop a cancel.
    const current = await sha256File(ctx, task.request_path, taskId).catch(() => null);
    const { fields, event } = cancelResponse(task, by, reason, current);
    return recordResponse(ctx, task, fields, event);
  });
}
