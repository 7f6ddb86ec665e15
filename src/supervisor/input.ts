// The text an agent gets on stdin: an effort hint when its CLI has no effort
// flag, the prompt, where to work, the request artifact between marker lines,
// and the thread context — the earlier tasks of its thread with their
// responses, oldest first. The thread walk follows parent_task_id with a
// visited set and a depth cap, so cycles and missing parents end it quietly.

import { UnknownTaskError } from "../store/errors.js";
import { isValidTaskId } from "../store/layout.js";
import { readRegularFile } from "../store/safe-file.js";
import type { Task, TaskResponse } from "../store/types.js";

/** Marker lines around the request artifact. */
export const ARTIFACT_BEGIN = (requestPath: string): string => `----- BEGIN REQUEST ARTIFACT: ${requestPath} -----`;
export const ARTIFACT_END = "----- END REQUEST ARTIFACT -----";
export const THREAD_BEGIN = "----- BEGIN THREAD CONTEXT (earlier tasks of this thread, oldest first) -----";
export const THREAD_END = "----- END THREAD CONTEXT -----";

/** Defaults of the input builder. */
export const INPUT_DEFAULTS = {
  /** Earlier tasks followed up a thread. @default 20 */
  maxThreadDepth: 20,
  /** Instruction when a task has no prompt. */
  defaultPrompt: "Handle the request artifact below and reply with your complete answer.",
} as const;

/** Where the builder reads from (a Store fits; tests pass stubs). */
export interface InputSources {
  get(taskId: string): Promise<Task>;
  getResponse(taskId: string): Promise<TaskResponse | null>;
  /** Every task, for a thread_id without parent_task_id. */
  list?(): Promise<Task[]>;
  /** @default the request read as a regular file (safe-file.ts), as UTF-8 */
  readFile?(path: string): Promise<string>;
}

export interface BuildInputOptions {
  /** The adapter passes the effort to its CLI; otherwise a hint goes into the text. */
  supportsEffort: boolean;
  /** @default 20 */
  maxThreadDepth?: number;
  /**
   * The task continues the vendor session of this earlier task (resume.ts):
   * the thread is already in that session, so it is not pasted again.
   */
  resumedFrom?: string | null;
}

/** One earlier task of the thread. */
export interface ThreadEntry {
  task: Task;
  response: TaskResponse | null;
}

export interface ThreadContext {
  /** Oldest first. */
  entries: ThreadEntry[];
  /** Why the walk stopped early (cycle, missing parent, depth), for the agent and the log. */
  notes: string[];
}

function metadataString(task: Task, key: string): string | null {
  const value = task.metadata?.[key];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

/** Earlier tasks of `task`'s thread, oldest first. */
export async function walkThread(task: Task, sources: InputSources, maxDepth: number = INPUT_DEFAULTS.maxThreadDepth): Promise<ThreadContext> {
  const notes: string[] = [];
  const chain: ThreadEntry[] = [];
  const visited = new Set<string>([task.id]);
  let parentId = metadataString(task, "parent_task_id");

  if (parentId === null) {
    const threadId = metadataString(task, "thread_id");
    if (threadId === null || !sources.list) return { entries: [], notes };
    return { entries: await threadSiblings(task, threadId, sources, maxDepth), notes };
  }

  while (parentId !== null) {
    if (chain.length >= maxDepth) {
      notes.push(`thread context stops after ${maxDepth} earlier tasks`);
      break;
    }
    if (!isValidTaskId(parentId)) {
      notes.push(`parent_task_id ${JSON.stringify(parentId)} is not a valid task id; the thread context stops there`);
      break;
    }
    if (visited.has(parentId)) {
      notes.push(`the thread loops back to ${parentId}; the thread context stops there`);
      break;
    }
    visited.add(parentId);
    let parent: Task;
    try {
      parent = await sources.get(parentId);
    } catch (error) {
      const why = error instanceof UnknownTaskError ? "is not in the queue" : `cannot be read (${(error as Error).message})`;
      notes.push(`parent task ${parentId} ${why}; the thread context stops there`);
      break;
    }
    const response = await sources.getResponse(parentId).catch(() => null);
    chain.push({ task: parent, response });
    parentId = metadataString(parent, "parent_task_id");
  }
  return { entries: chain.reverse(), notes };
}

/** Answered tasks of the same thread created before `task` (the latest `maxDepth`), oldest first. */
async function threadSiblings(task: Task, threadId: string, sources: InputSources, maxDepth: number): Promise<ThreadEntry[]> {
  const all = await (sources.list as () => Promise<Task[]>)();
  const mine = stamp(task);
  const earlier = all
    .filter((t) => t.id !== task.id && metadataString(t, "thread_id") === threadId && stamp(t) < mine)
    .sort((a, b) => (stamp(a) < stamp(b) ? -1 : stamp(a) > stamp(b) ? 1 : 0))
    .slice(-maxDepth);
  const entries: ThreadEntry[] = [];
  for (const t of earlier) {
    const response = await sources.getResponse(t.id).catch(() => null);
    if (response) entries.push({ task: t, response });
  }
  return entries;
}

/** created_at with a fixed-width fraction, so string order is time order. */
function stamp(task: Task): string {
  const m = /^(.*?T\d{2}:\d{2}:\d{2})(?:\.(\d+))?/.exec(task.created_at ?? "");
  return m ? `${m[1]}.${(m[2] ?? "").padEnd(6, "0").slice(0, 6)}\u0000${task.id}` : `${task.created_at}\u0000${task.id}`;
}

function withNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}

/** The thread context block, or "" when there is nothing to say. */
export function renderThread(thread: ThreadContext): string {
  if (thread.entries.length === 0 && thread.notes.length === 0) return "";
  const lines: string[] = [THREAD_BEGIN];
  thread.entries.forEach(({ task, response }, index) => {
    lines.push("", `### ${index + 1}. Task ${task.id} (lane ${task.lane}, ${response ? `response ${response.status}` : `no response yet, state ${task.state}`})`);
    if (task.prompt) lines.push(`Prompt: ${task.prompt}`);
    lines.push(`Request: ${task.request_path}`);
    if (response) {
      lines.push(`----- BEGIN RESPONSE: ${task.id} -----`, response.body.replace(/\n+$/, ""), `----- END RESPONSE: ${task.id} -----`);
    }
  });
  if (thread.notes.length > 0) lines.push("", ...thread.notes.map((note) => `Note: ${note}`));
  lines.push(THREAD_END);
  return lines.join("\n");
}

/** The effort hint for CLIs without an effort flag, or "" when the task names no effort. */
export function effortHint(task: Task, supportsEffort: boolean): string {
  const effort = metadataString(task, "effort");
  if (supportsEffort || effort === null) return "";
  return `Effort: ${effort}. Spend ${effort} reasoning effort on this task (the requester asked for it; this CLI has no effort setting).`;
}

/** The agent's full input for `task`, run in `cwd`. */
export async function buildInput(task: Task, cwd: string, sources: InputSources, options: BuildInputOptions): Promise<{ input: string; thread: ThreadContext }> {
  // The claim checked it is a regular file of a bounded size; a small one is read with plain system calls.
  const readFile = sources.readFile ?? (async (p: string) => (await readRegularFile(p, { label: "request_path", maxBytes: Number.MAX_SAFE_INTEGER })).toString("utf8"));
  const artifact = await readFile(task.request_path);
  const thread: ThreadContext = options.resumedFrom ? { entries: [], notes: [] } : await walkThread(task, sources, options.maxThreadDepth);

  const sections: string[] = [];
  const hint = effortHint(task, options.supportsEffort);
  if (hint) sections.push(hint);
  sections.push(task.prompt && task.prompt.trim() !== "" ? task.prompt.replace(/\s+$/, "") : INPUT_DEFAULTS.defaultPrompt);
  const where = [`Task: ${task.id} (lane ${task.lane})`, `Worktree: ${task.worktree_path ?? cwd}`];
  if (options.resumedFrom) where.push(`Follow-up of task ${options.resumedFrom} in this same session: its conversation is above.`);
  if (task.expected_branch) where.push(`Branch: ${task.expected_branch}`);
  const supporting = (task.supporting_paths ?? []).map((s) => s.path).filter(Boolean);
  if (supporting.length > 0) where.push("Supporting files:", ...supporting.map((p) => `- ${p}`));
  sections.push(where.join("\n"));
  sections.push(`${ARTIFACT_BEGIN(task.request_path)}\n${withNewline(artifact)}${ARTIFACT_END}`);
  const threadText = renderThread(thread);
  if (threadText) sections.push(threadText);
  return { input: `${sections.join("\n\n")}\n`, thread };
}
