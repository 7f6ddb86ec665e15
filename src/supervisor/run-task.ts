// One claimed task's trip, step by step: open the trip (which attempt), give
// up when earlier attempts are used up, announce the start, keep the lease,
// prepare the run (working folder, input, invocation), execute it, judge it,
// settle it. Each step lives in its own function or module; this one only
// orders them and guarantees that no failure escapes into the dispatcher's
// loop and that the lease keeper always stops.

import { promises as fs } from "node:fs";
import type { ChildResult, Invocation, Outcome, VendorAdapter, VendorConfig } from "../../vendors/types.js";
import type { EventInput, RespondResult, Store, Task, TaskEvent } from "../store/types.js";
import { attemptInfo, EVENT, firstLine, type AttemptInfo } from "./attempts.js";
import { executeRun, type RunChildFn } from "./execute-run.js";
import { buildInput } from "./input.js";
import { startLeaseKeeper, type KeeperClock, type LeaseKeeper } from "./lease-keeper.js";
import type { Logger } from "./log.js";
import type { ResolvedOptions } from "./options.js";
import { planResume, RESUME_FAILED_EVENT, type ResumePlan } from "./resume.js";
import type { Settlement } from "./settle.js";
import { giveUp, settleTask, type TaskEnd } from "./settle-task.js";
import { dispatcherNote, errorMessage, openTrip, type Trip } from "./trip.js";
import { materializeTask, type MaterializedTask } from "./materialize.js";
import { finishTaskWorktree, prepareTaskWorktree, wantsWorktree, type TaskWorktree } from "./worktrees.js";

export type { RunChildFn } from "./execute-run.js";
export type { TaskEnd } from "./settle-task.js";

export interface TaskRunnerDeps {
  store: Store;
  options: ResolvedOptions;
  /** The adapter and vendor config in force (SIGHUP may swap them between tasks). */
  current(): { adapter: VendorAdapter; vendorConfig: VendorConfig };
  log: Logger;
  runChild: RunChildFn;
  /** Aborted (reason "shutdown") when running children must stop: grace over, or forced. */
  killSignal: AbortSignal;
  /** A usage-limit outcome: pause the vendor (the task is released by the runner). */
  onUsageLimit(settlement: Extract<Settlement, { action: "usage-limit" }>, task: Task): Promise<{ until: string } | null>;
  /** Every outcome, for the daily cost fuse. */
  /** `task`: the run's task (a PostgreSQL queue records the cost against it). */
  onOutcome(outcome: Outcome, task?: Task): void;
  keeperClock?: KeeperClock;
  /** Each response written (TripDeps.onAnswered): the dispatcher's task.completed / task.failed events. */
  onAnswered?(result: RespondResult): void;
  /** The environment agents inherit, taken when the dispatcher started (RunChildOptions.baseEnv). @default process.env */
  baseEnv?: NodeJS.ProcessEnv;
}

/** worktree_path when it is an existing folder, else workspace_root. */
export async function workingDirectory(task: Task): Promise<string> {
  if (task.worktree_path) {
    const stat = await fs.stat(task.worktree_path).catch(() => null);
    if (stat?.isDirectory()) return task.worktree_path;
  }
  return task.workspace_root;
}

/**
 * A run ready to start, or why it cannot (nothing ran: another dispatcher's host may do better).
 * `worktree`: the task's own git worktree (worktrees.ts); `resume`: the vendor session it continues (resume.ts).
 */
export type PreparedRun =
  | { invocation: Invocation; adapter: VendorAdapter; worktree: TaskWorktree | null; resume: ResumePlan | null; materialized: MaterializedTask | null }
  | { failure: Outcome };

/** The parent's session to continue, or null (logged with the reason at debug level). */
async function resumeFor(trip: Trip, cwd: string, deps: TaskRunnerDeps): Promise<ResumePlan | null> {
  const events = await deps.store.readEvents(trip.task.id).catch(() => []);
  const decision = await planResume(trip.task, deps.options.vendor, cwd, deps.store, events);
  if (decision.plan) trip.log.info({ session_id: decision.plan.sessionId, parent_task_id: decision.plan.parentId }, "resuming the parent's session");
  else trip.log.debug({ why: decision.why }, "not resuming a session");
  return decision.plan;
}

/** Adapter and worktree warnings: logged at once, recorded as warning events that flush() waits for. */
type Warn = (message: string, data?: Record<string, unknown>) => void;

function collectWarnings(trip: Trip): { warn: Warn; flush(): Promise<void> } {
  const recorded: Promise<void>[] = [];
  return {
    warn(message, data = {}) {
      trip.log.warn(data, message);
      recorded.push(trip.event(EVENT.warning, message, data));
    },
    flush: async () => {
      await Promise.all(recorded);
    },
  };
}

/** Where a run happens and the task as its agent sees it. */
interface RunPlace {
  cwd: string;
  task: Task;
  worktree: TaskWorktree | null;
}

/** A PostgreSQL queue carries the request: it is written to a private folder of this host first (null for a folder queue). */
async function materializeRequest(trip: Trip, deps: TaskRunnerDeps): Promise<MaterializedTask | null> {
  const materialized = await materializeTask(trip.task, deps.store);
  if (materialized) trip.log.info({ folder: materialized.workspace }, "request materialised from the database");
  return materialized;
}

/** The working folder: the materialised request's, or the task's own; then a worktree of its own when asked for. */
async function placeRun(trip: Trip, materialized: MaterializedTask | null, deps: TaskRunnerDeps, warn: Warn): Promise<RunPlace> {
  const cwd = materialized ? materialized.workspace : await workingDirectory(trip.task);
  const task = materialized ? materialized.task : trip.task;
  if (!wantsWorktree(task, deps.options.worktree)) return { cwd, task, worktree: null };
  const prepared = await prepareTaskWorktree(task, cwd, deps.store.root);
  if (prepared.warning) warn(prepared.warning);
  const { worktree } = prepared;
  if (!worktree) return { cwd: prepared.cwd, task, worktree: null };
  trip.log.info({ worktree: worktree.path, branch: worktree.branch, base_commit: worktree.baseCommit, reused: worktree.reused }, "running in a worktree of its own");
  // The task as the agent sees it: in its own worktree.
  return { cwd: prepared.cwd, task: { ...task, worktree_path: worktree.path, expected_branch: worktree.branch }, worktree };
}

/** The agent's input and the adapter's command line for it. */
async function invocationFor(
  trip: Trip,
  place: RunPlace,
  resume: ResumePlan | null,
  { adapter, vendorConfig }: { adapter: VendorAdapter; vendorConfig: VendorConfig },
  deps: TaskRunnerDeps,
  warn: Warn,
): Promise<Invocation> {
  const { input } = await buildInput(place.task, place.cwd, deps.store, { supportsEffort: adapter.supportsEffort === true, resumedFrom: resume?.parentId ?? null });
  return adapter.invocation(place.task, { input, cwd: place.cwd, attempt: trip.info.attempt, config: vendorConfig, warn, resumeSession: resume?.sessionId ?? null });
}

/** The working folder (a worktree of its own when asked), the input and the adapter's invocation; adapter warnings become events. */
export async function prepareRun(trip: Trip, deps: TaskRunnerDeps): Promise<PreparedRun> {
  // The adapter in force now (a SIGHUP may swap it for the next task, never mid-task).
  const current = deps.current();
  const warnings = collectWarnings(trip);
  let materialized: MaterializedTask | null = null;
  try {
    materialized = await materializeRequest(trip, deps);
    const place = await placeRun(trip, materialized, deps, warnings.warn);
    const resume = current.adapter.supportsResume ? await resumeFor(trip, place.cwd, deps) : null;
    const invocation = await invocationFor(trip, place, resume, current, deps, warnings.warn);
    return { invocation, adapter: current.adapter, worktree: place.worktree, resume, materialized };
  } catch (error) {
    await materialized?.remove().catch(() => undefined);
    return { failure: { kind: "failed", body: `${deps.options.vendor} dispatcher could not prepare the run: ${errorMessage(error)}`, retry: true } };
  } finally {
    await warnings.flush();
  }
}

/** The adapter's verdict on a finished run, fed to the cost fuse; a throwing adapter fails the task. */
export function judgeRun(trip: Trip, adapter: VendorAdapter, run: ChildResult, deps: TaskRunnerDeps): Outcome {
  let outcome: Outcome;
  try {
    outcome = adapter.settle(run, trip.task);
  } catch (error) {
    outcome = { kind: "failed", body: `${deps.options.vendor} adapter could not judge the run: ${errorMessage(error)}`, retry: false };
  }
  try {
    deps.onOutcome(outcome, trip.task);
  } catch (error) {
    trip.log.warn({ err: errorMessage(error) }, "cost accounting failed");
  }
  return outcome;
}

/** Renew the claim's lease while the trip lasts. */
function keepLease(trip: Trip, deps: TaskRunnerDeps): LeaseKeeper {
  const { options, store } = deps;
  return startLeaseKeeper({
    taskId: trip.task.id,
    renew: () => store.renew(trip.task.id, { claimToken: trip.token, leaseSeconds: options.leaseSeconds }),
    renewEveryMs: options.renewEveryMs,
    renewRetryMs: options.renewRetryMs,
    leaseMs: options.leaseMs,
    clock: deps.keeperClock,
    onRetry: (error) => trip.log.warn({ err: errorMessage(error) }, "lease renewal failed; retrying"),
    onRenewed: () => trip.log.debug("lease renewed"),
  });
}

/**
 * After the adapter's verdict: the worktree's branch, commits and diffstat go
 * into the response metadata (and its keep policy runs); a resumed session
 * that was gone is recorded, so the next attempt pastes the thread instead.
 */
async function finishRun(trip: Trip, prepared: Extract<PreparedRun, { invocation: Invocation }>, outcome: Outcome): Promise<Outcome> {
  const { worktree, resume } = prepared;
  if (worktree) {
    const report = await finishTaskWorktree(worktree).catch((error: unknown) => {
      trip.log.warn({ err: errorMessage(error), worktree: worktree.path }, "could not record the worktree's result");
      return { worktree_path: worktree.path, branch: worktree.branch, base_commit: worktree.baseCommit, worktree_error: errorMessage(error) };
    });
    outcome = { ...outcome, metadata: { ...(outcome.metadata ?? {}), ...report } } as Outcome;
  }
  if (resume && outcome.kind === "failed" && outcome.metadata?.resume_failed === resume.sessionId) {
    await trip.event(RESUME_FAILED_EVENT, `session ${resume.sessionId} of ${resume.parentId} is gone; the thread will be pasted`, {
      session_id: resume.sessionId,
      parent_task_id: resume.parentId,
    });
  }
  return outcome;
}

/** The dispatcher_started event: this dispatcher begins attempt `info.attempt`. */
export function startedEvent(info: AttemptInfo, options: ResolvedOptions): EventInput {
  return dispatcherNote(options, EVENT.started, `dispatcher ${options.owner} started attempt ${info.attempt}`, {
    attempt: info.attempt,
    supervisor_pid: process.pid,
    lease_seconds: options.leaseSeconds,
  });
}

/**
 * What a claim logged for the run in its own transition (ClaimInput.events):
 * the attempt, counted from the events under the lock, and whether
 * dispatcher_started went with it (not for a task whose attempts are used up).
 */
export interface ClaimedStart {
  info: AttemptInfo;
  announced: boolean;
}

/**
 * The claim's events for a run of this dispatcher: dispatcher_started, unless
 * the attempts are used up (the run then gives up). `opened` hears what was decided.
 */
export function startOnClaim(options: ResolvedOptions, opened: (start: ClaimedStart) => void): (claimed: Task, history: readonly TaskEvent[]) => EventInput[] {
  return (_claimed, history) => {
    const info = attemptInfo(history);
    const announced = info.counted <= options.maxAttempts;
    opened({ info, announced });
    return announced ? [startedEvent(info, options)] : [];
  };
}

/** The dispatcher_started event, unless the claim logged it already. */
async function announceStart(trip: Trip, options: ResolvedOptions, logged: boolean): Promise<void> {
  if (!logged) {
    const { type, message = "", data = {} } = startedEvent(trip.info, options);
    await trip.event(type, message, data);
  }
  trip.log.info("task claimed");
}

/** Run the prepared invocation; renewing stops once it ended, and a run that outlived its claim is a zombie's (lease-lost). */
async function executeUnderLease(trip: Trip, invocation: Invocation, keeper: LeaseKeeper, deps: TaskRunnerDeps): Promise<ChildResult> {
  const run = await executeRun(trip, invocation, keeper, { ...deps, queueRoot: deps.store.root });
  await keeper.stop();
  // The child may have ended on its own after the claim was already gone: still a zombie's result.
  return keeper.signal.aborted && run.killedBy !== "lease-lost" ? { ...run, killedBy: "lease-lost" } : run;
}

/** Remove the materialised request folder of a PostgreSQL queue's task (nothing for a folder queue). */
async function removeMaterialized(trip: Trip, prepared: PreparedRun): Promise<void> {
  if (!("invocation" in prepared) || !prepared.materialized) return;
  await prepared.materialized.remove().catch((error: unknown) => trip.log.warn({ err: errorMessage(error) }, "could not remove the materialised request folder"));
}

/** Prepare, run, judge and settle, while `keeper` holds the lease. */
async function runUnderLease(trip: Trip, keeper: LeaseKeeper, deps: TaskRunnerDeps): Promise<TaskEnd> {
  const prepared = await prepareRun(trip, deps);
  if ("failure" in prepared) {
    await keeper.stop();
    return settleTask(trip, prepared.failure, null, deps);
  }
  try {
    const run = await executeUnderLease(trip, prepared.invocation, keeper, deps);
    const outcome = await finishRun(trip, prepared, judgeRun(trip, prepared.adapter, run, deps));
    return await settleTask(trip, outcome, run, deps);
  } finally {
    await removeMaterialized(trip, prepared);
  }
}

/** An unexpected failure of the trip: the claim goes back to the queue. */
async function releaseAfterError(trip: Trip, keeper: LeaseKeeper, error: unknown): Promise<TaskEnd> {
  trip.log.error({ err: errorMessage(error) }, "task run failed unexpectedly; releasing it");
  await keeper.stop();
  return (await trip.release(`dispatcher error: ${firstLine(errorMessage(error))}`)) ? "released" : "dropped";
}

/**
 * Run one task claimed by this dispatcher to its settlement; no failure
 * escapes, and the lease keeper always stops. `opened`: what the claim's own
 * transition logged and counted (startOnClaim), when it did.
 */
export async function runClaimedTask(task: Task, deps: TaskRunnerDeps, opened?: ClaimedStart): Promise<TaskEnd> {
  const trip = await openTrip(task, deps, opened?.info);
  if (trip.info.counted > deps.options.maxAttempts) return giveUp(trip, deps.options);
  await announceStart(trip, deps.options, opened?.announced === true);
  const keeper = keepLease(trip, deps);
  try {
    return await runUnderLease(trip, keeper, deps);
  } catch (error) {
    return await releaseAfterError(trip, keeper, error);
  } finally {
    await keeper.stop();
  }
}
