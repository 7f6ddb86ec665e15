// The MCP server as a client sees it: `agent-lanes mcp` started over stdio by
// the SDK's own client, plus a real `agent-lanes dispatch` to answer tasks.
// Needs `npm run build` first.

import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { execa, type ResultPromise } from "execa";
import { CLI } from "../cli/cli-helpers.js";

export const REVIEWER = path.join(path.dirname(fileURLToPath(import.meta.url)), "reviewer-agent.mjs");

export interface McpSession {
  client: Client;
  /** What the server wrote on stderr (stdout is the protocol). */
  stderr(): string;
  close(): Promise<void>;
}

/** Start `agent-lanes <globalArgs> mcp` from an unrelated cwd and connect the SDK client to it. */
export async function startMcp(globalArgs: readonly string[], clientName = "mcp-test"): Promise<McpSession> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, ...globalArgs, "mcp"],
    // The client's cwd is not the workspace: paths must come from the config.
    cwd: os.tmpdir(),
    env: { ...process.env, AGENT_LANES_DEBUG: "" } as Record<string, string>,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const client = new Client({ name: clientName, version: "1.0.0" });
  await client.connect(transport);
  return { client, stderr: () => stderr, close: () => client.close() };
}

/** The text of a tool result and whether it is an error. */
export function textOf(result: unknown): { text: string; isError: boolean } {
  const r = result as CallToolResult;
  const first = r.content[0];
  return { text: first?.type === "text" ? first.text : "", isError: r.isError === true };
}

/** A successful tool result's JSON payload (fails the test on a tool error). */
export function payload<T = Record<string, unknown>>(result: unknown): T {
  const { text, isError } = textOf(result);
  if (isError) throw new Error(`tool error: ${text}`);
  return JSON.parse(text) as T;
}

/** A real dispatcher on `queue` running the reviewer fixture, each answer after `delayMs`. */
export function startDispatcher(queue: string, delayMs: number, lane = "default"): ResultPromise {
  return execa(
    process.execPath,
    [CLI, "--store", queue, "dispatch", "--vendor", "command", "--command", `${process.execPath} ${REVIEWER} ${delayMs}`, "--lane", lane, "--poll-seconds", "0.2", "--log-format", "json"],
    { reject: false, env: { AGENT_LANES_DEBUG: undefined } },
  );
}
