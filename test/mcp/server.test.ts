// `agent-lanes mcp` driven by the SDK's client over stdio: the tools, a task
// submitted, answered by a real dispatcher and collected, cancel, and every
// error as the one-line tool error the CLI would print.

import { readFile } from "node:fs/promises";
import path from "node:path";
import type { ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type Store } from "../../src/store/index.js";
import { makeCliWorkspace, type CliWorkspace } from "../cli/cli-helpers.js";
import { payload, startDispatcher, startMcp, textOf, type McpSession } from "./helpers.js";

let ws: CliWorkspace;
let mcp: McpSession;
let store: Store;
const dispatchers: ResultPromise[] = [];

beforeAll(async () => {
  ws = await makeCliWorkspace("al-mcp-");
  mcp = await startMcp(["--config", ws.config], "test-orchestrator");
  store = openStore(ws.queue);
});

afterAll(async () => {
  for (const d of dispatchers) d.kill("SIGKILL");
  await Promise.all(dispatchers.map((d) => d.catch(() => undefined)));
  await mcp?.close();
  await store?.close();
  await ws?.cleanup();
});

const call = (name: string, args: Record<string, unknown>) => mcp.client.callTool({ name, arguments: args });

async function submit(args: Record<string, unknown>): Promise<{ task_id: string; request_path: string; response_path: string; next_action: string }> {
  return payload(await call("submit_task", args));
}

async function toolError(name: string, args: Record<string, unknown>): Promise<string> {
  const { text, isError } = textOf(await call(name, args));
  expect(isError, `${name} should fail, returned ${text}`).toBe(true);
  return text;
}

describe("tools", () => {
  it("lists five tools with short descriptions and strict JSON schemas", async () => {
    const { tools } = await mcp.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["cancel_task", "list_tasks", "submit_task", "task_status", "wait_task"]);
    for (const tool of tools) {
      expect(tool.description?.length).toBeGreaterThan(20);
      expect(tool.description?.length).toBeLessThan(250);
      expect(tool.inputSchema).toMatchObject({ type: "object", additionalProperties: false });
      expect(tool.inputSchema).not.toHaveProperty("$schema");
    }
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(byName.submit_task?.inputSchema.required).toEqual(["lane"]);
    expect(Object.keys(byName.submit_task?.inputSchema.properties ?? {}).sort()).toEqual(
      ["correlation_id", "depends_on", "effort", "lane", "model_class", "not_before", "parent_task_id", "priority", "prompt", "request_path", "request_text", "response_path", "vendor"],
    );
    expect(byName.wait_task?.inputSchema.required).toEqual(["task_id"]);
    expect(byName.list_tasks?.annotations?.readOnlyHint).toBe(true);
    expect(byName.cancel_task?.annotations?.destructiveHint).toBe(true);
    expect(mcp.client.getInstructions()).toContain("wait_task");
  });
});

describe("submit, wait across a dispatcher, status, list", () => {
  it("submit_task writes request_text under handoff/mcp/requests and queues the task with the vendor, model, effort and thread", async () => {
    const parent = await submit({ lane: "default", request_text: "the parent\n" });
    const sub = await submit({
      lane: "default",
      request_text: "PLAN: ship on Friday\n",
      prompt: "Review the plan",
      vendor: "claude",
      model_class: "opus",
      effort: "high",
      parent_task_id: parent.task_id,
      correlation_id: "plan review",
    });
    expect(sub.request_path).toMatch(new RegExp(`^${ws.root}/handoff/mcp/requests/default-\\d{8}T\\d{6}Z-[0-9a-f]{6}\\.md$`));
    expect(await readFile(sub.request_path, "utf8")).toBe("PLAN: ship on Friday\n");
    expect(sub.response_path).toMatch(new RegExp(`^${ws.root}/handoff/mcp/responses/default-.*\\.md$`));
    expect(sub.next_action).toContain(`wait_task with task_id ${sub.task_id}`);
    const task = await store.get(sub.task_id);
    expect(task).toMatchObject({
      state: "queued",
      lane: "default",
      prompt: "Review the plan",
      correlation_id: "plan review",
      source_agent: "mcp",
      workspace_id: "ws",
      metadata: { required_vendor: "claude", model_class: "opus", effort: "high", parent_task_id: parent.task_id },
    });
    await store.cancel(parent.task_id);
    await store.cancel(sub.task_id);
  });

  it("submit_task takes the scheduling fields (not_before, depends_on, priority) and refuses an unknown dependency with the store's line", async () => {
    const first = await submit({ lane: "sched", request_text: "first\n" });
    const later = await submit({ lane: "sched", request_text: "later\n", not_before: "+2h", depends_on: [first.task_id], priority: 7 });
    const task = await store.get(later.task_id);
    expect(task.metadata.depends_on).toEqual([first.task_id]);
    expect(task.metadata.priority).toBe(7);
    const notBefore = Date.parse(String(task.metadata.not_before));
    expect(notBefore - Date.now()).toBeGreaterThan(110 * 60_000);
    expect(notBefore - Date.now()).toBeLessThanOrEqual(120 * 60_000);
    const refused = await call("submit_task", { lane: "sched", request_text: "x\n", depends_on: ["20261125T000000000000Z-nope-0123456789ab"] });
    expect(refused.isError).toBe(true);
    const line = (refused.content as Array<{ text: string }>)[0]?.text ?? "";
    expect(line.split("\n")).toHaveLength(1);
    expect(line).toContain("20261125T000000000000Z-nope-0123456789ab");
    await store.cancel(later.task_id);
    await store.cancel(first.task_id);
  });

  it("submit_task takes a request_path relative to workspace_root (not the server's cwd) and a response_path", async () => {
    await ws.file("docs/spec.md", "spec\n");
    const sub = await submit({ lane: "default", request_path: "docs/spec.md", response_path: "reviews/spec.md" });
    expect(sub.request_path).toBe(path.join(ws.root, "docs/spec.md"));
    expect(sub.response_path).toBe(path.join(ws.root, "reviews/spec.md"));
    await store.cancel(sub.task_id);
  });

  it("wait_task returns running while queued, then the answer a real dispatcher gives, with progress on the way", async () => {
    const sub = await submit({ lane: "mcp-flow", request_text: "QUESTION: is the cache safe?\n" });
    const early = payload(await call("wait_task", { task_id: sub.task_id, max_wait_seconds: 0 }));
    expect(early).toMatchObject({ state: "running", task_id: sub.task_id, task_state: "queued", claim_owner: null, last_event: { type: "created" } });
    expect(early.next_action).toContain("is a dispatcher serving lane mcp-flow");

    const progress: Array<{ progress: number; message?: string }> = [];
    const waiting = mcp.client.callTool(
      { name: "wait_task", arguments: { task_id: sub.task_id, max_wait_seconds: 40 } },
      undefined,
      { onprogress: (p) => progress.push({ progress: p.progress, message: p.message }), timeout: 60_000 },
    );
    dispatchers.push(startDispatcher(ws.queue, 1500, "mcp-flow"));
    const done = payload(await waiting);
    expect(done).toMatchObject({
      state: "completed",
      task_id: sub.task_id,
      verdict: "needs-revision",
      blocking_count: 2,
      nonblocking_count: 1,
      response_path: sub.response_path,
    });
    expect(done.body).toContain("reviewed: QUESTION: is the cache safe?");
    expect(await readFile(sub.response_path, "utf8")).toBe(done.body);
    expect(progress.some((p) => /^claimed by command@/.test(p.message ?? ""))).toBe(true);
    const values = progress.map((p) => p.progress);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(new Set(values).size).toBe(values.length);

    // Collected again: the same answer at once, whatever the wait asked.
    const again = payload(await call("wait_task", { task_id: sub.task_id }));
    expect(again).toMatchObject({ state: "completed", body: done.body });
  }, 60_000);

  it("task_status gives the task's view; list_tasks filters by lane and state, newest first, up to limit", async () => {
    const a = await submit({ lane: "listing", request_text: "a\n" });
    const b = await submit({ lane: "listing", request_text: "b\n" });
    const c = await submit({ lane: "listing", request_text: "c\n" });
    payload(await call("cancel_task", { task_id: a.task_id }));
    const status = payload(await call("task_status", { task_id: b.task_id }));
    expect(status).toMatchObject({ id: b.task_id, state: "queued", lane: "listing", response_exists: false, navigation: { response_path: b.response_path } });
    expect(status.next_action).toContain(`orchestrator: run wait ${b.task_id}`);

    const queued = payload<{ count: number; total: number; tasks: Array<{ task_id: string; state: string }> }>(await call("list_tasks", { lane: "listing", state: "queued" }));
    expect(queued.tasks.map((t) => t.task_id)).toEqual([c.task_id, b.task_id]);
    const one = payload<{ count: number; total: number; tasks: Array<{ task_id: string }> }>(await call("list_tasks", { lane: "listing", limit: 1 }));
    expect(one).toMatchObject({ count: 1, total: 3, tasks: [{ task_id: c.task_id }] });
    const failed = payload<{ tasks: Array<{ task_id: string; failure_reason: string }> }>(await call("list_tasks", { lane: "listing", state: "failed" }));
    expect(failed.tasks).toEqual([expect.objectContaining({ task_id: a.task_id, failure_reason: "cancelled by test-orchestrator" })]);
    const active = payload<{ total: number }>(await call("list_tasks", { lane: "listing", state: "active" }));
    expect(active.total).toBe(2);
    await store.cancel(b.task_id);
    await store.cancel(c.task_id);
  });
});

describe("cancel_task", () => {
  it("answers a queued task failed, cancelled by the client, and wait_task returns that answer", async () => {
    const sub = await submit({ lane: "nobody-serves", request_text: "never mind\n" });
    const cancelled = payload(await call("cancel_task", { task_id: sub.task_id, reason: "submitted twice" }));
    expect(cancelled).toEqual({ task_id: sub.task_id, state: "failed", body: "cancelled by test-orchestrator: submitted twice" });
    expect(await store.get(sub.task_id)).toMatchObject({ state: "failed", failure_reason: "cancelled by test-orchestrator: submitted twice" });
    const waited = payload(await call("wait_task", { task_id: sub.task_id, max_wait_seconds: 5 }));
    expect(waited).toMatchObject({ state: "failed", body: "cancelled by test-orchestrator: submitted twice", verdict: null });
  });

  it("refuses a claimed task and a finished one with the CLI's line", async () => {
    const sub = await submit({ lane: "nobody-serves", request_text: "claimed\n" });
    await store.claim(sub.task_id, { owner: "carol" });
    expect(await toolError("cancel_task", { task_id: sub.task_id })).toBe(
      `agent-lanes: cannot cancel task ${sub.task_id}: it is claimed by carol; only queued tasks can be cancelled (release the claim first)`,
    );
    const done = await submit({ lane: "nobody-serves", request_text: "done\n" });
    await store.cancel(done.task_id);
    expect(await toolError("cancel_task", { task_id: done.task_id })).toBe(`agent-lanes: cannot cancel task ${done.task_id}: it is already failed`);
  });
});

describe("errors are one-line tool errors, as the CLI prints them", () => {
  it("unknown and invalid task ids, in every tool that takes one", async () => {
    for (const name of ["wait_task", "task_status", "cancel_task"]) {
      expect(await toolError(name, { task_id: "20990101T000000000000Z-none-000000000000" })).toBe("agent-lanes: unknown task: 20990101T000000000000Z-none-000000000000");
      expect(await toolError(name, { task_id: "../etc" })).toMatch(/^agent-lanes: invalid task_id: "\.\.\/etc" \(expected /);
    }
  });

  it("submit_task: both or neither request, a path outside the workspace, a missing file, a bad parent", async () => {
    const either = "agent-lanes: submit_task takes either request_path (a file inside the workspace) or request_text (written to a file for you), not both and not neither";
    expect(await toolError("submit_task", { lane: "default" })).toBe(either);
    expect(await toolError("submit_task", { lane: "default", request_path: "a.md", request_text: "x" })).toBe(either);
    expect(await toolError("submit_task", { lane: "default", request_path: "/etc/hostname" })).toMatch(/^agent-lanes: request_path is outside workspace_root: \/etc\/hostname/);
    expect(await toolError("submit_task", { lane: "default", request_path: "nope.md" })).toMatch(/^agent-lanes: request_path does not exist or is not a file: .*\/nope\.md$/);
    expect(await toolError("submit_task", { lane: "default", request_text: "x", response_path: "../out.md" })).toMatch(/^agent-lanes: response_path is outside workspace_root/);
    expect(await toolError("submit_task", { lane: "default", request_text: "x", parent_task_id: "../x" })).toMatch(/^agent-lanes: invalid task_id/);
  });

  it("arguments that break the schema: one line naming each argument", async () => {
    const text = await toolError("wait_task", { task_id: 5, max_wait_seconds: -1, extra: true });
    expect(text.split("\n")).toHaveLength(1);
    expect(text).toMatch(/^agent-lanes: wait_task: invalid arguments: /);
    expect(text).toContain("`task_id`");
    expect(text).toContain("`max_wait_seconds`");
    expect(text).toContain("extra");
    expect(await toolError("list_tasks", { state: "done" })).toMatch(/^agent-lanes: list_tasks: invalid arguments: `state` .*"queued"/);
    expect(await toolError("submit_task", {})).toMatch(/^agent-lanes: submit_task: invalid arguments: `lane` /);
  });

  it("an unknown tool is a protocol error naming the tools", async () => {
    await expect(call("drop_table", {})).rejects.toThrow(/unknown tool: drop_table \(tools: submit_task, wait_task, task_status, list_tasks, cancel_task\)/);
  });

  it("a missing config: the server still starts, and each tool reports the CLI's line with the fix", async () => {
    const broken = await startMcp(["--config", path.join(ws.root, "nowhere", "handoff.yaml")]);
    try {
      const { text, isError } = textOf(await broken.client.callTool({ name: "list_tasks", arguments: {} }));
      expect(isError).toBe(true);
      expect(text).toBe(`agent-lanes: config file does not exist: ${path.join(ws.root, "nowhere", "handoff.yaml")} (check the --config path)`);
    } finally {
      await broken.close();
    }
  });

  it("with --store only, status works and submit_task asks for the config like the CLI", async () => {
    const storeOnly = await startMcp(["--store", ws.queue]);
    try {
      const list = payload<{ total: number }>(await storeOnly.client.callTool({ name: "list_tasks", arguments: { state: "completed" } }));
      expect(list.total).toBeGreaterThan(0);
      const { text, isError } = textOf(await storeOnly.client.callTool({ name: "submit_task", arguments: { lane: "default", request_text: "x" } }));
      expect(isError).toBe(true);
      expect(text).toMatch(/^agent-lanes: config file does not exist: .*handoff\/handoff\.yaml \(run 'agent-lanes init' in the workspace/);
    } finally {
      await storeOnly.close();
    }
  });
});
