// Run a prepared invocation to its end: under the run guard, stopped when the
// lease is lost or the dispatcher kills its children, announced by a
// headless_started event, and recorded in dispatchers/runs/ while it lives
// (for the start-up sweep of a dispatcher that dies).

import { randomBytes } from "node:crypto";
import os from "node:os";
import type { ChildResult, Invocation } from "../../vendors/types.js";
import { EVENT } from "./attempts.js";
import type { LeaseKeeper } from "./lease-keeper.js";
import type { ResolvedOptions } from "./options.js";
import type { RunChildOptions } from "./run-child.js";
import { removeRunRecord, writeRunRecord } from "./sweep.js";
import { errorMessage, type Trip } from "./trip.js";

export type RunChildFn = (invocation: Invocation, options: RunChildOptions) => Promise<ChildResult>;

export interface ExecuteDeps {
  options: ResolvedOptions;
  /** The queue folder (run records live under it). */
  queueRoot: string;
  runChild: RunChildFn;
  /** Aborted (reason "shutdown") when running children must stop: grace over, or forced. */
  killSignal: AbortSignal;
  /** The environment agents inherit (RunChildOptions.baseEnv). @default process.env */
  baseEnv?: NodeJS.ProcessEnv;
}

/** A fresh id marking every process of one run (letters, digits and dashes: safe in a file name and the environment). */
export function newRunId(): string {
  return `${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString("hex")}`;
}

/** One abort signal for the run: the lease lost, or the dispatcher killing its children. */
function stopSignals(keeper: LeaseKeeper, killSignal: AbortSignal): { signal: AbortSignal; detach(): void } {
  const stop = new AbortController();
  const onLost = (): void => stop.abort("lease-lost");
  const onKill = (): void => stop.abort("shutdown");
  keeper.signal.addEventListener("abort", onLost, { once: true });
  if (killSignal.aborted) onKill();
  else killSignal.addEventListener("abort", onKill, { once: true });
  return {
    signal: stop.signal,
    detach() {
      keeper.signal.removeEventListener("abort", onLost);
      killSignal.removeEventListener("abort", onKill);
    },
  };
}

/** Run `invocation` while `keeper` holds the lease; never throws for the child's failures. */
export async function executeRun(trip: Trip, invocation: Invocation, keeper: LeaseKeeper, deps: ExecuteDeps): Promise<ChildResult> {
  const { options } = deps;
  const runId = newRunId();
  const stop = stopSignals(keeper, deps.killSignal);
  let startedEvent: Promise<void> = Promise.resolve();
  let recordFile: Promise<string | null> = Promise.resolve(null);

  const onSpawn = ({ pgid }: { pgid: number }): void => {
    startedEvent = trip.event(EVENT.headlessStarted, `started ${invocation.file} (process group ${pgid})`, {
      attempt: trip.info.attempt,
      pid: pgid,
      command: invocation.file,
      cwd: invocation.cwd,
      model: invocation.model ?? null,
      effort: invocation.effort ?? null,
      run_id: runId,
    });
    recordFile = writeRunRecord(deps.queueRoot, {
      run_id: runId,
      host: os.hostname(),
      supervisor_pid: process.pid,
      pgid,
      task_id: trip.task.id,
      owner: options.owner,
      started_at: new Date().toISOString(),
    }).catch((error) => {
      trip.log.warn({ err: errorMessage(error) }, "could not write the run record (the start-up sweep will not see this run)");
      return null;
    });
  };

  trip.log.info({ command: invocation.file, cwd: invocation.cwd, model: invocation.model ?? undefined }, "child starting");
  try {
    const run = await deps.runChild(invocation, {
      runId,
      taskTimeoutMs: options.taskTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      killGraceMs: options.killGraceMs,
      maxOutputBytes: options.maxOutputBytes,
      signal: stop.signal,
      onSpawn,
      baseEnv: deps.baseEnv,
    });
    await startedEvent;
    if (run.spawnError) trip.log.warn({ err: run.spawnError.message }, "child could not be started");
    return run;
  } finally {
    stop.detach();
    const file = await recordFile;
    if (file) await removeRunRecord(file).catch(() => undefined);
  }
}
