// One claimed task's trip context: which attempt this is, a logger bound to
// the task, and the three writes every step may need — an event, a response,
// a release. Each write logs its failure instead of throwing: a trip never
// lets an error escape into the dispatcher's loop.

import { StoreError } from "../store/errors.js";
import type { EventInput, RespondResult, Store, Task } from "../store/types.js";
import { attemptInfo, type AttemptInfo } from "./attempts.js";
import { isClaimLost } from "./lease-keeper.js";
import type { Logger } from "./log.js";
import type { ResolvedOptions } from "./options.js";
import { reviewOf } from "./settle.js";

export interface TripDeps {
  store: Store;
  options: ResolvedOptions;
  log: Logger;
  /** Told of each response this dispatcher wrote (the finished task and its answer); must return at once. */
  onAnswered?(result: RespondResult): void;
}

export interface Trip {
  readonly task: Task;
  /** The claim token every write of this trip carries (the zombie-worker fence). */
  readonly token: string;
  readonly info: AttemptInfo;
  /** The dispatcher's logger, bound to task_id, lane and attempt. */
  readonly log: Logger;
  /** Append a dispatcher event; a failure is logged, never thrown (events are notes). */
  event(type: string, message: string, data: Record<string, unknown>): Promise<void>;
  /** The dispatcher event `event` would append (its data carries the owner and vendor), to hand to respond. */
  note(type: string, message: string, data: Record<string, unknown>): EventInput;
  /**
   * Write the response; false when it could not be written (claim lost, store
   * errors). `notes` are logged just before the response event, in the
   * respond's own transition where the store can (Store.transitionEvents),
   * else first on their own; also when the response is not written.
   */
  respond(status: "completed" | "failed", body: string, metadata: Record<string, unknown>, notes?: readonly EventInput[]): Promise<boolean>;
  /** Hand the task back to the queue; false when the claim was already gone or the store refused. */
  release(reason: string): Promise<boolean>;
}

/** Tries to write a response before giving up (the lease expiring then reruns the task). */
const RESPOND_TRIES = 3;
const RESPOND_BACKOFF_MS = 200;

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The attempt this claim starts, from the task's events (attempt 1 when they cannot be read). */
async function readAttempt(task: Task, deps: TripDeps): Promise<AttemptInfo> {
  try {
    return attemptInfo(await deps.store.readEvents(task.id));
  } catch (error) {
    deps.log.warn({ task_id: task.id, err: errorMessage(error) }, "could not read the task's events; counting this as attempt 1");
    return { attempt: 1, counted: 1, history: [] };
  }
}

/** The dispatcher's own fields of every event it logs (dispatcherNote's data carries them first). */
export function dispatcherNote(options: Pick<ResolvedOptions, "owner" | "vendor">, type: string, message: string, data: Record<string, unknown>): EventInput {
  return { type, message, data: { owner: options.owner, vendor: options.vendor, ...data } };
}

/**
 * Open the trip of a task this dispatcher just claimed. `info`: the attempt,
 * when the claim already counted it (from the events it read under the lock).
 */
export async function openTrip(task: Task, deps: TripDeps, info?: AttemptInfo): Promise<Trip> {
  const { store, options } = deps;
  const token = task.claim_token as string;
  info ??= await readAttempt(task, deps);
  const log = deps.log.child({ task_id: task.id, lane: task.lane, attempt: info.attempt });

  const note: Trip["note"] = (type, message, data) => dispatcherNote(options, type, message, data);
  const append = async (event: EventInput): Promise<void> => {
    await store.appendEvent(task.id, event).catch((error) => {
      log.warn({ err: errorMessage(error) }, `could not record ${event.type} event`);
    });
  };
  const event: Trip["event"] = (type, message, data) => append(note(type, message, data));

  const respond: Trip["respond"] = async (status, body, metadata, notes = []) => {
    // Notes the store cannot log in the respond's transition go first, on their own (as they always did).
    let pending = notes;
    if (pending.length > 0 && store.transitionEvents !== true) {
      for (const e of pending) await append(e);
      pending = [];
    }
    // A response that is not written still leaves its notes (e.g. the run's report when the claim was lost).
    const unwritten = async (): Promise<false> => {
      for (const e of pending) await append(e);
      return false;
    };
    for (let tries = 1; ; tries += 1) {
      const review = status === "completed" ? reviewOf(metadata) : {};
      try {
        const events = pending.length > 0 ? { events: pending } : {};
        const result = await store.respond(task.id, { body, status, claimToken: token, reviewer: options.owner, metadata, ...review, ...events });
        deps.onAnswered?.(result);
        return true;
      } catch (error) {
        if (status === "completed" && error instanceof StoreError && error.code === "request_changed") {
          // The store refuses to complete against a changed request (PROTOCOL §5); a failed
          // response still hands the answer back, marked request_changed_before_response.
          log.warn({ err: errorMessage(error) }, "the request changed while the agent ran; responding failed with its answer");
          status = "failed";
          body = `The request file changed while the agent ran (${task.request_path}); its answer to the earlier version follows.\n\n${body}`;
          continue;
        }
        if (isClaimLost(error)) {
          log.warn({ err: errorMessage(error) }, "claim lost before the response was written; dropping the response");
          return unwritten();
        }
        if (tries >= RESPOND_TRIES) {
          log.error({ err: errorMessage(error) }, "could not write the response; the claim will expire and the task run again");
          return unwritten();
        }
        await new Promise((resolve) => setTimeout(resolve, RESPOND_BACKOFF_MS * tries));
      }
    }
  };

  const release: Trip["release"] = async (reason) => {
    try {
      await store.release(task.id, { claimToken: token, reason });
      return true;
    } catch (error) {
      log.warn({ err: errorMessage(error) }, isClaimLost(error) ? "claim lost before release" : "could not release; the lease will expire instead");
      return false;
    }
  };

  return { task, token, info, log, event, note, respond, release };
}
