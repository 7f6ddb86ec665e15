// The five tools: their schemas (zod, turned into the JSON Schemas clients
// show the model) and what each does with the store. Descriptions are short
// on purpose: every client puts them in the model's context on every turn.

import { z } from "zod";
import { viewOf } from "../cli/views.js";
import { MCP_DEFAULTS } from "./defaults.js";
import type { McpContext } from "./context.js";
import { submitTask } from "./submit.js";
import { waitTask, type Progress } from "./wait.js";

const taskId = z.string().min(1).describe("task id returned by submit_task");
const text = (what: string) => z.string().min(1).describe(what);

const STATES = ["queued", "claimed", "completed", "failed", "active"] as const;

export const TOOL_SCHEMAS = {
  submit_task: z
    .object({
      lane: text("lane to submit to (a dispatcher or reviewer serves it)"),
      request_path: text("the file to work on, inside the workspace (relative to workspace_root or absolute)").optional(),
      request_text: z.string().describe("instead of request_path: the request itself, saved to a file under the workspace for you").optional(),
      prompt: z.string().describe("instructions for the worker").optional(),
      response_path: text("where the answer's body is written (default: a new file under handoff/mcp/responses/)").optional(),
      vendor: text("only this vendor's dispatcher may take it: claude, codex, gemini, ... (default: any)").optional(),
      model_class: text("model class for the vendor: e.g. opus, sonnet, haiku, pro, flash (default: the vendor's)").optional(),
      effort: text("effort: low, medium, high, xhigh (default: medium)").optional(),
      parent_task_id: text("thread: the earlier task this one follows up; its exchange is given to the worker").optional(),
      correlation_id: text("your own name for the task (default: the lane)").optional(),
      not_before: text("not started before this time: ISO 8601, or +30m / +2h / +1d from now").optional(),
      depends_on: z.array(taskId).describe("task ids that must complete first").optional(),
      priority: z.number().int().describe("higher is claimed first within the lane (default 0)").optional(),
    })
    .strict(),
  wait_task: z
    .object({
      task_id: taskId,
      max_wait_seconds: z
        .number()
        .min(0)
        .describe(`wait at most this long (default ${MCP_DEFAULTS.waitSeconds}, capped at ${MCP_DEFAULTS.maxWaitSeconds}); 0 just looks`)
        .optional(),
    })
    .strict(),
  task_status: z.object({ task_id: taskId }).strict(),
  list_tasks: z
    .object({
      lane: text("only this lane").optional(),
      state: z.enum(STATES).describe("only tasks in this state (active: queued or claimed)").optional(),
      limit: z.number().int().min(1).max(MCP_DEFAULTS.maxListLimit).describe(`at most this many, newest first (default ${MCP_DEFAULTS.listLimit})`).optional(),
    })
    .strict(),
  cancel_task: z
    .object({
      task_id: taskId,
      reason: z.string().describe("why; recorded in the answer").optional(),
    })
    .strict(),
} as const;

export type ToolName = keyof typeof TOOL_SCHEMAS;

export const TOOL_DESCRIPTIONS: Record<ToolName, string> = {
  submit_task:
    "Hand a task to another agent through the agent-lanes queue. Give request_path or request_text. Returns task_id and response_path; then call wait_task.",
  wait_task:
    `Wait for a task's answer (up to max_wait_seconds, default ${MCP_DEFAULTS.waitSeconds}). Returns body, verdict and counts when done (also written to response_path), else {"state":"running",...}: call again.`,
  task_status: "A task's state, lease, last event, paths and next action.",
  list_tasks: "List tasks, newest first, by lane and state.",
  cancel_task: 'Cancel a queued task: it is answered failed ("cancelled") and no worker takes it. Claimed tasks cannot be cancelled.',
};

/** Only the read-only tools say so; cancel is destructive. */
export const TOOL_ANNOTATIONS: Record<ToolName, { readOnlyHint?: boolean; destructiveHint?: boolean; idempotentHint?: boolean }> = {
  submit_task: { readOnlyHint: false, destructiveHint: false },
  wait_task: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  task_status: { readOnlyHint: true },
  list_tasks: { readOnlyHint: true },
  cancel_task: { readOnlyHint: false, destructiveHint: true },
};

/** The JSON Schema a client shows the model (no $schema key: some clients reject it). */
export function inputJsonSchema(name: ToolName): { type: "object"; [key: string]: unknown } {
  const { $schema: _ignored, ...schema } = z.toJSONSchema(TOOL_SCHEMAS[name]) as Record<string, unknown>;
  return { ...schema, type: "object" };
}

export interface CallExtras {
  signal?: AbortSignal;
  progress?: Progress;
  /** The client's name (clientInfo), for cancel's "cancelled by". */
  client?: string;
}

type Args<N extends ToolName> = z.infer<(typeof TOOL_SCHEMAS)[N]>;

/** Run one tool with validated arguments; throws the store's and config's errors unchanged. */
export async function runTool(ctx: McpContext, name: ToolName, raw: unknown, extras: CallExtras = {}): Promise<unknown> {
  switch (name) {
    case "submit_task": {
      const args = raw as Args<"submit_task">;
      const queue = await ctx.queue();
      // As `agent-lanes submit`: with only --store, the config is still needed for workspace_root.
      const config = queue.config ?? (await ctx.requireConfig());
      return submitTask(config, queue.store, args, ctx.now());
    }
    case "wait_task": {
      const args = raw as Args<"wait_task">;
      const { store } = await ctx.queue();
      return waitTask(store, args, { maxWaitSeconds: ctx.maxWaitSeconds, progressEveryMs: ctx.progressEveryMs, now: ctx.now, signal: extras.signal, progress: extras.progress });
    }
    case "task_status": {
      const { store } = await ctx.queue();
      return viewOf(store, await store.get((raw as Args<"task_status">).task_id), ctx.now());
    }
    case "list_tasks": {
      const args = raw as Args<"list_tasks">;
      const { store } = await ctx.queue();
      const tasks = await store.list({ lane: args.lane, activeOnly: args.state === "active" });
      const picked = tasks.filter((t) => !args.state || args.state === "active" || t.state === args.state);
      const newest = picked.reverse().slice(0, args.limit ?? MCP_DEFAULTS.listLimit);
      return {
        count: newest.length,
        total: picked.length,
        tasks: newest.map((t) => ({
          task_id: t.id,
          lane: t.lane,
          state: t.state,
          correlation_id: t.correlation_id,
          created_at: t.created_at,
          claim_owner: t.claim_owner,
          vendor: t.metadata?.required_vendor ?? null,
          failure_reason: t.failure_reason,
          response_path: t.response_path,
        })),
      };
    }
    case "cancel_task": {
      const args = raw as Args<"cancel_task">;
      const { store } = await ctx.queue();
      const { task, response } = await store.cancel(args.task_id, { by: extras.client ?? "mcp", reason: args.reason });
      return { task_id: task.id, state: task.state, body: response.body };
    }
  }
}
