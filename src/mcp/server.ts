// The MCP server: the five tools of tools.ts on the SDK's low-level Server,
// which lets every failure reach the model as a tool error of one line, the
// CLI's own message (`agent-lanes: unknown task: …`), bad arguments included
// (the high-level McpServer reports those as multi-line zod dumps).

import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { ZodError } from "zod";
import { SERVER_NAME } from "./defaults.js";
import type { McpContext } from "./context.js";
import { TOOL_ANNOTATIONS, TOOL_DESCRIPTIONS, TOOL_SCHEMAS, inputJsonSchema, runTool, type ToolName } from "./tools.js";
import type { Progress } from "./wait.js";

const INSTRUCTIONS =
  "agent-lanes hands work to other AI agents through a queue. submit_task, then call wait_task with the task_id until state is completed or failed; " +
  "a running result means call wait_task again.";

/** The CLI's error line for anything a tool throws. */
export function errorLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return `agent-lanes: ${message.split("\n")[0] ?? message}`;
}

/** Zod's issues as one line naming each argument: "wait_task: `max_wait_seconds` Too small: …; …". */
function argumentsLine(tool: ToolName, error: ZodError): string {
  const issues = error.issues.map((issue) => {
    const where = issue.path.length > 0 ? `\`${issue.path.join(".")}\` ` : "";
    return `${where}${issue.message}`.replace(/\s+/g, " ");
  });
  return `agent-lanes: ${tool}: invalid arguments: ${issues.join("; ")} (see the tool's input schema)`;
}

function textResult(text: string, isError = false): CallToolResult {
  return isError ? { content: [{ type: "text", text }], isError: true } : { content: [{ type: "text", text }] };
}

function isToolName(name: string): name is ToolName {
  return Object.hasOwn(TOOL_SCHEMAS, name);
}

/** A Server with the tools registered; connect it to a transport. */
export function createMcpServer(ctx: McpContext, version: string): Server {
  const server = new Server({ name: SERVER_NAME, version }, { capabilities: { tools: {} }, instructions: INSTRUCTIONS });
  const names = Object.keys(TOOL_SCHEMAS) as ToolName[];

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: names.map((name) => ({
      name,
      description: TOOL_DESCRIPTIONS[name],
      inputSchema: inputJsonSchema(name),
      annotations: TOOL_ANNOTATIONS[name],
    })),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { name } = request.params;
    if (!isToolName(name)) {
      throw new McpError(ErrorCode.InvalidParams, `unknown tool: ${name} (tools: ${names.join(", ")})`);
    }
    const parsed = TOOL_SCHEMAS[name].safeParse(request.params.arguments ?? {});
    if (!parsed.success) return textResult(argumentsLine(name, parsed.error), true);
    const token = request.params._meta?.progressToken;
    const progress: Progress | undefined =
      token === undefined
        ? undefined
        : (value, total, message) =>
            extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: value, total, message } });
    try {
      const result = await runTool(ctx, name, parsed.data, { signal: extra.signal, progress, client: server.getClientVersion()?.name });
      return textResult(JSON.stringify(result, null, 2));
    } catch (error) {
      return textResult(errorLine(error), true);
    }
  });
  return server;
}

/**
 * Serve on stdin/stdout until the client closes stdin (or `signal` aborts);
 * stdout carries only protocol messages, so nothing else may print there.
 */
export async function serveStdio(ctx: McpContext, version: string, signal?: AbortSignal): Promise<void> {
  const server = createMcpServer(ctx, version);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
    // The SDK's stdio transport does not notice the end of stdin by itself.
    process.stdin.once("end", () => void server.close().finally(resolve));
    signal?.addEventListener("abort", () => void server.close().finally(resolve), { once: true });
  });
  await server.connect(transport);
  await closed;
}
