// release: hand a claimed task back to the queue, claim fields cleared.

import { addEvent, loadTask, locked, saveTask, type StoreContext } from "./context.js";
import { ValidationError, showValue } from "./errors.js";
import { assertClaimHolder } from "./renew.js";
import type { ReleaseInput, Task } from "./types.js";

export function releaseTask(ctx: StoreContext, taskId: string, input: ReleaseInput): Promise<Task> {
  // Checked before the lock: a bad reason found after task.json was rewritten
  // would leave the task released without its event.
  const reason = input.reason ?? null;
  if (reason !== null && typeof reason !== "string") {
    throw new ValidationError(`Expected \`reason\` to be a string, got \`${showValue(reason)}\``, { taskId });
  }
  return locked(ctx, async () => {
    const task = await loadTask(ctx, taskId);
    assertClaimHolder(task, input.claimToken, "release");
    const released: Task = {
      ...task,
      state: "queued",
      claim_owner: null,
      claim_token: null,
      claimed_at: null,
      lease_expires_at: null,
      updated_at: ctx.stamp(),
    };
    await addEvent(ctx, taskId, {
      type: "released",
      message: reason ? `released by ${task.claim_owner ?? "unknown"}: ${reason}` : `released by ${task.claim_owner ?? "unknown"}`,
      data: reason ? { reason } : {},
    });
    await saveTask(ctx, released);
    ctx.onWrite(taskId);
    return released;
  });
}
