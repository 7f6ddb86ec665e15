// What `agent-lanes mcp` and `mcp config` do (their flags are in mcp.ts): the
// MCP server on stdio over this queue (src/mcp/), and the snippet that
// registers it with an agent CLI. Loaded from dist/ with its own module graph
// when one of them runs; the server loads only inside.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { emit, globals, openQueue, requireConfig } from "../context.js";

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

export async function runServer(cmd: Command): Promise<void> {
  const [{ serveStdio }, { lazyQueue }, { MCP_DEFAULTS }] = await Promise.all([
    import("../../mcp/server.js"),
    import("../../mcp/context.js"),
    import("../../mcp/defaults.js"),
  ]);
  // A server for the length of an agent's session: its memory must not follow the queue's history.
  const queue = lazyQueue(() => openQueue(cmd, { longRunning: true }));
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

export async function printConfig(cmd: Command, client: "claude" | "codex" | "gemini"): Promise<void> {
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
