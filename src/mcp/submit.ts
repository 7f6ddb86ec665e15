// submit_task: the model's arguments turned into submit's flags and resolved
// by the same code as `agent-lanes submit` (config/task-file.ts), so a task
// submitted over MCP is the task the CLI would have made. Relative paths
// resolve against workspace_root: the server's cwd is wherever the client
// started it, which the model cannot know.

import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { ConfigError } from "../config/errors.js";
import type { EngineConfig } from "../config/handoff.js";
import { resolveSubmit } from "../config/task-file.js";
import { writeFileAtomic } from "../store/atomic.js";
import { slug } from "../store/layout.js";
import type { Store, Task } from "../store/types.js";
import { MCP_DEFAULTS } from "./defaults.js";

export interface SubmitArgs {
  lane: string;
  request_path?: string;
  request_text?: string;
  prompt?: string;
  response_path?: string;
  vendor?: string;
  model_class?: string;
  effort?: string;
  parent_task_id?: string;
  correlation_id?: string;
  not_before?: string;
  depends_on?: string[];
  priority?: number;
}

export interface SubmitResult {
  task_id: string;
  lane: string;
  state: Task["state"];
  request_path: string;
  /** Where wait_task writes the answer's body. */
  response_path: string;
  next_action: string;
}

/** `<lane>-<UTC stamp>-<random>`: distinct for tasks submitted in the same second. */
function fileStem(lane: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${slug(lane)}-${stamp}-${randomBytes(3).toString("hex")}`;
}

/** Metadata entries as submit's `--metadata k=v` flags; only what the model gave. */
function metadataFlags(args: SubmitArgs): string[] {
  const entries: Array<[string, string | undefined]> = [
    ["required_vendor", args.vendor],
    ["model_class", args.model_class],
    ["effort", args.effort],
    ["parent_task_id", args.parent_task_id],
  ];
  return entries.filter(([, value]) => value !== undefined && value.trim() !== "").map(([key, value]) => `${key}=${(value as string).trim()}`);
}

export async function submitTask(config: EngineConfig, store: Store, args: SubmitArgs, now: Date = new Date()): Promise<SubmitResult> {
  const hasPath = args.request_path !== undefined && args.request_path !== "";
  const hasText = args.request_text !== undefined;
  if (hasPath === hasText) {
    throw new ConfigError("submit_task takes either request_path (a file inside the workspace) or request_text (written to a file for you), not both and not neither", {
      key: "request_path",
    });
  }
  const stem = fileStem(args.lane, now);
  const filesDir = path.join(config.dir, MCP_DEFAULTS.filesDir);
  let requestPath = args.request_path;
  if (hasText) {
    requestPath = path.join(filesDir, "requests", `${stem}.md`);
    await fs.mkdir(path.dirname(requestPath), { recursive: true });
    // Written before the task exists, like a file the CLI user saved first; a refused submit leaves it for the next try.
    await writeFileAtomic(requestPath, args.request_text as string, { mode: null });
  }
  const responsePath = args.response_path || path.join(filesDir, "responses", `${stem}.md`);
  const { input } = await resolveSubmit(
    config,
    null,
    {
      lane: args.lane,
      requestFrom: requestPath,
      responseTo: responsePath,
      prompt: args.prompt ?? null,
      metadata: metadataFlags(args),
      sourceAgent: "mcp",
      taskId: args.correlation_id ?? null,
    },
    config.workspace_root,
  );
  // Scheduling goes through the store's checks (a bad time, an unknown dependency, a cycle), as with `submit --at/--after/--priority`.
  const task = await store.create({
    ...input,
    ...(args.not_before !== undefined ? { not_before: args.not_before } : {}),
    ...(args.depends_on !== undefined ? { depends_on: args.depends_on } : {}),
    ...(args.priority !== undefined ? { priority: args.priority } : {}),
  });
  return {
    task_id: task.id,
    lane: task.lane,
    state: task.state,
    request_path: task.request_path,
    response_path: task.response_path,
    next_action: `call wait_task with task_id ${task.id}; the answer's body is also written to ${task.response_path}`,
  };
}
