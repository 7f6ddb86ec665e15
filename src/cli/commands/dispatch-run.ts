// What `agent-lanes dispatch --vendor <name>` does (its flags are in
// dispatch.ts): the long-running dispatcher. Loaded from dist/ when the
// command runs, with its own module graph; the supervisor, the store, the
// adapters and the logger are imported here. SIGINT/SIGTERM drain (a second
// one forces), SIGHUP re-reads the configuration.

import type { Command } from "commander";
import type { VendorConfig } from "../../../vendors/types.js";
import type { Dispatcher } from "../../supervisor/supervisor.js";
import { openQueue, requireConfig, STORE_START_WAIT_MS, type QueueContext } from "../context.js";
import type { DispatchFlags } from "./dispatch.js";
import { holdYoungGeneration, releaseMemoryLater } from "../../process-memory.js";

/** Vendor config layers, then the flags that belong in it. */
async function vendorConfigFor(flags: DispatchFlags, queue: QueueContext, warn: (message: string) => void): Promise<VendorConfig> {
  const { resolveVendorConfig } = await import("../../config/dispatch.js");
  const config = await resolveVendorConfig(flags.vendor, {
    dispatchSection: queue.config?.dispatch,
    dispatchFile: queue.config?.path,
    vendorConfigPath: flags.vendorConfig ?? null,
    onWarning: warn,
  });
  if (flags.command !== undefined) {
    if (flags.command.trim() === "") throw new Error("Expected `--command` to be a non-empty command, got `` (string)");
    config.command = flags.command;
  }
  if (flags.maxCostUsd !== undefined) {
    const usd = Number(flags.maxCostUsd);
    if (flags.maxCostUsd.trim() === "" || !Number.isFinite(usd) || usd <= 0) {
      throw new Error(`Expected \`--max-cost-usd\` to be a number > 0, got \`${flags.maxCostUsd}\` (string)`);
    }
    config.maxCostUsd = usd;
  }
  return config;
}

export async function runDispatch(flags: DispatchFlags, cmd: Command): Promise<number> {
  holdYoungGeneration(); // until start-up is over (process-memory.ts)
  const { resolveOptions } = await import("../../supervisor/options.js");
  const input = {
    vendor: flags.vendor,
    lanes: flags.lane,
    concurrency: flags.concurrency,
    leaseSeconds: flags.leaseSeconds,
    owner: flags.owner,
    taskTimeoutSeconds: flags.taskTimeout,
    idleTimeoutSeconds: flags.idleTimeout,
    killGraceSeconds: flags.killGraceSeconds,
    maxOutputBytes: flags.maxOutputBytes,
    graceSeconds: flags.graceSeconds,
    maxAttempts: flags.maxAttempts,
    pollSeconds: flags.pollSeconds,
    statusEverySeconds: flags.statusSeconds,
    dailyCostUsd: flags.dailyCostUsd,
    logLevel: flags.logLevel,
    logFormat: flags.logFormat,
    worktree: flags.worktree,
  };
  // Every flag is checked before the queue is touched.
  const options = resolveOptions(input);

  // A PostgreSQL queue's schema is brought up to date here (never destructive).
  // A database that refuses connections (restarting, or not up yet after a
  // reboot) is waited for a while; a wrong URL, password or database name fails at once.
  const queue = await openQueue(cmd, { migrate: true, startWaitMs: STORE_START_WAIT_MS, longRunning: true });
  const { laneLimitsOf } = await import("../../config/handoff.js");
  const laneLimits = laneLimitsOf(queue.config);
  const { createLogger } = await import("../../supervisor/log.js");
  const log = await createLogger({ level: options.logLevel, format: options.logFormat, base: { vendor: options.vendor, owner: options.owner } });
  const warn = (message: string): void => log.warn(message);
  const { resolveNotifyConfig, createNotifier } = await import("../../notify/index.js");
  const notifyConfig = resolveNotifyConfig(queue.config?.raw.notify, flags.notify ?? [], queue.config?.path);
  const notifier = notifyConfig
    ? createNotifier({ config: notifyConfig, queueRoot: queue.queueRoot, shared: queue.store.shared, log: { warn, info: (message) => log.info(message) } })
    : null;

  // Signals are handled from here on, start-up included: a SIGTERM while the
  // adapter loads or the queue is first scanned must still end in a clean stop.
  let dispatcher: Dispatcher | null = null;
  let retention: { stop(): void; done(): Promise<void> } | null = null;
  let earlySignal: NodeJS.Signals | null = null;
  let signals = 0;
  const onStop = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (!dispatcher) earlySignal ??= signal;
    else if (signals === 1) void dispatcher.stop(`received ${signal}`);
    else void dispatcher.forceStop(`received ${signal} again`);
  };
  const onHangUp = (): void => void dispatcher?.reload();
  process.on("SIGINT", onStop);
  process.on("SIGTERM", onStop);
  process.on("SIGHUP", onHangUp);

  try {
    const { loadAdapter } = await import("../../../vendors/registry.js");
    const load = async (q: QueueContext) => {
      const vendorConfig = await vendorConfigFor(flags, q, warn);
      const adapter = await loadAdapter(flags.vendor, { config: vendorConfig, modulePath: flags.vendorModule });
      return { adapter, vendorConfig };
    };
    const first = await load(queue);
    const reload = async () => {
      // handoff.yaml may have changed too; the queue folder itself stays.
      const config = queue.config ? await requireConfig(cmd) : null;
      return { ...(await load({ ...queue, config })), laneLimits: laneLimitsOf(config) };
    };

    if (earlySignal) {
      log.info(`received ${earlySignal} during start-up; stopped before claiming anything`);
      return 0;
    }
    const { startDispatcher } = await import("../../supervisor/supervisor.js");
    dispatcher = await startDispatcher(
      { ...input, laneLimits, queueRoot: queue.queueRoot, vendorConfig: first.vendorConfig, vendorModule: flags.vendorModule },
      { store: queue.store, adapter: first.adapter, logger: log, reload, observer: notifier ?? undefined },
    );
    if (earlySignal) void dispatcher.stop(`received ${earlySignal} during start-up`);
    // Start-up (first scan, adapter) is over: give back the memory it left committed.
    releaseMemoryLater();
    // handoff.yaml's retention: policy, applied once a day while the dispatcher runs.
    const { retentionOf } = await import("../../config/retention.js");
    const policy = queue.config ? retentionOf(queue.config) : null;
    const { startRetention } = await import("../../supervisor/retention.js");
    retention = policy ? startRetention({ store: queue.store, policy, log }) : null;
    return await dispatcher.done;
  } finally {
    retention?.stop();
    await retention?.done();
    process.removeListener("SIGINT", onStop);
    process.removeListener("SIGTERM", onStop);
    process.removeListener("SIGHUP", onHangUp);
    // What is held for a digest goes out now; deliveries get a few seconds, never more.
    await notifier?.close();
    await queue.store.close();
    log.flush?.();
  }
}
