// One claimed task's trip, step by step: open the trip (which attempt), give
// up when earlier attempts are used up, announce the start, keep the lease,
// prepare the run (working folder, input, invocation), execute it, judge it,
// settle it. Each step lives in its own function or module; this one only
// orders them and guarantees that no failure escapes into the dispatcher's
// loop and that the lease keeper always stops.

import { promises as fs } from "node:fs";
import type { ChildResult, Invocation, Outcome, VendorAdapter, VendorConfig } from "../../vendors/types.js";
import type { Store, Task } from "../store/types.js";
import { EVENT, firstLine } from "./attempts.js";
import { executeRun, type RunChildFn } from "./execute-run.js";
import { buildInput } from "./input.js";
import { startLeaseKeeper, type KeeperClock, type LeaseKeeper } from "./lease-keeper.js";
import type { Logger } from "./log.js";
import type { ResolvedOptions } from "./options.js";
import type { Settlement } from "./settle.js";
import { giveUp, settleTask, type TaskEnd } from "./settle-task.js";
import { errorMessage, openTrip, type Trip } from "./trip.js";

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
  onOutcome(outcome: Outcome): void;
  keeperClock?: KeeperClock;
}

/** worktree_path when it is an existing folder, else workspace_root. */
export async function workingDirectory(task: Task): Promise<string> {
  if (task.worktree_path) {
    const stat = await fs.stat(task.worktree_path).catch(() => null);
    if (stat?.isDirectory()) return task.worktree_path;
  }
  return task.workspace_root;
}

/** A run ready to start, or why it cannot (nothing ran: another dispatcher's host may do better). */
export type PreparedRun = { invocation: Invocation; adapter: VendorAdapter } | { failure: Outcome };

/** The working folder, the input and the adapter's invocation; adapter warnings become events. */
export async function prepareRun(trip: Trip, deps: TaskRunnerDeps): Promise<PreparedRun> {
  const { adapter, vendorConfig } = deps.current();
  const warnings: Promise<void>[] = [];
  const warn = (message: string, data: Record<string, unknown> = {}): void => {
    trip.log.warn(data, message);
    warnings.push(trip.event(EVENT.warning, message, data));
  };
  try {
    const cwd = await workingDirectory(trip.task);
    const { input } = await buildInput(trip.task, cwd, deps.store, { supportsEffort: adapter.supportsEffort === true });
    const invocation = adapter.invocation(trip.task, { input, cwd, attempt: trip.info.attempt, config: vendorConfig, warn });
    return { invocation, adapter };
  } catch (error) {
    return { failure: { kind: "failed", body: `${deps.options.vendor} dispatcher could not prepare the run: ${errorMessage(error)}`, retry: true } };
  } finally {
    await Promise.all(warnings);
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
    deps.onOutcome(outcome);
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

/** Run one task claimed by this dispatcher to its settlement. */
export async function runClaimedTask(task: Task, deps: TaskRunnerDeps): Promise<TaskEnd> {
  const { options } = deps;
  const trip = await openTrip(task, deps);
  if (trip.info.counted > options.maxAttempts) return giveUp(trip, options);

  await trip.event(EVENT.started, `dispatcher ${options.owner} started attempt ${trip.info.attempt}`, {
    attempt: trip.info.attempt,
    supervisor_pid: process.pid,
    lease_seconds: options.leaseSeconds,
  });
  trip.log.info("task claimed");

  const keeper = keepLease(trip, deps);
  try {
    const prepared = await prepareRun(trip, deps);
    if ("failure" in prepared) {
      await keeper.stop();
      return await settleTask(trip, prepared.failure, null, deps);
    }
    let run = await executeRun(trip, prepared.invocation, keeper, { ...deps, queueRoot: deps.store.root });
    await keeper.stop();
    // The child may have ended on its own after the claim was already gone: still a zombie's result.
    if (keeper.signal.aborted && run.killedBy !== "lease-lost") run = { ...run, killedBy: "lease-lost" };
    return await settleTask(trip, judgeRun(trip, prepared.adapter, run, deps), run, deps);
  } catch (error) {
    trip.log.error({ err: errorMessage(error) }, "task run failed unexpectedly; releasing it");
    await keeper.stop();
    return (await trip.release(`dispatcher error: ${firstLine(errorMessage(error))}`)) ? "released" : "dropped";
  } finally {
    await keeper.stop();
  }
}
