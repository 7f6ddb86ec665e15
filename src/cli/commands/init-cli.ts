// `init` and `init-pool`: commander wiring and printing over initWorkspace and
// initPool (commands/init.ts), which hold the logic and the templates.

import type { Command } from "commander";
import { emit } from "../context.js";
import { examples } from "../options.js";

/** Add `init [PATH]` and `init-pool PATH`. */
export function registerInitCommands(program: Command): void {
  program
    .command("init")
    .argument("[path]", "folder to create handoff/ in", ".")
    .summary("scaffold handoff/ in a workspace")
    .description("scaffold handoff/ in a workspace: handoff.yaml, README, reviewer prompt, dispatcher.sh, bin/handoff, state/")
    .option("--workspace-id <id>", "workspace id (default: the folder's name)")
    .option("--workspace-root <path>", "workspace_root written to handoff.yaml, relative to handoff/", "..")
    .option("--queue-root <path>", "queue_root written to handoff.yaml (verbatim), relative to handoff/", "state")
    .addHelpText("after", examples("agent-lanes init", "agent-lanes init ~/src/app --workspace-id app --json"))
    .action(async (target: string, opts: { workspaceId?: string; workspaceRoot: string; queueRoot: string }, cmd: Command) => {
      const { initWorkspace } = await import("./init.js");
      const result = await initWorkspace({ path: target, workspaceId: opts.workspaceId, workspaceRoot: opts.workspaceRoot, queueRoot: opts.queueRoot });
      await emit(cmd, result, [
        `initialized ${result.handoff}`,
        `workspace_id=${result.workspace_id}`,
        "next steps:",
        ...result.next_steps.map((step, i) => `  ${i + 1}. ${step}`),
      ]);
    });

  program
    .command("init-pool")
    .argument("<path>", "pool folder: gets .agent-lanes-queue/ and dispatchers/")
    .summary("scaffold a dispatcher pool (shared queue + dispatchers/)")
    .description("scaffold a dispatcher pool: a shared queue plus one dispatcher wrapper per vendor and a polling-chat prompt")
    .option("--workspace-id <id>", "workspace id (default: the folder's name)")
    .addHelpText("after", examples("agent-lanes init-pool ~/agent-pool", "agent-lanes init-pool ~/agent-pool --workspace-id pool --json"))
    .action(async (target: string, opts: { workspaceId?: string }, cmd: Command) => {
      const { initPool } = await import("./init.js");
      const result = await initPool({ path: target, workspaceId: opts.workspaceId });
      await emit(cmd, result, [
        `initialized ${result.queue}`,
        `workspace_id=${result.workspace_id}`,
        `config=${result.config}`,
        `store=${result.store}`,
        ...result.dispatchers.map((d) => `dispatcher ${d.vendor}=${d.wrapper}`),
        `polling_prompt=${result.polling_prompt}`,
      ]);
    });
}
