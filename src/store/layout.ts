// Where things live in a queue folder, how task ids are made and checked, and
// the workspace confinement rule for paths (PROTOCOL.md §3–4).

import path from "node:path";
import { InvalidTaskIdError, ValidationError, showValue } from "./errors.js";

export const TASK_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

/** Longest task id accepted; ids we make stay well below (the correlation part is bounded by the name length). @default 200 */
export const MAX_TASK_ID_LENGTH = 200;

/** Throw `invalid task_id` unless `taskId` is safe to use as a folder name. */
export function assertTaskId(taskId: unknown): asserts taskId is string {
  if (!isValidTaskId(taskId)) throw new InvalidTaskIdError(showValue(taskId));
}

export function isValidTaskId(taskId: unknown): taskId is string {
  return typeof taskId === "string" && taskId.length <= MAX_TASK_ID_LENGTH && TASK_ID_PATTERN.test(taskId) && !taskId.includes("..");
}

/** Trim, collapse runs outside [A-Za-z0-9_.-] to `-`, strip `-` at both ends, `item` if empty. */
export function slug(text: string): string {
  const s = text.trim().replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^-+|-+$/g, "");
  return s === "" ? "item" : s;
}

export function makeTaskId(stamp: string, correlationId: string, requestSha256: string): string {
  // A slug may hold "..", which no task id may: `--task-id v1..2` would make a
  // task nobody could name again. Runs of dots become one dot, in the id only
  // (the correlation index file keeps the plain slug, as Python names it).
  return `${stamp}-${slug(correlationId).replace(/\.{2,}/g, ".")}-${requestSha256.slice(0, 12)}`;
}

/** Longest file name most file systems allow (bytes; our names are ASCII). */
export const MAX_NAME_LENGTH = 255;

/** Every path of one queue. */
export interface QueuePaths {
  root: string;
  lock: string;
  tasks: string;
  correlations: string;
  taskDir(taskId: string): string;
  taskFile(taskId: string): string;
  eventsFile(taskId: string): string;
  responseFile(taskId: string): string;
  correlationFile(workspaceId: string, correlationId: string): string;
}

export function queuePaths(root: string): QueuePaths {
  const abs = path.resolve(root);
  const tasks = path.join(abs, "tasks");
  const correlations = path.join(abs, "indexes", "correlations");
  // A valid id is one plain name (no separator, never "." or ".."), and `tasks` is
  // resolved: joining by hand gives what path.join would, without its normalising
  // pass (the dispatcher makes these paths for every live task at every look).
  const tasksPrefix = tasks.endsWith(path.sep) ? tasks : `${tasks}${path.sep}`;
  const taskDir = (id: string): string => {
    assertTaskId(id);
    return `${tasksPrefix}${id}`;
  };
  return {
    root: abs,
    lock: path.join(abs, "lock"),
    tasks,
    correlations,
    taskDir,
    taskFile: (id) => `${taskDir(id)}${path.sep}task.json`,
    eventsFile: (id) => `${taskDir(id)}${path.sep}events.jsonl`,
    responseFile: (id) => `${taskDir(id)}${path.sep}response.json`,
    correlationFile: (ws, corr) => path.join(correlations, `${slug(ws)}--${slug(corr)}.json`),
  };
}

/** True when `candidate` is `root` or lies below it (both absolute and resolved). */
export function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * Resolve `value` against `workspaceRoot` and require that it stays inside it.
 * The error names the field, as scripts match on `<field> is outside workspace_root`.
 */
export function confine(field: string, value: string, workspaceRoot: string, options: { taskId?: string } = {}): string {
  const resolved = path.resolve(workspaceRoot, value);
  if (!isInside(workspaceRoot, resolved)) {
    throw new ValidationError(`${field} is outside workspace_root: ${resolved} (workspace_root is ${workspaceRoot})`, options);
  }
  return resolved;
}
