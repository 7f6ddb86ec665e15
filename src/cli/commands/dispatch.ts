// `agent-lanes dispatch --vendor <name>`: the long-running dispatcher. Only
// the flags are defined here; the supervisor, the store, the adapters and
// the logger are imported when the command runs. SIGINT/SIGTERM drain (a
// second one forces), SIGHUP re-reads the configuration.

import type { Command } from "commander";
import type { VendorConfig } from "../../../vendors/types.js";
import type { Dispatcher } from "../../supervisor/supervisor.js";
import { openQueue, requireConfig, STORE_START_WAIT_MS, type QueueContext } from "../context.js";

interface DispatchFlags {
  worktree?: string;
  vendor: string;
  lane?: string[];
  concurrency?: string;
  leaseSeconds?: string;
  owner?: string;
  taskTimeout?: string;
  idleTimeout?: string;
  killGraceSeconds?: string;
  maxOutputBytes?: string;
  graceSeconds?: string;
  maxAttempts?: string;
  pollSeconds?: string;
  statusSeconds?: string;
  logLevel?: string;
  logFormat?: string;
  command?: string;
  vendorModule?: string;
  vendorConfig?: string;
  maxCostUsd?: string;
  dailyCostUsd?: string;
  notify?: string[];
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const EXAMPLES = `
Examples:
  $ agent-lanes dispatch --vendor claude
  $ agent-lanes --config handoff/handoff.yaml dispatch --vendor codex --lane review --lane default --concurrency 2
  $ agent-lanes dispatch --vendor command --command "node ./my-agent.js" --task-timeout 600 --idle-timeout 120
  $ agent-lanes dispatch --vendor claude --max-cost-usd 2 --daily-cost-usd 50 --log-format pretty
  $ agent-lanes dispatch --vendor codex --concurrency 2 --worktree auto
  $ agent-lanes dispatch --vendor codex --notify ntfy:https://ntfy.sh/my-agents --notify desktop

Runs until stopped. SIGINT/SIGTERM: stop claiming, let running tasks finish for
--grace-seconds, then stop them and put their tasks back in the queue (a second
signal does that at once). SIGHUP re-reads handoff.yaml and --vendor-config.
`;

/** Add `dispatch` to the program. */
export function registerDispatchCommand(program: Command): void {
  program
    .command("dispatch")
    .description("run a dispatcher: claim tasks for one vendor, run its CLI, respond; runs until stopped")
    .requiredOption("--vendor <name>", "vendor served: claude, codex, gemini, agy, command, demo, or a plugin's name with --vendor-module")
    .option("--lane <name>", "lane to serve; repeat for several (default: default)", collect)
    .option("--concurrency <n>", "tasks run at once (default: 1)")
    .option("--lease-seconds <s>", "lease per claim, renewed every third of it (default: 900, at least 3)")
    .option("--owner <name>", "claim owner (default: <vendor>@<hostname>:<pid>)")
    .option("--task-timeout <s>", "longest run of one task's child (default: 3600)")
    .option("--idle-timeout <s>", "longest silence of a child before it is stopped (default: 900, at most --task-timeout)")
    .option("--kill-grace-seconds <s>", "between SIGTERM and SIGKILL when a child is stopped (default: 5)")
    .option("--max-output-bytes <n>", "output kept per stream; the rest is dropped (default: 10485760)")
    .option("--grace-seconds <s>", "on SIGINT/SIGTERM, how long running tasks may finish (default: 30)")
    .option("--max-attempts <n>", "runs of a task before a transient failure fails it (default: 3)")
    .option("--poll-seconds <s>", "safety poll of the queue besides file events (default: 5)")
    .option("--status-seconds <s>", "a status line this often while busy (default: 300)")
    .option("--log-level <level>", "fatal, error, warn, info, debug, trace or silent (default: info)")
    .option("--log-format <format>", "json or pretty (default: pretty on a terminal, else json)")
    .option("--command <cmd>", "the vendor's command (for --vendor command: the agent command line; else the CLI executable)")
    .option("--vendor-module <path|package>", "load the adapter from this plugin module")
    .option("--vendor-config <file>", "YAML/JSON with vendors.<name> settings, over handoff.yaml's dispatch.vendors")
    .option("--max-cost-usd <usd>", "per-task cost ceiling passed to the vendor CLI")
    .option("--daily-cost-usd <usd>", "stop claiming for the rest of the UTC day once reported costs reach this")
    .option("--worktree <mode>", "auto: each task of a git repository runs in a new worktree and branch (docs/worktrees.md); off: only tasks with metadata worktree: new (default: off)")
    .option("--notify <url>", "notify on task ends, pauses and crashes: an http(s) webhook URL, slack:URL, discord:URL, ntfy:URL or desktop; repeatable (with handoff.yaml notify:)", collect)
    .addHelpText("after", EXAMPLES)
    .action(async (flags: DispatchFlags, cmd: Command) => {
      process.exitCode = await runDispatch(flags, cmd);
    });
}

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

async function runDispatch(flags: DispatchFlags, cmd: Command): Promise<number> {
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
