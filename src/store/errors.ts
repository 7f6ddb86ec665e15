// The few error classes of the store. Messages are PROTOCOL.md §5's, verbatim
// where the spec gives them, because scripts and prompts match on them.

export type StoreErrorCode =
  | "invalid_task_id"
  | "unknown_task"
  | "invalid_state"
  | "lease_held"
  | "not_due"
  | "lane_full"
  | "token_mismatch"
  | "request_changed"
  | "invalid_input"
  | "corrupt_file"
  | "lock_timeout"
  | "unsafe_file"
  | "file_too_large"
  | "root_not_allowed"
  | "too_deep"
  | "store_unavailable"
  | "schema_mismatch";

/** Base class: every store failure a user can cause or fix. */
export class StoreError extends Error {
  override name = "StoreError";
  readonly code: StoreErrorCode;
  readonly taskId: string | undefined;

  constructor(code: StoreErrorCode, message: string, options: { taskId?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.taskId = options.taskId;
  }
}

export class InvalidTaskIdError extends StoreError {
  override name = "InvalidTaskIdError";
  constructor(taskId: string) {
    const shown = taskId.length > 80 ? `${JSON.stringify(taskId.slice(0, 60))}... (${taskId.length} characters)` : JSON.stringify(taskId);
    super(
      "invalid_task_id",
      `invalid task_id: ${shown} (expected at most 200 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..')`,
      { taskId },
    );
  }
}

export class UnknownTaskError extends StoreError {
  override name = "UnknownTaskError";
  constructor(taskId: string) {
    super("unknown_task", `unknown task: ${taskId}`, { taskId });
  }
}

/** A transition refused by the state machine (terminal task, live lease, wrong token...). */
export class TransitionError extends StoreError {
  override name = "TransitionError";
}

/** Bad input to create/respond: paths outside workspace_root, missing files, bad verdicts. */
export class ValidationError extends StoreError {
  override name = "ValidationError";
  constructor(message: string, options: { taskId?: string; cause?: unknown } = {}) {
    super("invalid_input", message, options);
  }
}

/** A task.json or response.json on disk that is not valid JSON of the expected shape. */
export class CorruptFileError extends StoreError {
  override name = "CorruptFileError";
  readonly file: string;
  constructor(file: string, detail: string, options: { taskId?: string; cause?: unknown } = {}) {
    super("corrupt_file", `corrupt file ${file}: ${detail}`, options);
    this.file = file;
  }
}

/**
 * A value as error messages show it; never throws. Inputs come from HTTP bodies
 * and callers, where String() itself can throw (`{"toString": 1}`, a
 * null-prototype object) and JSON.stringify can too (a BigInt).
 */
export function showValue(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Wraps a thrown non-Error so callers can rely on `.message`. */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(showValue(value));
}

/** The queue lock could not be taken within the lock timeout (another process holds it). */
export class LockTimeoutError extends StoreError {
  override name = "LockTimeoutError";
  readonly lockPath: string;
  readonly holderPid: number | null;
  constructor(lockPath: string, timeoutMs: number, holderPid: number | null) {
    super(
      "lock_timeout",
      `timed out after ${timeoutMs / 1000} s waiting for the queue lock ${lockPath}` +
        `${holderPid === null ? "" : ` (held by pid ${holderPid})`}: stop the process holding it, or raise --lock-timeout`,
    );
    this.lockPath = lockPath;
    this.holderPid = holderPid;
  }
}

/**
 * A file the store refuses to open or read: a symbolic link where the store
 * keeps its own files, a FIFO, device or kernel file (/proc, /sys, /dev) where
 * a regular file is expected, or one over the size limit.
 */
export class UnsafeFileError extends StoreError {
  override name = "UnsafeFileError";
  readonly file: string;
  constructor(file: string, message: string, options: { taskId?: string; cause?: unknown; code?: "unsafe_file" | "file_too_large" } = {}) {
    super(options.code ?? "unsafe_file", message, options);
    this.file = file;
  }
}

/** A client-given workspace_root outside every root the server allows (serve --allow-root). */
export class RootNotAllowedError extends StoreError {
  override name = "RootNotAllowedError";
  constructor(message: string) {
    super("root_not_allowed", message);
  }
}

/** JSON input nested deeper than the limit (64 levels). */
export class TooDeepError extends StoreError {
  override name = "TooDeepError";
  constructor(message: string, options: { taskId?: string } = {}) {
    super("too_deep", message, options);
  }
}

/** A PostgreSQL queue that cannot be reached (server down, wrong URL, refused login); the message names the URL, password masked. */
export class StoreUnavailableError extends StoreError {
  override name = "StoreUnavailableError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("store_unavailable", message, options);
  }
}

/** A PostgreSQL queue whose schema is older (run `agent-lanes migrate`) or newer (upgrade agent-lanes) than this build. */
export class SchemaVersionError extends StoreError {
  override name = "SchemaVersionError";
  readonly current: number;
  readonly latest: number;
  constructor(message: string, current: number, latest: number) {
    super("schema_mismatch", message);
    this.current = current;
    this.latest = latest;
  }
}
