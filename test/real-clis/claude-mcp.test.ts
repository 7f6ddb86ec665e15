// The MCP route with the real Claude Code (issue 16, "done when"): the pinned
// claude, started with --mcp-config naming `agent-lanes mcp`, talks to the
// stand-in Anthropic server, which answers with tool_use blocks calling
// mcp__agent-lanes__submit_task and then mcp__agent-lanes__wait_task. The task
// lands on the queue, a real `agent-lanes dispatch` answers it, and the
// tool_result the model receives next carries that answer.

import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import type { RecordedRequest } from "../fixtures/model-servers/core.js";
import { CLI, startCli, type CliProcess } from "../supervisor/helpers.js";
import { makeLab, realCli, type Lab } from "./harness.js";

const REVIEWER = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "mcp", "reviewer-agent.mjs");

/** The tool_result blocks of a Messages request, by tool_use id, as text. */
function toolResults(request: RecordedRequest): Map<string, string> {
  const out = new Map<string, string>();
  for (const message of request.body?.messages ?? []) {
    if (!Array.isArray(message.content)) continue;
    for (const block of message.content) {
      if (block?.type !== "tool_result") continue;
      const content = block.content;
      const text = typeof content === "string" ? content : Array.isArray(content) ? content.map((c: { text?: string }) => c.text ?? "").join("") : "";
      out.set(block.tool_use_id, text);
    }
  }
  return out;
}

let lab: Lab | null = null;
const dispatchers: CliProcess[] = [];

afterEach(async () => {
  for (const d of dispatchers.splice(0)) {
    d.child.kill("SIGKILL");
    await d.child;
  }
  await lab?.close();
  lab = null;
});

describe("real claude as an MCP client of agent-lanes", () => {
  it("submit_task then wait_task through the real CLI: the tool result the model gets carries the dispatcher's answer", async () => {
    let taskId = "";
    lab = await makeLab("claude", {
      script: (request, n) => {
        if (n === 0) {
          return {
            toolCalls: [{ id: "toolu_submit", name: "mcp__agent-lanes__submit_task", input: { lane: "default", request_text: "MCP-ROUTE: check the retry budget\n", prompt: "Review it" } }],
          };
        }
        const submitted = toolResults(request).get("toolu_submit");
        const found = submitted ? /"task_id": "([^"]+)"/.exec(submitted) : null;
        if (found && !taskId) taskId = found[1] as string;
        if (found && !toolResults(request).has("toolu_wait")) {
          return { toolCalls: [{ id: "toolu_wait", name: "mcp__agent-lanes__wait_task", input: { task_id: found[1], max_wait_seconds: 45 } }] };
        }
        return { text: "Handed over and collected." };
      },
    });
    const l = lab;
    // The lab's queue is handoff/state under the workspace: give it the config submit_task needs.
    const config = path.join(l.ws.root, "handoff", "handoff.yaml");
    await fs.mkdir(path.dirname(config), { recursive: true });
    await fs.writeFile(config, "workspace_id: mcp-lab\nworkspace_root: ..\nqueue_root: state\nlanes:\n  default:\n    description: reviews\n");
    const mcpConfig = path.join(l.ws.root, "mcp.json");
    await fs.writeFile(mcpConfig, JSON.stringify({ mcpServers: { "agent-lanes": { command: process.execPath, args: [CLI, "--config", config, "mcp"] } } }));

    // The worker side: a dispatcher that answers the lane with a fixture agent after a moment.
    const dispatcher = startCli(
      ["--store", l.ws.queue, "dispatch", "--vendor", "command", "--command", `${process.execPath} ${REVIEWER} 1500`, "--poll-seconds", "0.2", "--log-format", "json"],
      { cwd: l.ws.root },
    );
    dispatchers.push(dispatcher);

    const { bin } = realCli("claude");
    const run = await execa(
      bin,
      ["-p", "Hand the review to another agent and wait for it.", "--output-format", "json", "--mcp-config", mcpConfig, "--strict-mcp-config",
        "--allowedTools", "mcp__agent-lanes__submit_task,mcp__agent-lanes__wait_task"],
      { cwd: l.ws.root, env: { ...l.env, MCP_TIMEOUT: "30000", MCP_TOOL_TIMEOUT: "60000" }, reject: false, timeout: 150_000, stdin: "ignore" },
    );
    expect(run.exitCode, `claude failed: ${run.stderr}\n${run.stdout}`).toBe(0);
    expect(JSON.parse(String(run.stdout))).toMatchObject({ is_error: false, result: "Handed over and collected." });

    // The model's tools: the five agent-lanes tools under Claude Code's MCP names.
    const first = l.model.turns()[0];
    const toolNames = (first?.body?.tools ?? []).map((t: { name: string }) => t.name);
    expect(toolNames).toEqual(expect.arrayContaining(["mcp__agent-lanes__submit_task", "mcp__agent-lanes__wait_task", "mcp__agent-lanes__cancel_task"]));

    // The task went through the queue and was answered by the dispatcher.
    expect(taskId).not.toBe("");
    const task = await l.task(taskId);
    expect(task).toMatchObject({ state: "completed", lane: "default", source_agent: "mcp", prompt: "Review it" });
    const response = await l.ws.store.getResponse(taskId);
    expect(response?.body).toContain("reviewed: MCP-ROUTE: check the retry budget");

    // And the model received that answer in wait_task's tool_result.
    const last = l.model.turns().at(-1) as RecordedRequest;
    const waited = toolResults(last).get("toolu_wait") ?? "";
    expect(waited).toContain('"state": "completed"');
    expect(waited).toContain("reviewed: MCP-ROUTE: check the retry budget");
    expect(waited).toContain('"verdict": "needs-revision"');
  });
});
