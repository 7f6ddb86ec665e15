// One claimed task's trip: count the attempt, build the input, ask the
// adapter for an invocation, run it while the lease keeper renews, let the
// adapter judge the result, then respond, release or drop — with an event at
// every step. Every failure of this trip ends here, logged; it never escapes
// into the dispatcher's loop.

import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import type { ChildResult, Invocation, Outcome, VendorAdapter, VendorConfig } from "../../vendors/types.js";
import { StoreError } from "../store/errors.js";
import type { Store, Task } from "../store/types.js";
import { attemptInfo, EVENT, firstLine, type AttemptInfo } from "./attempts.js";
import { buildInput } from "./input.js";
import { isClaimLost, startLeaseKeeper, type KeeperClock } from "./lease-keeper.js";
import type { Logger } from "./log.js";
import type { ResolvedOptions } from "./options.js";
import type { RunChildOptions } from "./run-child.js";
import { decideSettlement, reviewOf, type Settlement } from "./settle.js";
import { removeRunRecord, writeRunRecord } from "./sweep.js";

/** How a task's trip ended, for the dispatcher's counters. */
export type TaskEnd = "completed" | "failed" | "released" | "usage-limit" | "dropped";

export type RunChildFn = (invocation: Invocation, options: RunChildOptions) => Promise<ChildResult>;

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
  watchdogPath?: string;
  keeperClock?: KeeperClock;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** worktree_path when it is an existing folder, else workspace_root. */
export async function workingDirectory(task: Task): Promise<string> {
  if (task.worktree_path) {
    const stat = await fs.stat(task.worktree_path).catch(() => null);
    if (stat?.isDirectory()) return task.worktree_path;
  }
  return task.workspace_root;
}

/** Run one task claimed by this dispatcher to its settlement. */
export async function runClaimedTask(task: Task, deps: TaskRunnerDeps): Promise<TaskEnd> {
  const { store, options } = deps;
  const token = task.claim_token as string;
  const { adapter, vendorConfig } = deps.current();
  const base = { owner: options.owner, vendor: options.vendor };

  // Events are notes for humans and other tools; failing to write one never stops the work.
  const event = async (type: string, message: string, data: Record<string, unknown>): Promise<void> => {
    await store.appendEvent(task.id, { type, message, data: { ...base, ...data } }).catch((error) => {
      deps.log.warn({ task_id: task.id, err: errorMessage(error) }, `could not record ${type} event`);
    });
  };

  let info: AttemptInfo;
  try {
    info = attemptInfo(await store.readEvents(task.id));
  } catch (error) {
    info = { attempt: 1, counted: 1, history: [] };
    deps.log.warn({ task_id: task.id, err: errorMessage(error) }, "could not read the task's events; counting this as attempt 1");
  }
  const log = deps.log.child({ task_id: task.id, lane: task.lane, attempt: info.attempt });

  const respond = async (status: "completed" | "failed", body: string, metadata: Record<string, unknown>): Promise<boolean> => {
    const review = status === "completed" ? reviewOf(metadata) : {};
    for (let tries = 1; ; tries += 1) {
      try {
        await store.respond(task.id, { body, status, claimToken: token, reviewer: options.owner, metadata, ...review });
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
          return false;
        }
        if (tries >= 3) {
          log.error({ err: errorMessage(error) }, "could not write the response; the claim will expire and the task run again");
          return false;
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * tries));
      }
    }
  };
  const release = async (reason: string): Promise<boolean> => {
    try {
      await store.release(task.id, { claimToken: token, reason });
      return true;
    } catch (error) {
      log.warn({ err: errorMessage(error) }, isClaimLost(error) ? "claim lost before release" : "could not release; the lease will expire instead");
      return false;
    }
  };

  if (info.counted > options.maxAttempts) {
    // Earlier runs ended without settling (e.g. a dispatcher killed mid-run each time).
    const body = [
      `${options.vendor} dispatcher gave up on ${task.id}: ${info.counted - 1} earlier attempts did not finish (--max-attempts ${options.maxAttempts}).`,
      "",
      "Attempt history:",
      ...info.history.map((line) => `- ${line}`),
      "",
    ].join("\n");
    log.warn("attempts exhausted before running; failing the task");
    return (await respond("failed", body, { attempt: info.attempt, vendor: options.vendor, dispatcher: options.owner })) ? "failed" : "dropped";
  }

  await event(EVENT.started, `dispatcher ${options.owner} started attempt ${info.attempt}`, {
    attempt: info.attempt,
    supervisor_pid: process.pid,
    lease_seconds: options.leaseSeconds,
  });
  log.info("task claimed");

  const keeper = startLeaseKeeper({
    taskId: task.id,
    renew: () => store.renew(task.id, { claimToken: token, leaseSeconds: options.leaseSeconds }),
    renewEveryMs: options.renewEveryMs,
    renewRetryMs: options.renewRetryMs,
    leaseMs: options.leaseMs,
    clock: deps.keeperClock,
    onRetry: (error) => log.warn({ err: errorMessage(error) }, "lease renewal failed; retrying"),
    onRenewed: () => log.debug("lease renewed"),
  });
  let recordFile: Promise<string | null> | null = null;

  try {
    const cwd = await workingDirectory(task);
    const warnings: Promise<void>[] = [];
    const warn = (message: string, data: Record<string, unknown> = {}): void => {
      log.warn(data, message);
      warnings.push(event(EVENT.warning, message, data));
    };

    let invocation: Invocation;
    try {
      const { input } = await buildInput(task, cwd, store, { supportsEffort: adapter.supportsEffort === true });
      invocation = adapter.invocation(task, { input, cwd, attempt: info.attempt, config: vendorConfig, warn });
    } catch (error) {
      // Nothing ran: a bad setup on this host may be fine on another dispatcher's.
      const message = `could not prepare the run: ${errorMessage(error)}`;
      await keeper.stop();
      await Promise.all(warnings);
      return await settle({ kind: "failed", body: `${options.vendor} dispatcher ${message}`, retry: true }, null);
    }

    const runId = `${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString("hex")}`;
    const stopRun = new AbortController();
    const onLost = (): void => stopRun.abort("lease-lost");
    const onKill = (): void => stopRun.abort("shutdown");
    keeper.signal.addEventListener("abort", onLost, { once: true });
    if (deps.killSignal.aborted) onKill();
    else deps.killSignal.addEventListener("abort", onKill, { once: true });

    let pgid: number | null = null;
    let run: ChildResult;
    try {
      let startedEvent: Promise<void> = Promise.resolve();
      log.info({ command: invocation.file, cwd: invocation.cwd, model: invocation.model ?? undefined }, "child starting");
      run = await deps.runChild(invocation, {
        runId,
        taskTimeoutMs: options.taskTimeoutMs,
        idleTimeoutMs: options.idleTimeoutMs,
        killGraceMs: options.killGraceMs,
        maxOutputBytes: options.maxOutputBytes,
        signal: stopRun.signal,
        watchdogPath: deps.watchdogPath,
        onSpawn: ({ pgid: group }) => {
          pgid = group;
          startedEvent = event(EVENT.headlessStarted, `started ${invocation.file} (process group ${group})`, {
            attempt: info.attempt,
            pid: group,
            command: invocation.file,
            cwd: invocation.cwd,
            model: invocation.model ?? null,
            effort: invocation.effort ?? null,
            run_id: runId,
          });
          recordFile = writeRunRecord(store.root, {
            run_id: runId,
            host: os.hostname(),
            supervisor_pid: process.pid,
            pgid: group,
            task_id: task.id,
            owner: options.owner,
            started_at: new Date().toISOString(),
          }).catch((error) => {
            log.warn({ err: errorMessage(error) }, "could not write the run record (the start-up sweep will not see this run)");
            return null;
          });
        },
      });
      await startedEvent;
    } finally {
      keeper.signal.removeEventListener("abort", onLost);
      deps.killSignal.removeEventListener("abort", onKill);
      await keeper.stop();
    }
    await Promise.all(warnings);
    if (run.spawnError) log.warn({ err: run.spawnError.message, pid: pgid }, "child could not be started");

    let outcome: Outcome;
    try {
      outcome = adapter.settle(run, task);
    } catch (error) {
      outcome = { kind: "failed", body: `${options.vendor} adapter could not judge the run: ${errorMessage(error)}`, retry: false };
    }
    try {
      deps.onOutcome(outcome);
    } catch (error) {
      log.warn({ err: errorMessage(error) }, "cost accounting failed");
    }
    if (keeper.signal.aborted && run.killedBy !== "lease-lost") {
      // The child ended on its own, but the claim was already gone: still a zombie's result.
      run = { ...run, killedBy: "lease-lost" };
    }
    return await settle(outcome, run);
  } catch (error) {
    log.error({ err: errorMessage(error) }, "task run failed unexpectedly; releasing it");
    await keeper.stop();
    return (await release(`dispatcher error: ${firstLine(errorMessage(error))}`)) ? "released" : "dropped";
  } finally {
    await keeper.stop();
    const file = await (recordFile as Promise<string | null> | null);
    if (file) await removeRunRecord(file).catch(() => undefined);
  }

  async function settle(outcome: Outcome, run: ChildResult | null): Promise<TaskEnd> {
    const placeholder: ChildResult = run ?? {
      exitCode: null,
      signal: null,
      stdout: "",
      stderr: "",
      stdoutTruncated: false,
      stderrTruncated: false,
      durationMs: 0,
      killedBy: null,
      spawnError: null,
      invocation: { file: "", args: [], input: "", cwd: "" },
    };
    const settlement = decideSettlement(outcome, placeholder, { info, maxAttempts: options.maxAttempts, vendor: options.vendor, owner: options.owner });
    const facts = { attempt: info.attempt, duration_ms: placeholder.durationMs, exit_code: placeholder.exitCode };
    switch (settlement.action) {
      case "complete": {
        await event(EVENT.headlessCompleted, `completed in ${placeholder.durationMs} ms`, {
          ...facts,
          model_used: settlement.metadata.model_used ?? null,
          effort_used: settlement.metadata.effort_used ?? null,
          cost_usd: settlement.metadata.cost_usd ?? null,
        });
        const ok = await respond("completed", settlement.body, settlement.metadata);
        log.info({ duration_ms: placeholder.durationMs, responded: ok }, ok ? "task completed" : "task completed but the response was dropped");
        return ok ? "completed" : "dropped";
      }
      case "fail": {
        await event(EVENT.headlessFailed, settlement.reason, failedData(settlement.reason, "fail", true));
        const ok = await respond("failed", settlement.body, settlement.metadata);
        log.warn({ duration_ms: placeholder.durationMs, reason: settlement.reason }, ok ? "task failed" : "task failed but the response was dropped");
        return ok ? "failed" : "dropped";
      }
      case "release": {
        await event(EVENT.headlessFailed, settlement.reason, failedData(settlement.reason, "release", settlement.countsAsAttempt));
        const ok = await release(settlement.reason);
        log.warn({ duration_ms: placeholder.durationMs, reason: settlement.reason }, "task released for another attempt");
        return ok ? "released" : "dropped";
      }
      case "usage-limit": {
        const login = settlement.pauseKind === "needs-login";
        const reason = login ? `needs login: ${firstLine(settlement.message)}; ${settlement.fix ?? ""}` : `usage limit: ${firstLine(settlement.message)}`;
        await event(EVENT.headlessFailed, reason, failedData(reason, settlement.pauseKind, false));
        const pause = await deps.onUsageLimit(settlement, task).catch((error) => {
          log.error({ err: errorMessage(error) }, "could not write the vendor pause");
          return null;
        });
        await event(login ? EVENT.needsLogin : EVENT.usageLimit, settlement.message, {
          attempt: info.attempt,
          ...(login ? { fix: settlement.fix ?? null } : {}),
          reset_at: settlement.resetAt ? settlement.resetAt.toISOString() : null,
          paused_until: pause?.until ?? null,
        });
        const ok = await release(reason);
        if (login) log.warn({ paused_until: pause?.until ?? null, fix: settlement.fix }, `needs login: task released (attempt not counted), vendor paused: ${firstLine(settlement.message)}; fix: ${settlement.fix}`);
        else log.warn({ reset_at: settlement.resetAt?.toISOString() ?? null, paused_until: pause?.until ?? null }, "usage limit: task released, vendor paused");
        return ok ? "usage-limit" : "dropped";
      }
      case "drop": {
        await event(EVENT.headlessFailed, settlement.reason, failedData(settlement.reason, "drop", true));
        log.warn({ duration_ms: placeholder.durationMs }, "claim lost: child stopped, nothing written");
        return "dropped";
      }
    }

    function failedData(reason: string, action: string, countsAsAttempt: boolean): Record<string, unknown> {
      return {
        ...facts,
        signal: placeholder.signal,
        killed_by: placeholder.killedBy ?? null,
        spawn_error: placeholder.spawnError?.message ?? null,
        action,
        counts_as_attempt: countsAsAttempt,
        reason,
      };
    }
  }
}
