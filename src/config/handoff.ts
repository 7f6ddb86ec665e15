// The engine config, handoff.yaml (PROTOCOL.md §1), plus the small path and
// YAML helpers the task-file loader shares. Paths come out absolute with
// symlinks resolved, as the Python tool's Path.resolve() gives them, so both
// implementations write the same paths into task.json.

import { realpathSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { UnsafeFileError } from "../store/errors.js";
import { isPostgresUrl } from "../store/postgres/url.js";
import { DEFAULT_REQUEST_MAX_BYTES, readRegularFile } from "../store/safe-file.js";
import { ConfigError } from "./errors.js";
import { parseYamlCached } from "./yaml-cache.js";

/** Defaults of handoff.yaml keys, relative to the config file's folder. */
export const ENGINE_DEFAULTS = {
  /** @default ".." — the folder holding handoff/ */
  workspaceRoot: "..",
  /** @default "state" — handoff/state */
  queueRoot: "state",
} as const;

export interface LaneConfig {
  description: string | null;
  /** WIP limit: tasks of the lane running at once across every dispatcher of the queue; null for none. */
  max_running: number | null;
}

/** handoff.yaml, validated, with every path absolute. */
export interface EngineConfig {
  /** Absolute path of the config file (symlinks resolved). */
  path: string;
  /** Its folder: relative paths in the file resolve against it. */
  dir: string;
  workspace_id: string;
  workspace_root: string;
  /** The queue folder, or a postgres:// URL; `--store` wins over the file's `queue_root`. */
  queue_root: string;
  lanes: Record<string, LaneConfig>;
  /** Legacy submit default, absolute, or null. */
  worktree_path: string | null;
  /** Legacy submit default, or null. */
  expected_branch: string | null;
  /** Largest request, supporting or prompt file accepted (bytes). @default 8 MiB */
  request_max_bytes: number;
  /** The raw `dispatch:` section (undefined when absent), for the dispatch config module. */
  dispatch: unknown;
  /** The whole parsed file, untouched. */
  raw: Record<string, unknown>;
}

export interface LoadEngineConfigOptions {
  /** `--store`: replaces `queue_root`; resolved against `cwd`, not the config folder. */
  storeOverride?: string | null;
  /** @default process.cwd() */
  cwd?: string;
}

/** Load and validate handoff.yaml (a JSON file is valid YAML too). */
export async function loadEngineConfig(configPath: string, options: LoadEngineConfigOptions = {}): Promise<EngineConfig> {
  const cwd = options.cwd ?? process.cwd();
  const file = await resolveReal(resolveUserPath(cwd, configPath));
  const raw = await readYamlMapping(file, "config file");
  const dir = path.dirname(file);

  if ("checkpoints" in raw) {
    throw new ConfigError(
      `checkpoints in handoff.yaml are no longer supported (found in ${file}). Move task definitions to standalone files ` +
        "(e.g. tasks/<id>.yaml) and submit with --task <path>.",
      { file, key: "checkpoints" },
    );
  }

  const workspaceId = raw.workspace_id;
  if (workspaceId !== undefined && workspaceId !== null && typeof workspaceId !== "string") {
    throw new ConfigError(`${file}: workspace_id must be a string, got ${kindOf(workspaceId)} (quote it: workspace_id: "${String(workspaceId)}")`, {
      file,
      key: "workspace_id",
    });
  }
  if (typeof workspaceId !== "string" || workspaceId.trim() === "") {
    throw new ConfigError(`${file}: workspace_id is required (a non-empty string naming this workspace)`, { file, key: "workspace_id" });
  }

  const workspaceRoot = await resolveReal(resolveUserPath(dir, pathValue(raw, "workspace_root", file) ?? ENGINE_DEFAULTS.workspaceRoot));
  // A postgres:// URL (issue 18) names a database, not a folder: kept as written.
  const queueTarget = (base: string, value: string): string => (isPostgresUrl(value) ? value.trim() : resolveUserPath(base, value));
  const queueRoot =
    options.storeOverride != null && options.storeOverride !== ""
      ? queueTarget(cwd, options.storeOverride)
      : queueTarget(dir, pathValue(raw, "queue_root", file) ?? ENGINE_DEFAULTS.queueRoot);
  const worktree = pathValue(raw, "worktree_path", file);

  return {
    path: file,
    dir,
    workspace_id: workspaceId.trim(),
    workspace_root: workspaceRoot,
    queue_root: isPostgresUrl(queueRoot) ? queueRoot : await resolveReal(queueRoot),
    lanes: loadLanes(raw.lanes, file),
    worktree_path: worktree === null ? null : await resolveReal(resolveUserPath(dir, worktree)),
    expected_branch: optionalString(raw.expected_branch, "expected_branch", file),
    request_max_bytes: requestMaxBytes(raw.request_max_bytes, file),
    dispatch: raw.dispatch,
    raw,
  };
}

function requestMaxBytes(value: unknown, file: string): number {
  if (value === undefined || value === null) return DEFAULT_REQUEST_MAX_BYTES;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(`${file}: request_max_bytes must be a whole number of bytes > 0, got ${kindOf(value)}`, { file, key: "request_max_bytes" });
  }
  return value;
}

function loadLanes(value: unknown, file: string): Record<string, LaneConfig> {
  if (value === undefined || value === null) return {};
  if (!isMapping(value)) {
    throw new ConfigError(`${file}: lanes must be a mapping of lane name to description, got ${kindOf(value)}`, { file, key: "lanes" });
  }
  const lanes: Record<string, LaneConfig> = {};
  for (const [name, entry] of Object.entries(value)) {
    const key = `lanes.${keyName(name)}`;
    if (isMapping(entry)) {
      lanes[name] = { description: optionalString(entry.description, `${key}.description`, file), max_running: maxRunning(entry.max_running, `${key}.max_running`, file) };
    } else if (entry === null || isScalar(entry)) {
      // A bare value is the description; `name:` with nothing after it is a lane without one.
      lanes[name] = { description: optionalString(entry, key, file), max_running: null };
    } else {
      throw new ConfigError(`${file}: ${key} must be a description string or a mapping with description, got ${kindOf(entry)}`, { file, key });
    }
  }
  return lanes;
}

function maxRunning(value: unknown, key: string, file: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new ConfigError(`${file}: ${key} must be a whole number >= 1 (tasks of the lane running at once), got ${kindOf(value)}`, { file, key });
  }
  return value;
}

/** lane -> max_running for the lanes that set one. */
export function laneLimitsOf(config: Pick<EngineConfig, "lanes"> | null | undefined): Record<string, number> {
  const limits: Record<string, number> = {};
  for (const [lane, entry] of Object.entries(config?.lanes ?? {})) if (entry.max_running !== null) limits[lane] = entry.max_running;
  return limits;
}

/** A path-valued key: its string, or null when absent or empty. */
function pathValue(raw: Record<string, unknown>, key: string, file: string): string | null {
  const value = raw[key];
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "string") throw new ConfigError(`${file}: ${key} must be a path string, got ${kindOf(value)}`, { file, key });
  return value;
}

/**
 * A string-valued key: strings as they are; numbers and booleans as text
 * (YAML reads `branch: 2024` as a number, the user means a name); null when
 * absent or empty. Lists and mappings are an error naming the key.
 */
export function optionalString(value: unknown, key: string, file: string): string | null {
  if (value === undefined || value === null || value === "") return null;
  if (isScalar(value)) return String(value);
  throw new ConfigError(`${file}: ${key} must be a string, got ${kindOf(value)}`, { file, key });
}

// --- shared with task-file.ts -------------------------------------------------

/**
 * Parse YAML text like yaml's parse(), but hand its warnings (an unknown tag
 * such as `!!js/function`, read as a plain value) to `onWarning` as one line
 * each instead of process warnings, which Node prints as a multi-line
 * "(node:PID) YAMLWarning" block. Throws what parse() throws.
 */
export async function parseYamlText(text: string, onWarning?: (message: string) => void): Promise<unknown> {
  // yaml loads on first use: a static import would start it in every command of the bundle.
  const { parseDocument } = await import("yaml");
  const doc = parseDocument(text, { uniqueKeys: false });
  const [error] = doc.errors;
  if (error) throw error;
  for (const warning of doc.warnings) onWarning?.((warning.message.split("\n")[0] ?? "").replace(/:$/, ""));
  return doc.toJS();
}

/** Read a YAML (or JSON) file whose top level must be a mapping; `label` names it in errors, `warnings` receives YAML warnings. */
export async function readYamlMapping(file: string, label: "config file" | "task file", warnings?: string[]): Promise<Record<string, unknown>> {
  let text: string;
  try {
    // A regular file, bounded: a FIFO or /dev/zero named as a task file must not hang submit.
    text = (await readRegularFile(file, { label, maxBytes: DEFAULT_REQUEST_MAX_BYTES })).toString("utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ConfigError(`${label} does not exist: ${file}`, { file, cause: error });
    if (code === "EISDIR") throw new ConfigError(`${label} is a folder, not a file: ${file}`, { file, cause: error });
    if (error instanceof UnsafeFileError) throw new ConfigError(error.message, { file, cause: error });
    throw new ConfigError(`cannot read ${label} ${file}: ${(error as Error).message}`, { file, cause: error });
  }
  let data: unknown;
  try {
    // YAML 1.2 core schema: `yes`, `0755` and dates stay strings. Duplicate keys
    // are allowed, the last one winning, as PyYAML reads them.
    data = await parseYamlCached(file, text, parseYamlText, (message) => warnings?.push(`agent-lanes: warning: ${label} ${file}: ${message}`));
  } catch (error) {
    // Not only YAMLParseError: an undefined or exploding alias (`*x`, alias
    // bombs) surfaces as a ReferenceError while the document becomes JS values.
    // Parsing text can only fail because of the text, so every failure is the file's.
    // The parser's first line already says "at line L, column C".
    const reason = ((error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "").replace(/:$/, "");
    throw new ConfigError(`invalid YAML in ${label} ${file}: ${reason}`, { file, cause: error });
  }
  if (!isMapping(data)) {
    throw new ConfigError(`${label} ${file} must be a YAML mapping of keys to values, got ${kindOf(data)}`, { file });
  }
  return data;
}

/** `~` and `~/x` expanded to the home folder (as a shell or Python's expanduser would). */
export function expandHome(value: string): string {
  if (value === "~") return os.homedir();
  if (value.startsWith("~/")) return path.join(os.homedir(), value.slice(2));
  return value;
}

/** A user-written path made absolute: `~` expanded, relative ones joined to `base`. */
export function resolveUserPath(base: string, value: string): string {
  return path.resolve(base, expandHome(value));
}

/**
 * Absolute path with symlinks resolved as far as the path exists, the rest
 * appended: Python's Path.resolve(strict=False). Confinement checks compare
 * these, so a symlink inside the workspace cannot point a file outside it.
 */
export async function resolveReal(absolute: string): Promise<string> {
  const missing: string[] = [];
  let current = absolute;
  for (;;) {
    try {
      // A plain system call: the thread pool's round trip (and loading fs/promises) costs a command more.
      return path.join(realpathSync.native(current), ...missing.reverse());
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return absolute;
      missing.push(path.basename(current));
      current = parent;
    }
  }
}

/** True when `candidate` is `root` or lies below it (both absolute, resolved). */
export function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  // "..x" is a name inside root; only ".." itself or "../..." leave it.
  return relative === "" || (!path.isAbsolute(relative) && relative !== ".." && !relative.startsWith(`..${path.sep}`));
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

/** A key from a user's file as messages show it: as is when printable, else JSON-quoted (a key may hold a newline). */
export function keyName(key: string): string {
  return /^[\x20-\x7e]*$/.test(key) ? key : JSON.stringify(key);
}

/** "list", "mapping", "null", "number"... for error messages. */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `a ${typeof value} (${JSON.stringify(value)})`;
}
