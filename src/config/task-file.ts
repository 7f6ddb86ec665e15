// Task definition files (`submit --task tasks/<id>.yaml`) and the merge of a
// task file with submit's flags into the store's CreateTaskInput
// (PROTOCOL.md §2). Confinement and existence of request, response and
// supporting paths are the store's checks; only prompt_file is checked here,
// because it is read here and never reaches the store.

import path from "node:path";
import type { CreateTaskInput } from "../store/types.js";
import { UnsafeFileError } from "../store/errors.js";
import { readRegularFile } from "../store/safe-file.js";
import { ConfigError } from "./errors.js";
import type { EngineConfig } from "./handoff.js";
import { isInside, isMapping, keyName, kindOf, optionalString, readYamlMapping, resolveReal, resolveUserPath } from "./handoff.js";

/** Keys a task file may hold; any other key is warned about and ignored. */
export const TASK_FILE_KEYS = [
  "lane",
  "metadata",
  "prompt",
  "prompt_file",
  "request_from",
  "response_to",
  "supporting_paths",
  "worktree_path",
  "branch",
] as const;

export const SUBMIT_DEFAULTS = {
  /** @default "orchestrator" */
  sourceAgent: "orchestrator",
} as const;

/** A task file's fields as written (paths not yet resolved); absent ones are null. */
export interface TaskDefinition {
  lane: string | null;
  metadata: Record<string, unknown>;
  prompt: string | null;
  prompt_file: string | null;
  request_from: string | null;
  response_to: string | null;
  /** `{path: x}` entries flattened to `x`. */
  supporting_paths: string[];
  worktree_path: string | null;
  branch: string | null;
}

export interface LoadedTaskFile {
  /** Absolute path as the user named it (its basename is the default correlation id). */
  path: string;
  definition: TaskDefinition;
  /** One line each, ready for stderr (e.g. unknown keys); the submit goes on. */
  warnings: string[];
}

/** Load and validate a task definition file, relative paths against `cwd`. */
export async function loadTaskFile(taskPath: string, cwd: string = process.cwd()): Promise<LoadedTaskFile> {
  const file = resolveUserPath(cwd, taskPath);
  const warnings: string[] = [];
  const raw = await readYamlMapping(file, "task file", warnings);
  const known = new Set<string>(TASK_FILE_KEYS);
  const unknown = Object.keys(raw).filter((key) => !known.has(key)).sort();
  if (unknown.length > 0) warnings.push(`agent-lanes: warning: task file ${file} has unknown keys (ignored): ${unknown.map(keyName).join(", ")}`);

  const metadata = raw.metadata ?? {};
  if (!isMapping(metadata)) {
    throw new ConfigError(`task file ${file}: metadata must be a mapping of key to value, got ${kindOf(metadata)}`, { file, key: "metadata" });
  }
  const text = (key: string): string | null => optionalString(raw[key], key, file);

  return {
    path: file,
    definition: {
      lane: text("lane"),
      metadata: { ...metadata },
      prompt: text("prompt"),
      prompt_file: text("prompt_file"),
      request_from: text("request_from"),
      response_to: text("response_to"),
      supporting_paths: supportingPaths(raw.supporting_paths, file),
      worktree_path: text("worktree_path"),
      branch: text("branch"),
    },
    warnings,
  };
}

function supportingPaths(value: unknown, file: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    throw new ConfigError(`task file ${file}: supporting_paths must be a list of paths, got ${kindOf(value)}`, { file, key: "supporting_paths" });
  }
  return value.map((item: unknown, index) => {
    const entry = isMapping(item) ? item.path : item;
    if (typeof entry !== "string" || entry === "") {
      const key = `supporting_paths[${index}]`;
      throw new ConfigError(`task file ${file}: ${key} must be a path or {path: <path>}, got ${kindOf(item)}`, { file, key });
    }
    return entry;
  });
}

/** submit's flags, named as commander names them; unset ones undefined or null. */
export interface SubmitFlags {
  lane?: string | null;
  requestFrom?: string | null;
  responseTo?: string | null;
  prompt?: string | null;
  promptFile?: string | null;
  worktreePath?: string | null;
  branch?: string | null;
  /** Repeated `--metadata k=v`. */
  metadata?: readonly string[] | null;
  /** @default "orchestrator" */
  sourceAgent?: string | null;
  /** `--task-id`: the correlation id, not a store task id. */
  taskId?: string | null;
}

export interface ResolvedSubmit {
  /** Ready for Store.create(). All paths absolute. */
  input: CreateTaskInput;
  /** Same as input.correlation_id. */
  correlationId: string;
  /** The prompt file the prompt was read from, absolute and resolved, or null. */
  promptFile: string | null;
}

/**
 * Merge a task file and submit's flags into a CreateTaskInput: the task file
 * first, flags over it, then the engine config's legacy defaults.
 *
 * Where relative paths resolve:
 * - flags (`--request-from`, `--response-to`, `--prompt-file`, `--worktree-path`): the cwd, as the
 *   Python CLI and any shell user expect;
 * - `prompt_file` in a task file: the task file's folder (PROTOCOL §2);
 * - `request_from`, `response_to`, `supporting_paths`, `worktree_path` in a task file: workspace_root.
 *   A task file is a reusable definition kept in the repository; its paths name
 *   workspace files and must mean the same whichever folder submit runs from.
 */
export async function resolveSubmit(
  engine: EngineConfig,
  taskFile: { path: string; definition: TaskDefinition } | null,
  flags: SubmitFlags,
  cwd: string,
): Promise<ResolvedSubmit> {
  const def = taskFile?.definition ?? null;
  const root = engine.workspace_root;
  const fromFlag = (value: string | null | undefined): string | null => (value ? resolveUserPath(cwd, value) : null);
  const fromFile = (value: string | null | undefined): string | null => (value ? resolveUserPath(root, value) : null);

  if (flags.prompt != null && flags.promptFile) {
    throw new ConfigError("submit takes either --prompt or --prompt-file, not both", { key: "--prompt-file" });
  }

  // The Python tool's order of checks, so the same mistake gets the same
  // first error: --metadata, the lane, the prompt (a prompt_file outside the
  // workspace is refused even when other fields are missing), then
  // --request-from and --response-to.
  const metadata: Record<string, unknown> = { ...(def?.metadata ?? {}), ...parseKeyValueFlags(flags.metadata ?? [], "--metadata") };
  const lane = required(flags.lane || def?.lane, "--lane", "lane");

  // --prompt drops the file's prompt_file and --prompt-file drops its prompt;
  // within a file, an inline prompt wins over prompt_file as in the Python tool.
  let promptFile: string | null = null;
  let promptFlag: "--prompt-file" | "prompt_file" = "--prompt-file";
  let prompt: string | null = null;
  if (flags.prompt != null) {
    prompt = flags.prompt;
  } else if (flags.promptFile) {
    promptFile = resolveUserPath(cwd, flags.promptFile);
  } else if (def?.prompt != null) {
    prompt = def.prompt;
  } else if (def?.prompt_file && taskFile) {
    promptFlag = "prompt_file";
    const taskDir = path.dirname(await resolveReal(resolveUserPath(cwd, taskFile.path)));
    promptFile = resolveUserPath(taskDir, def.prompt_file);
  }
  if (promptFile !== null) {
    promptFile = await resolveReal(promptFile);
    const namedIn = promptFlag === "prompt_file" && taskFile ? resolveUserPath(cwd, taskFile.path) : undefined;
    prompt = await readPromptFile(promptFile, root, promptFlag, engine.request_max_bytes, namedIn);
  }

  const requestPath = required(fromFlag(flags.requestFrom) ?? fromFile(def?.request_from), "--request-from", "request_from");
  const responsePath = required(fromFlag(flags.responseTo) ?? fromFile(def?.response_to), "--response-to", "response_to");
  const correlationId = flags.taskId || (taskFile ? path.parse(taskFile.path).name : null) || lane;

  const input: CreateTaskInput = {
    workspace_id: engine.workspace_id,
    correlation_id: correlationId,
    lane,
    workspace_root: root,
    request_path: requestPath,
    response_path: responsePath,
    source_agent: flags.sourceAgent || SUBMIT_DEFAULTS.sourceAgent,
    worktree_path: fromFlag(flags.worktreePath) ?? fromFile(def?.worktree_path) ?? engine.worktree_path,
    expected_branch: flags.branch || def?.branch || engine.expected_branch,
    // The Python CLI records "" when no prompt was given; so do we.
    prompt: prompt ?? "",
    supporting_paths: (def?.supporting_paths ?? []).map((item) => resolveUserPath(root, item)),
    metadata,
  };
  return { input, correlationId, promptFile };
}

function required(value: string | null | undefined, flag: string, key: string): string {
  if (!value) throw new ConfigError(`submit requires ${flag} (give it on the command line or as ${key}: in the task file)`, { key: flag });
  return value;
}

/** Read the prompt file after checking that it (symlinks followed) lies inside workspace_root. */
async function readPromptFile(file: string, workspaceRoot: string, key: string, maxBytes: number, taskFile?: string): Promise<string> {
  const where = taskFile ? ` (from task file ${taskFile})` : "";
  if (!isInside(workspaceRoot, file)) {
    throw new ConfigError(`prompt_file is outside workspace_root: ${file}${where}; workspace_root is ${workspaceRoot}`, { file: taskFile, key });
  }
  try {
    // A regular file, bounded: a FIFO or /dev/zero as --prompt-file must not hang submit.
    return (await readRegularFile(file, { label: key, maxBytes })).toString("utf8");
  } catch (error) {
    if (error instanceof UnsafeFileError) throw new ConfigError(`${error.message}${where}`, { file: taskFile, key, cause: error });
    const code = (error as NodeJS.ErrnoException).code;
    const problem = code === "ENOENT" ? "does not exist" : code === "EISDIR" ? "is a folder, not a file" : `cannot be read (${(error as Error).message})`;
    throw new ConfigError(`prompt_file ${problem}: ${file}${where}`, { file: taskFile, key, cause: error });
  }
}

/** Parse repeated `KEY=VALUE` flags (split at the first `=`, key trimmed); `flag` names them in errors. */
export function parseKeyValueFlags(entries: readonly string[], flag: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const entry of entries) {
    const at = entry.indexOf("=");
    const key = at < 0 ? "" : entry.slice(0, at).trim();
    if (key === "") throw new ConfigError(`${flag} expects KEY=VALUE, got: ${entry}`, { key: flag });
    result[key] = entry.slice(at + 1);
  }
  return result;
}
