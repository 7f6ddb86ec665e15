// `agent-lanes mcp`: the MCP server on stdio over this queue (src/mcp/), and
// `agent-lanes mcp config --client claude|codex|gemini`, which prints how to
// register it. The server loads only inside the action.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { emit, globals, openQueue, requireConfig } from "../context.js";
import { CliError } from "../errors.js";
import { examples, oneOf } from "../options.js";

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

async function runServer(cmd: Command): Promise<void> {
  const [{ serveStdio }, { lazyQueue }, { MCP_DEFAULTS }] = await Promise.all([
    import("../../mcp/server.js"),
    import("../../mcp/context.js"),
    import("../../mcp/defaults.js"),
  ]);
  const queue = lazyQueue(() => openQueue(cmd));
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await serveStdio(
      {
        queue: queue.get,
        requireConfig: () => requireConfig(cmd),
        now: () => new Date(),
        progressEveryMs: MCP_DEFAULTS.progressEveryMs,
        maxWaitSeconds: MCP_DEFAULTS.maxWaitSeconds,
      },
      packageVersion(),
      stop.signal,
    );
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await queue.close();
  }
}

async function printConfig(cmd: Command, client: "claude" | "codex" | "gemini"): Promise<void> {
  const { CLIENT_TARGETS, clientSnippet, serverCommand } = await import("../../mcp/client-config.js");
  const g = globals(cmd);
  const { isPostgresUrl } = await import("../../store/postgres/url.js");
  const store = g.store ? (isPostgresUrl(g.store) ? g.store.trim() : path.resolve(g.store)) : null;
  // The config must exist unless a queue folder alone is named: a snippet naming a missing file would fail in the client instead of here.
  const config = !store || g.configGiven || existsSync(path.resolve(g.config)) ? (await requireConfig(cmd)).path : null;
  const server = serverCommand({
    node: process.execPath,
    script: fileURLToPath(new URL("../main.cjs", import.meta.url)),
    config,
    store,
  });
  const snippet = clientSnippet(client, server);
  await emit(cmd, { client, snippet, command: server.command, args: server.args, where: CLIENT_TARGETS[client] }, () => [snippet.trimEnd()]);
}

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
      await runServer(cmd);
    });

  mcp
    .command("config")
    .summary("print how to register the MCP server with an agent CLI")
    .description("print the registration of this server for an agent CLI, every path absolute: a `claude mcp add` command, a Codex config.toml table or a Gemini settings.json entry")
    .requiredOption("--client <name>", "claude, codex or gemini", oneOf("--client", ["claude", "codex", "gemini"] as const))
    .addHelpText("after", examples("agent-lanes mcp config --client claude", "agent-lanes --config handoff/handoff.yaml mcp config --client codex >> ~/.codex/config.toml"))
    .action(async (opts: { client: "claude" | "codex" | "gemini" }, cmd: Command) => printConfig(cmd, opts.client));
}
