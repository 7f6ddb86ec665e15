// Reading task.json and response.json: parse, check the shape just enough to
// trust the fields we act on, and apply the read-compatibility rules (legacy
// `checkpoint_id`, missing `metadata`). Unknown keys are carried through so a
// rewrite keeps them.

import { CorruptFileError, UnknownTaskError } from "./errors.js";
import { MAX_JSON_DEPTH, jsonDepth } from "./input-shape.js";
import { readOwnFile } from "./safe-file.js";
import { TASK_STATES, type Task, type TaskResponse } from "./types.js";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Turn parsed task.json content into a Task, or throw CorruptFileError naming the file. */
export function normalizeTask(raw: unknown, file: string, taskId?: string): Task {
  if (!isRecord(raw)) throw new CorruptFileError(file, "not a JSON object", { taskId });
  const task: Record<string, unknown> = { ...raw };
  if (task.correlation_id === undefined && typeof task.checkpoint_id === "string") {
    task.correlation_id = task.checkpoint_id;
    delete task.checkpoint_id;
  }
  if (task.metadata === undefined || task.metadata === null) task.metadata = {};
  if (!isRecord(task.metadata)) throw new CorruptFileError(file, "metadata is not an object", { taskId });
  // Deeper nesting would overflow the encoder on the next rewrite (and a Python peer's reader).
  if (jsonDepth(raw, MAX_JSON_DEPTH + 1) > MAX_JSON_DEPTH + 1) throw new CorruptFileError(file, `nested deeper than ${MAX_JSON_DEPTH} levels`, { taskId });
  if (typeof task.id !== "string") throw new CorruptFileError(file, "id is missing", { taskId });
  if (taskId !== undefined && task.id !== taskId) {
    throw new CorruptFileError(file, `id ${JSON.stringify(task.id)} does not match its folder`, { taskId });
  }
  if (!TASK_STATES.includes(task.state as Task["state"])) {
    throw new CorruptFileError(file, `state ${JSON.stringify(task.state)} is not one of ${TASK_STATES.join(", ")}`, { taskId });
  }
  for (const key of ["lane", "request_path", "response_path", "workspace_root", "created_at"] as const) {
    if (typeof task[key] !== "string") throw new CorruptFileError(file, `${key} is missing`, { taskId });
  }
  // No file system call accepts a NUL byte: such a path would surface later as
  // a raw TypeError from claim or respond instead of this file's problem.
  for (const key of ["request_path", "response_path", "workspace_root"] as const) {
    if ((task[key] as string).includes("\0")) throw new CorruptFileError(file, `${key} contains a NUL byte`, { taskId });
  }
  if (!Array.isArray(task.supporting_paths)) task.supporting_paths = [];
  for (const key of [
    "worktree_path",
    "expected_branch",
    "prompt",
    "claim_owner",
    "claim_token",
    "lease_expires_at",
    "claimed_at",
    "completed_at",
    "failed_at",
    "failure_reason",
  ]) {
    if (task[key] === undefined) task[key] = null;
  }
  return task as Task;
}

/** Parse JSON text, naming the file on failure. */
export function parseJson(text: string, file: string, taskId?: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CorruptFileError(file, error instanceof Error ? error.message : String(error), { taskId, cause: error });
  }
}

/** Read one task.json; UnknownTaskError when the task folder or file is absent. */
export async function readTaskFile(file: string, taskId: string): Promise<Task> {
  let text: string;
  try {
    text = await readOwnFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") {
      throw new UnknownTaskError(taskId);
    }
    throw error;
  }
  return normalizeTask(parseJson(text, file, taskId), file, taskId);
}

/** Read response.json; null when it does not exist. */
export async function readResponseFile(file: string, taskId: string): Promise<TaskResponse | null> {
  let text: string;
  try {
    text = await readOwnFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") return null;
    throw error;
  }
  const raw = parseJson(text, file, taskId);
  if (!isRecord(raw)) throw new CorruptFileError(file, "not a JSON object", { taskId });
  if (raw.metadata === undefined || raw.metadata === null) raw.metadata = {};
  return raw as TaskResponse;
}
