// renew: push a live claim's lease forward. Only the token holder may.

import { DEFAULT_LEASE_SECONDS, checkLeaseSeconds } from "./claim.js";
import { addEvent, loadTask, locked, saveTask, type StoreContext } from "./context.js";
import { TransitionError } from "./errors.js";
import { isoFromDate } from "./time.js";
import type { RenewInput, Task } from "./types.js";

/** Refuse unless `task` is claimed under `token`; shared by renew and release. */
export function assertClaimHolder(task: Task, token: unknown, verb: "renew" | "release"): void {
  if (task.state !== "claimed") {
    throw new TransitionError("invalid_state", `cannot ${verb} ${task.id}; task is ${task.state}`, { taskId: task.id });
  }
  if (typeof token !== "string" || token === "" || token !== task.claim_token) {
    throw new TransitionError("token_mismatch", "claim token does not match active lease", { taskId: task.id });
  }
}

export function renewTask(ctx: StoreContext, taskId: string, input: RenewInput): Promise<Task> {
  const leaseSeconds = checkLeaseSeconds(input.leaseSeconds ?? DEFAULT_LEASE_SECONDS);
  return locked(ctx, async (ctx) => {
    const task = await loadTask(ctx, taskId);
    assertClaimHolder(task, input.claimToken, "renew");
    const now = ctx.now();
    const renewed: Task = {
      ...task,
      lease_expires_at: isoFromDate(new Date(now.getTime() + leaseSeconds * 1000)),
      updated_at: ctx.stamp(),
    };
    await addEvent(ctx, taskId, { type: "renewed", message: `lease renewed by ${task.claim_owner ?? "unknown"}`, data: { owner: task.claim_owner } });
    await saveTask(ctx, renewed);
    ctx.onWrite(taskId);
    return renewed;
  });
}
