// The dispatcher: changes → select → claim → run → settle, until stopped.
// It sleeps on the store's change notifier (file-system events) with a safety poll and
// a wake-up at the earliest lease expiry, so a new task is seen within
// milliseconds and an idle queue costs next to nothing. Up to `concurrency`
// tasks run at once (p-queue). Stopping stops claiming, lets running children
// finish for the grace period, then kills them and releases their claims.

import { watch, type FSWatcher } from "node:fs";
import path from "node:path";
import PQueue from "p-queue";
import type { VendorAdapter, VendorConfig } from "../../vendors/types.js";
import { StoreError } from "../store/errors.js";
import type { ChangeNotifier, Store, Task } from "../store/types.js";
import { createDailyCostLedger, outcomeCostUsd } from "./budget.js";
import type { KeeperClock } from "./lease-keeper.js";
import { createLogger, type Logger } from "./log.js";
import { safeObserve, type DispatcherObserver } from "./observer.js";
import { resolveOptions, type DispatcherOptions, type ResolvedOptions } from "./options.js";
import { describePause, readPause, setPause, untilOf, type PauseRecord } from "./pauses.js";
import { runChild } from "./run-child.js";
import { runClaimedTask, startOnClaim, type ClaimedStart, type RunChildFn, type TaskEnd, type TaskRunnerDeps } from "./run-task.js";
import type { Doomed } from "./schedule.js";
import { createSelector } from "./select.js";
import { startOrphanReaper } from "./subreaper.js";
import { dropSpareRunRecords, sweepLeftovers } from "./sweep.js";

/** Options of startDispatcher: the validated ones plus the vendor's adapter settings. */
export interface StartDispatcherOptions extends DispatcherOptions {
  /** The vendor's merged configuration (defaults + handoff.yaml dispatch: + --vendor-config + flags). */
  vendorConfig?: VendorConfig;
  /** --vendor-module: a plugin path or package, used instead of the built-in adapter. */
  vendorModule?: string;
}

/** What tests (and embedders) may replace. */
export interface DispatcherDeps {
  /** @default openStore(options.queueRoot), closed on stop */
  store?: Store;
  /** @default loadAdapter(options.vendor, {config: vendorConfig, modulePath: vendorModule}) */
  adapter?: VendorAdapter;
  /** @default a pino logger per options.logLevel/logFormat on stderr */
  logger?: Logger;
  /** Wall clock for leases and pauses. @default () => new Date() */
  now?: () => Date;
  /** @default runChild (under the run guard) */
  runChild?: RunChildFn;
  /** SIGHUP: fresh adapter and vendor config. @default none (reload logs that there is nothing to re-read) */
  reload?: () => Promise<{ adapter: VendorAdapter; vendorConfig: VendorConfig; laneLimits?: Readonly<Record<string, number>> }>;
  keeperClock?: KeeperClock;
  /** Kill leftovers of dead supervisors at start. @default true */
  sweep?: boolean;
  /** Told of task ends, vendor pauses and an unexpected stop (notifications); never waited on. */
  observer?: DispatcherObserver;
}

export interface DispatcherStats {
  running: number;
  /** Claimable tasks seen in the latest look at the queue. */
  queued: number;
  claimed: number;
  completed: number;
  failed: number;
  released: number;
  usageLimits: number;
  dropped: number;
  /** ISO time the vendor's pause ends, or null. */
  pausedUntil: string | null;
  /** Why it is paused ("needs-login: Not logged in · Please run /login; fix: run `claude /login`, ..."), or null. */
  pause: string | null;
  stopping: boolean;
}

export interface Dispatcher {
  readonly options: ResolvedOptions;
  /** Stop claiming, let children finish for the grace period, then kill them and release. Idempotent. */
  stop(reason?: string): Promise<void>;
  /** Stop now: kill running children and release their claims (a second signal). */
  forceStop(reason?: string): Promise<void>;
  /** Re-read the vendor's adapter and config (SIGHUP); running tasks keep theirs. */
  reload(): Promise<void>;
  /** Resolves with the exit code once stopped: 0 after a clean drain. */
  readonly done: Promise<number>;
  stats(): DispatcherStats;
}

/** The status line's words for a pause: "needs-login: <the CLI's line>; fix: <what to do>". */
function pauseSummary(pause: PauseRecord): string {
  return pause.kind === "needs-login" && pause.fix ? `needs-login: ${pause.reason}; fix: ${pause.fix}` : `${pause.kind}: ${pause.reason}`;
}

/** A claim refused for reasons that heal slowly (request file changed) is not retried for this long. */
const CLAIM_COOLDOWN_MS = 60_000;
/** How often a PostgreSQL queue's shared daily cost is read at most (other hosts' spending shows within this). */
const SHARED_BUDGET_CHECK_MS = 1000;
/** Woken this long after a lease's expiry, so the scan sees it expired. */
const LEASE_WAKE_MARGIN_MS = 25;

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Start a dispatcher; resolves once it is watching the queue (throws on a bad option, adapter or queue). */
export async function startDispatcher(input: StartDispatcherOptions, deps: DispatcherDeps = {}): Promise<Dispatcher> {
  const options = resolveOptions(input);
  const now = deps.now ?? (() => new Date());
  const observe = safeObserve(deps.observer);
  const log =
    deps.logger ?? (await createLogger({ level: options.logLevel, format: options.logFormat, base: { vendor: options.vendor, owner: options.owner } }));

  let ownStore = false;
  let store = deps.store;
  if (!store) {
    if (!options.queueRoot) throw new TypeError("startDispatcher needs `queueRoot` (or an injected store)");
    // A folder or a postgres:// URL; a database's schema is brought up to date.
    const { openStore } = await import("../store/open.js");
    store = await openStore(options.queueRoot, { migrate: true, longRunning: true });
    ownStore = true;
  }
  const queueStore: Store = store;

  let vendorConfig: VendorConfig = { ...(input.vendorConfig ?? {}) };
  let adapter = deps.adapter;
  if (!adapter) {
    const { loadAdapter } = await import("../../vendors/registry.js");
    adapter = await loadAdapter(options.vendor, { config: vendorConfig, modulePath: input.vendorModule });
  }
  let current = { adapter, vendorConfig };

  if (deps.sweep !== false) {
    try {
      const swept = await sweepLeftovers(queueStore.root);
      for (const warning of swept.warnings) log.warn(warning);
      if (swept.killed.length > 0 || swept.removed > 0) {
        log.warn({ killed: swept.killed, records: swept.removed }, "killed leftovers of a dispatcher that died");
      }
      const temps = await queueStore.sweepTempFiles();
      if (temps.length > 0) log.info({ files: temps.length }, "removed temp files and task folders without task.json that a crash left behind");
    } catch (error) {
      log.warn({ err: errorMessage(error) }, "start-up sweep failed; going on");
    }
  }

  // Linux: orphans of runs (setsid'd descendants included) come back to us and end with their run.
  const reaper = startOrphanReaper((sweep) => {
    if (sweep.escaped.length > 0) log.warn({ pids: sweep.escaped }, "killed descendants of finished runs that had left their process group");
  });

  let notifier: ChangeNotifier;
  try {
    notifier = await queueStore.changes();
  } catch (error) {
    if (ownStore) await queueStore.close().catch(() => undefined);
    reaper?.stop();
    throw error;
  }

  // handoff.yaml's lanes.<name>.max_running; SIGHUP may replace them.
  let laneLimits = options.laneLimits;
  const selector = createSelector({ store: queueStore, lanes: options.lanes, laneLimits: () => laneLimits, accepts: (task) => current.adapter.accepts(task) });
  const queue = new PQueue({ concurrency: options.concurrency });
  const running = new Map<string, Task>();
  const cooldown = new Map<string, number>();
  const counts = { claimed: 0, completed: 0, failed: 0, released: 0, usageLimits: 0, dropped: 0 };
  let lastQueued = 0;
  let pausedUntilMs = 0;
  // --daily-cost-usd is this dispatcher's own ceiling: its pause lives here,
  // not in the vendor's shared pause file, so other dispatchers keep claiming.
  let budgetUntilMs = 0;
  let reportedPause: string | null = null;
  let pauseText: string | null = null;
  // While paused, the pauses folder is watched: removing the file
  // (`agent-lanes resume --vendor X`) wakes the loop at once. (A PostgreSQL
  // queue has no such folder: its notifications wake the loop instead.)
  let pauseWatcher: FSWatcher | null = null;
  const watchPauses = (): void => {
    if (pauseWatcher) return;
    try {
      pauseWatcher = watch(path.join(queueStore.root, "pauses"), { persistent: false }, () => notifier.bump());
      pauseWatcher.on("error", () => unwatchPauses());
    } catch {
      // No watch: the safety poll still sees the removal.
      pauseWatcher = null;
    }
  };
  const unwatchPauses = (): void => {
    pauseWatcher?.close();
    pauseWatcher = null;
  };
  let pauseWarning: string | null = null;
  let stopping = false;
  let exitCode = 0;
  const stopClaiming = new AbortController();
  const killChildren = new AbortController();
  const ledger = createDailyCostLedger({ limitUsd: options.dailyCostUsd, now });

  // A PostgreSQL queue's budget: the vendor's cost of today in the database, over every host.
  let pendingCost: Promise<void> = Promise.resolve();
  let budgetCheckedAt = 0;
  async function sharedBudget(force: boolean): Promise<void> {
    const shared = queueStore.shared;
    if (!shared || options.dailyCostUsd === null) return;
    if (!force && Date.now() - budgetCheckedAt < SHARED_BUDGET_CHECK_MS) return;
    budgetCheckedAt = Date.now();
    const { spentUsd, resetsInMs } = await shared.costToday(options.vendor);
    if (spentUsd < options.dailyCostUsd) return;
    const until = now().getTime() + resetsInMs;
    if (budgetUntilMs >= until - SHARED_BUDGET_CHECK_MS) return;
    budgetUntilMs = until;
    const reason = `daily cost ceiling of $${options.dailyCostUsd} reached ($${spentUsd.toFixed(4)} spent today, UTC, by the ${options.vendor} dispatchers of this queue)`;
    observe({ type: "vendor.paused", vendor: options.vendor, kind: "budget", until: new Date(until).toISOString(), reason, owner: options.owner });
    log.warn({ paused_until: new Date(until).toISOString(), kind: "budget" }, `not claiming until the next UTC day: ${reason}`);
    notifier.bump();
  }

  const busy = (): boolean => running.size > 0 || lastQueued > 0;

  async function pauseVendor(
    until: Date | null,
    reason: string,
    kind: "usage-limit" | "needs-login",
    extra: { fix?: string; dated?: boolean } = {},
  ): Promise<{ until: string }> {
    const record = await setPause(
      queueStore,
      options.vendor,
      { until, reason, kind, owner: options.owner, jitter: true, fix: extra.fix, dated: extra.dated },
      { now: now(), timings: { resetJitterSeconds: options.pauseJitterSeconds } },
    );
    pausedUntilMs = Math.max(pausedUntilMs, untilOf(record));
    pauseText = pauseSummary(record);
    // Wake the loop so it reads the pause before its next claim.
    notifier.bump();
    return { until: record.until };
  }

  const taskDeps: TaskRunnerDeps = {
    store: queueStore,
    options,
    current: () => current,
    log,
    runChild: deps.runChild ?? runChild,
    killSignal: killChildren.signal,
    keeperClock: deps.keeperClock,
    // Agents inherit the environment the dispatcher started with (nothing in it changes process.env).
    baseEnv: { ...process.env },
    // Told when the answer is written: the event carries the answer, so an observer reads nothing back.
    onAnswered: ({ task, response }) => observe({ type: `task.${response.status}`, task, response, owner: options.owner }),
    onUsageLimit: (settlement) =>
      pauseVendor(settlement.resetAt, settlement.message, settlement.pauseKind, { fix: settlement.fix, dated: settlement.resetDated }),
    onOutcome: (outcome, task) => {
      const shared = queueStore.shared;
      if (shared) {
        // A PostgreSQL queue: the cost goes to the database, where every host's dispatchers of this vendor add up.
        const cost = outcomeCostUsd(outcome);
        if (cost === null) return;
        pendingCost = pendingCost
          .then(() => shared.recordCost({ vendor: options.vendor, owner: options.owner, taskId: task?.id ?? null, costUsd: cost }))
          .then(() => sharedBudget(true))
          .catch((error: unknown) => log.warn({ err: errorMessage(error) }, "could not record the run's cost in the database"));
        return;
      }
      ledger.record(outcomeCostUsd(outcome));
      if (ledger.exceeded() && budgetUntilMs < ledger.resetsAt().getTime()) {
        budgetUntilMs = ledger.resetsAt().getTime();
        const reason = `daily cost ceiling of $${options.dailyCostUsd} reached ($${ledger.spentUsd().toFixed(4)} spent today, UTC)`;
        observe({ type: "vendor.paused", vendor: options.vendor, kind: "budget", until: ledger.resetsAt().toISOString(), reason, owner: options.owner });
        log.warn({ paused_until: ledger.resetsAt().toISOString(), kind: "budget" }, `not claiming until the next UTC day: ${reason}`);
        notifier.bump();
      }
    },
  };

  /** Reads the vendor's pause file; returns ms until it ends, or null when claiming may go on. */
  async function pauseRemainingMs(at: Date): Promise<number | null> {
    const read = await readPause(queueStore, options.vendor, at);
    if (read.warning && read.warning !== pauseWarning) log.warn(read.warning);
    pauseWarning = read.warning;
    if (read.pause) {
      pausedUntilMs = untilOf(read.pause);
      pauseText = pauseSummary(read.pause);
      watchPauses();
      if (reportedPause !== read.pause.until) {
        reportedPause = read.pause.until;
        observe({ type: "vendor.paused", vendor: options.vendor, kind: read.pause.kind, until: read.pause.until, reason: read.pause.reason, owner: options.owner });
        log.warn({ paused_until: read.pause.until, kind: read.pause.kind, fix: read.pause.fix }, `not claiming: ${describePause(read.pause, at)}`);
      }
      return Math.max(0, pausedUntilMs - at.getTime());
    }
    if (reportedPause !== null) log.info({ vendor: options.vendor }, "vendor pause over or removed; claiming again");
    reportedPause = null;
    pausedUntilMs = 0;
    pauseText = null;
    unwatchPauses();
    return null;
  }

  function start(task: Task, opened: ClaimedStart | undefined): void {
    running.set(task.id, task);
    counts.claimed += 1;
    void queue
      .add(() => runClaimedTask(task, taskDeps, opened))
      .then(
        (end: TaskEnd | void) => {
          const key = ({ completed: "completed", failed: "failed", released: "released", "usage-limit": "usageLimits", dropped: "dropped" } as const)[end as TaskEnd];
          if (key) counts[key] += 1;
        },
        (error: unknown) => {
          counts.dropped += 1;
          log.error({ task_id: task.id, err: errorMessage(error) }, "task run crashed");
        },
      )
      .finally(() => {
        running.delete(task.id);
        // A free slot is a reason to look at the queue again.
        notifier.bump();
        for (const wake of [...slotWaiters]) wake();
      });
  }

  /** Whether every slot is taken (nothing can be claimed until a run ends). */
  const full = (): boolean => queue.pending + queue.size >= options.concurrency;
  const slotWaiters = new Set<() => void>();
  /** Resolves when a run ends (its slot is free) or claiming stops. */
  function untilSlotFree(): Promise<void> {
    return new Promise((resolve) => {
      const signal = stopClaiming.signal;
      const done = (): void => {
        slotWaiters.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      if (signal.aborted) return resolve();
      slotWaiters.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** A failed, missing or cyclic dependency: the task can never run, so it fails with a reason naming it. */
  async function failDoomed({ task, reason, dependency }: Doomed): Promise<void> {
    try {
      const answered = await queueStore.respond(task.id, {
        status: "failed",
        body: `${reason}\n\nTask ${task.id} depended on ${dependency} (metadata.depends_on) and was not run.\n`,
        reviewer: options.owner,
        metadata: { failed_dependency: dependency, dispatcher: options.owner },
      });
      counts.failed += 1;
      observe({ type: "task.failed", task: answered.task, response: answered.response, owner: options.owner });
      log.warn({ task_id: task.id, dependency }, `failed without running: ${reason}`);
    } catch (error) {
      // Another dispatcher got there first, or the task was claimed meanwhile.
      log.debug({ task_id: task.id, err: errorMessage(error) }, "could not fail a task with a failed dependency");
    }
  }

  /** One look at the queue and the claims it allows; returns how long to sleep at most. */
  async function round(): Promise<number> {
    let free = options.concurrency - (queue.pending + queue.size);
    // Full: nothing to read or claim until a run ends (loop() waits for that).
    if (free <= 0) return options.pollMs;
    if (queueStore.shared && options.dailyCostUsd !== null) {
      await pendingCost;
      await sharedBudget(false);
    }
    const at = now();
    if (budgetUntilMs > at.getTime()) return Math.max(10, Math.min(options.pollMs, budgetUntilMs - at.getTime() + LEASE_WAKE_MARGIN_MS));
    const paused = await pauseRemainingMs(at);
    if (paused !== null) return Math.max(10, Math.min(options.pollMs, paused + LEASE_WAKE_MARGIN_MS));

    const nowMs = at.getTime();
    for (const [id, until] of cooldown) if (until <= nowMs) cooldown.delete(id);
    const skip = new Set<string>([...running.keys(), ...cooldown.keys()]);
    const selection = await selector.select(at, skip);
    for (const problem of selection.newProblems) {
      log.warn({ task_id: problem.taskId, file: problem.file }, `skipping unreadable task: ${problem.message}`);
    }
    lastQueued = selection.candidates.length;
    for (const doomed of selection.doomed) await failDoomed(doomed);

    for (const candidate of selection.candidates) {
      if (free <= 0 || stopping || Math.max(pausedUntilMs, budgetUntilMs) > now().getTime()) break;
      let claimed: Task;
      // Where the store can, dispatcher_started is logged in the claim's own transition (attempts counted under its lock).
      let opened: ClaimedStart | undefined;
      const events = queueStore.transitionEvents === true ? startOnClaim(options, (start) => (opened = start)) : undefined;
      try {
        claimed = await queueStore.claim(candidate.id, { owner: options.owner, leaseSeconds: options.leaseSeconds, maxRunning: (Object.hasOwn(laneLimits, candidate.lane) ? laneLimits[candidate.lane] : undefined) ?? null, events });
      } catch (error) {
        const code = error instanceof StoreError ? error.code : null;
        if (code === "lease_held" || code === "invalid_state" || code === "unknown_task") {
          log.debug({ task_id: candidate.id, err: errorMessage(error) }, "claim lost to another dispatcher");
        } else if (code === "lane_full" || code === "not_due") {
          // Another dispatcher filled the lane (or the schedule changed) since the scan: a finishing task wakes us.
          log.debug({ task_id: candidate.id, err: errorMessage(error) }, "not claimable yet");
        } else {
          cooldown.set(candidate.id, nowMs + CLAIM_COOLDOWN_MS);
          log.warn({ task_id: candidate.id, lane: candidate.lane, err: errorMessage(error) }, "cannot claim task; skipping it for a minute");
        }
        continue;
      }
      if (stopping) {
        // Stopped while the claim was in flight: hand it straight back.
        await queueStore.release(claimed.id, { claimToken: claimed.claim_token as string, reason: "dispatcher shutting down" }).catch(() => undefined);
        break;
      }
      lastQueued = Math.max(0, lastQueued - 1);
      free -= 1;
      start(claimed, opened);
    }

    // A timer to the next lease expiry or not_before, whichever comes first: no polling for either.
    const wakes = [selection.nextLeaseExpiryMs, selection.nextDueMs].filter((ms): ms is number => ms !== null);
    if (wakes.length === 0) return options.pollMs;
    return Math.max(10, Math.min(options.pollMs, Math.min(...wakes) - now().getTime() + LEASE_WAKE_MARGIN_MS));
  }

  async function loop(): Promise<void> {
    while (!stopping) {
      const since = notifier.generation;
      let sleepMs = options.pollMs;
      try {
        sleepMs = await round();
      } catch (error) {
        // One bad round (a transient I/O error) never ends the dispatcher.
        log.error({ err: errorMessage(error) }, "dispatch round failed; retrying after the poll interval");
      }
      if (stopping) break;
      // A full dispatcher waits for a run to end, not for file events: most of
      // those are its own runs' writes (about ten a task), and each woke the
      // loop only to find no free slot. What they named is not lost: the
      // store keeps it for the next look, which the ended run's bump starts.
      if (full()) await untilSlotFree();
      else await notifier.wait(sleepMs, since, stopClaiming.signal);
    }
  }

  let statusTimer: NodeJS.Timeout | null = null;
  const armStatus = (): void => {
    statusTimer = setTimeout(() => {
      if (busy()) log.info({ ...stats() }, "status");
      armStatus();
    }, options.statusEveryMs);
    statusTimer.unref();
  };

  function stats(): DispatcherStats {
    return {
      running: running.size,
      queued: lastQueued,
      ...counts,
      pausedUntil: Math.max(pausedUntilMs, budgetUntilMs) > now().getTime() ? new Date(Math.max(pausedUntilMs, budgetUntilMs)).toISOString() : null,
      pause: pausedUntilMs > now().getTime() ? pauseText : budgetUntilMs > now().getTime() ? "budget: daily cost ceiling reached" : null,
      stopping,
    };
  }

  log.info(
    { lanes: options.lanes, concurrency: options.concurrency, lease_seconds: options.leaseSeconds, adapter: current.adapter.name, queue: queueStore.root },
    "dispatcher started",
  );
  armStatus();
  const looping = loop();

  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  let stopped: Promise<void> | null = null;

  function stop(reason = "stop requested"): Promise<void> {
    stopped ??= (async () => {
      stopping = true;
      stopClaiming.abort();
      log.info({ reason, running: running.size, grace_seconds: options.graceSeconds }, "stopping: no new claims");
      try {
        await looping;
      } catch (error) {
        log.error({ err: errorMessage(error) }, "dispatch loop ended with an error");
        exitCode = 1;
      }
      if (running.size > 0 && !killChildren.signal.aborted) {
        let graceTimer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => {
          graceTimer = setTimeout(resolve, options.graceMs);
          killChildren.signal.addEventListener("abort", () => resolve(), { once: true });
        });
        await Promise.race([queue.onIdle(), grace]);
        clearTimeout(graceTimer);
        if (running.size > 0) {
          log.warn({ running: running.size }, "grace period over: stopping running children and releasing their tasks");
          killChildren.abort("shutdown");
        }
      }
      await queue.onIdle();
      await pendingCost;
      reaper?.stop();
      dropSpareRunRecords();
      if (statusTimer) clearTimeout(statusTimer);
      unwatchPauses();
      if (ownStore) await queueStore.close().catch((error) => log.warn({ err: errorMessage(error) }, "closing the store failed"));
      log.info({ ...stats(), exit_code: exitCode }, "dispatcher stopped");
      if (exitCode !== 0) observe({ type: "dispatcher.stopped", vendor: options.vendor, owner: options.owner, reason, exitCode });
      resolveDone(exitCode);
    })();
    return stopped;
  }

  // The loop only ends through stop(); an unexpected end still stops cleanly.
  looping.catch((error) => {
    log.fatal({ err: errorMessage(error) }, "dispatch loop crashed");
    exitCode = 1;
    void stop(`loop crashed: ${errorMessage(error)}`);
  });

  return {
    options,
    stop,
    forceStop(reason = "forced stop") {
      log.warn({ reason, running: running.size }, "forced stop: killing running children now");
      const stopping = stop(reason);
      killChildren.abort("shutdown");
      return stopping;
    },
    async reload() {
      if (!deps.reload) {
        log.info("reload requested; nothing to re-read");
        return;
      }
      try {
        const fresh = await deps.reload();
        current = { adapter: fresh.adapter, vendorConfig: fresh.vendorConfig };
        if (fresh.laneLimits) laneLimits = fresh.laneLimits;
        log.info({ adapter: current.adapter.name, lane_limits: laneLimits }, "configuration re-read");
      } catch (error) {
        log.error({ err: errorMessage(error) }, "could not re-read the configuration; keeping the old one");
      }
    },
    done,
    stats,
  };
}
