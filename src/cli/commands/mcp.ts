// `agent-lanes mcp` (the MCP server on stdio over this queue) and `agent-lanes
// mcp config --client claude|codex|gemini`: their flags, in the CLI bundle so
// the top-level help costs nothing. What they do is in mcp-run.ts, loaded from
// dist/ with its own module graph when one of them runs.

import type { Command } from "commander";
import { CliError } from "../errors.js";
import { examples, oneOf } from "../options.js";

/** Add `mcp` and `mcp config`. */
export function registerMcpCommand(program: Command): void {
  const mcp = program
    .command("mcp")
    .summary("serve the queue to AI agents as MCP tools (stdio)")
    .description(
      "run an MCP server on stdin/stdout with the tools submit_task, wait_task, task_status, list_tasks and cancel_task over this queue; " +
        "agent CLIs (Claude Code, Codex, Gemini CLI) start it themselves: see `mcp config`",
    )
    .addHelpText("after", examples("agent-lanes --config /work/app/handoff/handoff.yaml mcp", "agent-lanes mcp config --client claude"))
    .action(async (_options: unknown, cmd: Command) => {
      if (cmd.args.length > 0) throw new CliError(`unknown mcp subcommand: ${cmd.args[0]} (see agent-lanes mcp --help)`);
      await (await import("./mcp-run.js")).runServer(cmd);
    });

  mcp
    .command("config")
    .summary("print how to register the MCP server with an agent CLI")
    .description("print the registration of this server for an agent CLI, every path absolute: a `claude mcp add` command, a Codex config.toml table or a Gemini settings.json entry")
    .requiredOption("--client <name>", "claude, codex or gemini", oneOf("--client", ["claude", "codex", "gemini"] as const))
    .addHelpText("after", examples("agent-lanes mcp config --client claude", "agent-lanes --config handoff/handoff.yaml mcp config --client codex >> ~/.codex/config.toml"))
    .action(async (opts: { client: "claude" | "codex" | "gemini" }, cmd: Command) => (await import("./mcp-run.js")).printConfig(cmd, opts.client));
}
