// `agent-lanes dispatch --vendor <name>`: the long-running dispatcher's flags,
// in the CLI bundle so the top-level help costs nothing. What it does is in
// dispatch-run.ts, loaded from dist/ with its own module graph when it runs.

import type { Command } from "commander";

export interface DispatchFlags {
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
      const { runDispatch } = await import("./dispatch-run.js");
      process.exitCode = await runDispatch(flags, cmd);
    });
}
