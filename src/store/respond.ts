// respond: write response.json and finish the task (completed or failed).
// response.json is written before task.json: if a writer dies between the two,
// the response is not lost and the next writer to touch the task finishes the
// transition from it (see settleFromResponse).

import { writeJsonAtomic } from "./atomic.js";
import { addEvent, isTerminal, loadTask, locked, saveTask, sha256File, type StoreContext } from "./context.js";
import { TransitionError, UnsafeFileError, ValidationError, showValue } from "./errors.js";
import { assertJsonDepth, assertOneLineName } from "./input-shape.js";
import { appendEvents, checkedEvents, eventOf } from "./events.js";
import { readResponseFile } from "./records.js";
import { VERDICTS, type EventInput, type RespondInput, type RespondResult, type Task, type TaskResponse, type Verdict } from "./types.js";

function count(field: string, value: unknown): number {
  const n = value ?? 0;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
    throw new ValidationError(`Expected \`${field}\` to be a whole number >= 0, got \`${showValue(value)}\` (${typeof value})`);
  }
  return n;
}

export function terminalError(task: Task): TransitionError {
  return task.state === "completed"
    ? new TransitionError("invalid_state", `task is already completed: ${task.id}`, { taskId: task.id })
    : new TransitionError("invalid_state", `task is failed: ${task.id}`, { taskId: task.id });
}

/** The task as it must be once `response` is recorded. */
export function finished(task: Task, response: TaskResponse, stamp: string): Task {
  const failed = response.status === "failed";
  return {
    ...task,
    state: failed ? "failed" : "completed",
    updated_at: stamp,
    completed_at: failed ? task.completed_at : stamp,
    failed_at: failed ? stamp : task.failed_at,
    failure_reason: failed ? response.body : null,
  };
}

/**
 * A non-terminal task that already has a response.json was interrupted
 * between the two writes of respond: finish it now. Returns the finished task,
 * or null when there was nothing to settle. The caller holds the lock.
 */
export async function settleFromResponse(ctx: StoreContext, task: Task): Promise<Task | null> {
  if (isTerminal(task)) return null;
  const response = await readResponseFile(ctx.paths.responseFile(task.id), task.id).catch(() => null);
  if (!response || (response.status !== "completed" && response.status !== "failed")) return null;
  const done = finished(task, response, ctx.stamp());
  await saveTask(ctx, done);
  ctx.onWrite(task.id);
  return done;
}

/** A respond's input, checked before anything is read: the response's fields but the request facts. */
export function checkRespondInput(taskId: string, input: RespondInput): Omit<ResponseFields, "reviewed_request_sha256" | "request_changed_before_response"> & { expectSha: string | null } {
  const status = input.status ?? "completed";
  if (status !== "completed" && status !== "failed") {
    throw new ValidationError(`Expected \`status\` to be completed or failed, got \`${showValue(status)}\``);
  }
  const verdict = (input.verdict ?? null) as Verdict | null;
  if (verdict !== null && !VERDICTS.includes(verdict)) {
    throw new ValidationError(`Expected \`verdict\` to be one of ${VERDICTS.join(", ")}, got \`${showValue(verdict)}\``);
  }
  const blocking = count("blocking_count", input.blockingCount);
  const nonblocking = count("nonblocking_count", input.nonblockingCount);
  if (blocking > 0 && verdict !== "needs-revision") {
    throw new ValidationError("blocking-count > 0 requires verdict needs-revision");
  }
  if (typeof input.body !== "string") throw new ValidationError("body must be a string");
  const reviewer = input.reviewer ?? "worker";
  if (typeof reviewer !== "string" || reviewer === "") throw new ValidationError("reviewer must be a non-empty string");
  assertOneLineName("reviewer", reviewer, { taskId });
  const expectSha = input.expectSha256 ?? null;
  if (expectSha !== null && typeof expectSha !== "string") throw new ValidationError(`Expected \`expect_sha256\` to be a sha256 hex string, got \`${showValue(expectSha)}\``);
  const followUp = input.followUpRequired ?? false;
  if (typeof followUp !== "boolean") throw new ValidationError(`Expected \`follow_up_required\` to be true or false, got \`${showValue(followUp)}\``);
  const metadata = input.metadata ?? {};
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw new ValidationError("metadata must be a mapping (an object of key: value)");
  }
  assertJsonDepth(metadata, "metadata", { taskId });
  return {
    reviewer,
    status,
    body: input.body,
    follow_up_required: followUp,
    verdict,
    blocking_count: blocking,
    nonblocking_count: nonblocking,
    metadata: { ...metadata },
    expectSha,
  };
}

/** Refuse respond on a finished task, with a wrong token, or with an --expect-sha256 that is not the task's. */
export function refuseResponse(task: Task, claimToken: unknown, expectSha: string | null): void {
  const taskId = task.id;
  if (isTerminal(task)) throw terminalError(task);
  if (task.state === "claimed" && (typeof claimToken !== "string" || claimToken !== task.claim_token)) {
    throw new TransitionError("token_mismatch", "claim token does not match active lease", { taskId });
  }
  if (expectSha && expectSha !== task.request_sha256) {
    throw new TransitionError(
      "request_changed",
      `reviewed request hash does not match task ${taskId}: task has ${task.request_sha256}, --expect-sha256 was ${expectSha}`,
      { taskId },
    );
  }
}

export function respondTask(ctx: StoreContext, taskId: string, input: RespondInput): Promise<RespondResult> {
  const { expectSha, ...fields } = checkRespondInput(taskId, input);
  const extra = checkedEvents(taskId, input.events ?? []);
  const status = fields.status;
  return locked(ctx, async (ctx) => {
    let task = await loadTask(ctx, taskId);
    task = (await settleFromResponse(ctx, task)) ?? task;
    refuseResponse(task, input.claimToken, expectSha);
    // A request now unreadable as a regular file (a FIFO, a device, too large)
    // counts as changed: a failure can still be recorded, a completion cannot.
    let unreadable: string | null = null;
    const current = await sha256File(ctx, task.request_path, taskId).catch((error: unknown) => {
      if (!(error instanceof UnsafeFileError)) throw error;
      unreadable = error.message;
      return null;
    });
    const changed = current !== task.request_sha256;
    if (changed && status === "completed") {
      const now = unreadable ?? `${task.request_path} ${current === null ? "is missing" : `now hashes to ${current}`}`;
      throw new TransitionError("request_changed", `request changed before response for ${taskId}: ${now}; respond with --status failed or resubmit the task`, { taskId });
    }
    return recordResponse(ctx, task, { ...fields, reviewed_request_sha256: current, request_changed_before_response: changed }, {}, extra);
  });
}

/** What a transition decides of response.json (task_id and created_at are filled in). */
export type ResponseFields = Pick<
  TaskResponse,
  | "reviewer" | "status" | "body" | "reviewed_request_sha256" | "request_changed_before_response"
  | "follow_up_required" | "verdict" | "blocking_count" | "nonblocking_count" | "metadata"
>;

/**
 * Write response.json, log the response event, then finish task.json (that
 * order: see the header). The caller holds the lock and has checked the
 * transition is allowed.
 */
export async function recordResponse(
  ctx: StoreContext,
  task: Task,
  fields: ResponseFields,
  event: { message?: string; data?: Record<string, unknown> } = {},
  /** The caller's events (RespondInput.events), logged just before the response event, in the same write and fsync. */
  extra: readonly EventInput[] = [],
): Promise<RespondResult> {
  const stamp = ctx.stamp();
  const response: TaskResponse = { task_id: task.id, ...fields, created_at: stamp };
  await writeJsonAtomic(ctx.paths.responseFile(task.id), response, { batch: ctx.batch, spares: ctx.spares });
  const done = finished(task, response, stamp);
  const responseEvent: EventInput = {
    type: "response",
    message: event.message ?? `${response.status} response from ${response.reviewer}`,
    data: { reviewer: response.reviewer, ...event.data },
  };
  if (extra.length > 0) await appendEvents(ctx.paths.eventsFile(task.id), [...extra, responseEvent].map((e) => eventOf(e)), ctx.batch);
  else await addEvent(ctx, task.id, responseEvent);
  await saveTask(ctx, done);
  ctx.onWrite(task.id);
  return { task: done, response };
}
