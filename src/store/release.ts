// release: hand a claimed task back to the queue, claim fields cleared.

import { addEvent, loadTask, locked, saveTask, type StoreContext } from "./context.js";
import { ValidationError, showValue } from "./errors.js";
import { assertClaimHolder } from "./renew.js";
import type { EventInput, ReleaseInput, Task } from "./types.js";

/** The release reason, checked before anything is written. */
export function checkReleaseReason(taskId: string, input: ReleaseInput): string | null {
  const reason = input.reason ?? null;
  if (reason !== null && typeof reason !== "string") {
    throw new ValidationError(`Expected \`reason\` to be a string, got \`${showValue(reason)}\``, { taskId });
  }
  return reason;
}

/** The task back in the queue, and its `released` event. */
export function released(task: Task, reason: string | null, stamp: string): { task: Task; event: EventInput } {
  return {
    task: {
      ...task,
      state: "queued",
      claim_owner: null,
      claim_token: null,
      claimed_at: null,
      lease_expires_at: null,
      updated_at: stamp,
    },
    event: {
      type: "released",
      message: reason ? `released by ${task.claim_owner ?? "unknown"}: ${reason}` : `released by ${task.claim_owner ?? "unknown"}`,
      data: reason ? { reason } : {},
    },
  };
}

export function releaseTask(ctx: StoreContext, taskId: string, input: ReleaseInput): Promise<Task> {
  // Checked before the lock: a bad reason found after task.json was rewritten
  // would leave the task released without its event.
  const reason = checkReleaseReason(taskId, input);
  return locked(ctx, async (ctx) => {
    const task = await loadTask(ctx, taskId);
    assertClaimHolder(task, input.claimToken, "release");
    const next = released(task, reason, ctx.stamp());
    await addEvent(ctx, taskId, next.event);
    await saveTask(ctx, next.task);
    ctx.onWrite(taskId);
    return next.task;
  });
}
