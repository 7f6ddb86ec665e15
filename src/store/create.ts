// create: validate a submission, record the request's hash, write the task
// folder (task.json, the `created` event) and the correlation index entry.

import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, realpathSync, statSync, type Stats } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureDir, writeJsonAtomic } from "./atomic.js";
import { addEvent, loadTask, locked, saveTask, type StoreContext } from "./context.js";
import { assertJsonDepth, assertOneLineName } from "./input-shape.js";
import { hashRegularFile, readRegularFile } from "./safe-file.js";
import { UnknownTaskError, ValidationError } from "./errors.js";
import { MAX_NAME_LENGTH, MAX_TASK_ID_LENGTH, assertTaskId, confine, isInside, makeTaskId, queuePaths } from "./layout.js";
import { scheduleMetadata } from "./schedule.js";
import { formatIdStamp, formatIso, nowMicros } from "./time.js";
import type { CreateTaskInput, SupportingPath, Task } from "./types.js";

function requireText(field: string, value: unknown): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new ValidationError(`${field} is required and must be a non-empty string`);
  }
  return value;
}

/** An optional text field (HTTP bodies may carry any JSON type): a string, or null when absent. */
function optionalText(field: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw new ValidationError(`${field} must be a string, got ${typeof value}`);
  return value;
}

/** No file system call takes a NUL byte; a path holding one is refused before it reaches task.json. */
function noNul(field: string, value: string): string {
  if (value.includes("\0")) throw new ValidationError(`${field} contains a NUL byte: ${JSON.stringify(value)}`);
  return value;
}

function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? path.join(os.homedir(), p.slice(1)) : p;
}

// The checks below use plain system calls: a submit makes a few dozen, and the
// thread pool's round trips (and loading fs/promises) cost a command more.

/** stat, or null for anything that cannot be stat'ed. */
function statOrNull(file: string): Stats | null {
  try {
    return statSync(file);
  } catch {
    return null;
  }
}

/** Resolve symlinks of the longest existing prefix, so confinement cannot be escaped by a link. */
async function realResolve(p: string): Promise<string> {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let current = abs;
  for (;;) {
    try {
      const real = realpathSync.native(current);
      return rest.length === 0 ? real : path.join(real, ...rest.reverse());
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return abs;
      rest.push(path.basename(current));
      current = parent;
    }
  }
}

async function confineReal(field: string, value: string, root: string): Promise<string> {
  const lexical = confine(field, value, root);
  return confine(field, await realResolve(lexical), root);
}

/** A request or supporting file as submitted: its hash, and its bytes when the store carries them. */
interface SubmittedFile {
  sha256: string;
  content: Buffer | null;
}

/**
 * sha256 of a request or supporting file: a regular file (never a FIFO,
 * device or kernel file), at most request_max_bytes. With `keep` the bytes are
 * read once and hashed from memory, so the hash is that of the bytes kept.
 */
async function hashExisting(maxBytes: number, field: string, file: string, keep: boolean): Promise<SubmittedFile> {
  const stat = statOrNull(file);
  if (stat === null) throw new ValidationError(`${field} does not exist or is not a file: ${file}`);
  if (stat.isDirectory()) throw new ValidationError(`${field} is a folder, not a file: ${file}`);
  if (keep) {
    const content = await readRegularFile(file, { label: field, maxBytes }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ENOTDIR") throw new ValidationError(`${field} does not exist: ${file}`);
      throw error;
    });
    return { sha256: createHash("sha256").update(content).digest("hex"), content };
  }
  const sha = await hashRegularFile(file, { label: field, maxBytes });
  if (sha === null) throw new ValidationError(`${field} does not exist: ${file}`);
  return { sha256: sha, content: null };
}

/**
 * The task folder and the correlation index file are named after the ids; a
 * name the file system refuses would fail half-way through create (the task
 * written, its index not), so refuse it up front.
 */
function checkNameLengths(workspaceId: string, correlationId: string): void {
  const idLength = makeTaskId(formatIdStamp(0n), correlationId, "0".repeat(12)).length;
  if (idLength > MAX_TASK_ID_LENGTH) {
    throw new ValidationError(`correlation_id is too long: its task id would be ${idLength} characters (at most ${MAX_TASK_ID_LENGTH}); use a shorter correlation id (--task-id)`);
  }
  // The index file is written as `.<name>.<16 hex>.tmp` first: 22 more characters.
  const indexName = path.basename(queuePaths("/").correlationFile(workspaceId, correlationId));
  const indexMax = MAX_NAME_LENGTH - 22;
  if (indexName.length > indexMax) {
    throw new ValidationError(
      `workspace_id and correlation_id are too long together: the index file name would be ${indexName.length} characters (at most ${indexMax}); shorten one of them`,
    );
  }
}

/**
 * The queue usually lies inside workspace_root (handoff/state): a response_path
 * in it would let `wait` write the answer over the queue's own files.
 */
export async function refuseQueueTarget(ctx: StoreContext, target: string, taskId?: string): Promise<void> {
  let queue: string;
  try {
    queue = realpathSync.native(ctx.paths.root);
  } catch {
    queue = ctx.paths.root;
  }
  if (isInside(queue, target)) {
    throw new ValidationError(`response_path is inside the queue folder ${queue}: ${target}; name a file outside the queue`, { taskId });
  }
}

/** A parent_task_id in metadata is a task id from outside: it must pass the id check. */
function checkMetadataIds(metadata: Record<string, unknown>): void {
  const parent = metadata.parent_task_id;
  if (parent !== undefined && parent !== null && parent !== "") assertTaskId(parent);
}

/** What a store needs to validate a submission. */
export interface CreateChecks {
  /** Largest request or supporting file. */
  requestMaxBytes: number;
  now: Date;
  /** An existing task, or null when unknown (dependency checks). */
  lookup(taskId: string): Promise<Task | null>;
  /** Refuses a response_path the store must never overwrite (the file store's own folder). */
  refuse?(target: string): Promise<void>;
  /** Keep the bytes of the request and supporting files (a store that carries them). */
  keepContent?: boolean;
}

/** The fields a submission decides (the rest are the state machine's). */
export type TaskFields = Pick<
  Task,
  | "workspace_id" | "correlation_id" | "source_agent" | "lane" | "workspace_root" | "worktree_path" | "expected_branch"
  | "request_path" | "request_sha256" | "supporting_paths" | "response_path" | "prompt" | "metadata"
>;

/** A validated submission: every field of the new task but its id, state and timestamps. */
export interface ValidatedTask {
  fields: TaskFields;
  /** With keepContent: the request's bytes, then each supporting file's, in order. */
  contents: { request: Buffer | null; supporting: Array<Buffer | null> };
}

/** The fields of a new queued task around `fields`, stamped `createdAt`. */
export function newTask(id: string, fields: ValidatedTask["fields"], createdAt: string): Task {
  return {
    id,
    ...fields,
    state: "queued",
    created_at: createdAt,
    updated_at: createdAt,
    claim_owner: null,
    claim_token: null,
    lease_expires_at: null,
    claimed_at: null,
    completed_at: null,
    failed_at: null,
    failure_reason: null,
  };
}

/** Validate `input` and write a new queued task. */
export async function createTask(ctx: StoreContext, input: CreateTaskInput): Promise<Task> {
  const { fields } = await validateCreate(input, {
    requestMaxBytes: ctx.requestMaxBytes,
    now: ctx.now(),
    lookup: (id) =>
      loadTask(ctx, id).catch((error) => {
        if (error instanceof UnknownTaskError) return null;
        throw error;
      }),
    refuse: (target) => refuseQueueTarget(ctx, target),
  });
  const { workspace_id: workspaceId, correlation_id: correlationId, lane, request_sha256: requestSha } = fields;
  return locked(ctx, async (ctx) => {
    await ensureDir(ctx.paths.tasks);
    // The id embeds the microsecond; if another writer took the same one, move on a microsecond.
    let micros = nowMicros();
    let id = makeTaskId(formatIdStamp(micros), correlationId, requestSha);
    for (;;) {
      try {
        mkdirSync(ctx.paths.taskDir(id), { mode: 0o700 });
        try {
          chmodSync(ctx.paths.taskDir(id), 0o700);
        } catch {
          // best effort: the umask already narrowed it
        }
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        micros = nowMicros();
        id = makeTaskId(formatIdStamp(micros), correlationId, requestSha);
      }
    }
    const createdAt = formatIso(micros);
    const task = newTask(id, fields, createdAt);
    await saveTask(ctx, task);
    await addEvent(ctx, id, { type: "created", message: `task created on lane ${lane}`, data: { lane } });
    await ensureDir(ctx.paths.correlations);
    await writeJsonAtomic(ctx.paths.correlationFile(workspaceId, correlationId), {
      workspace_id: workspaceId,
      correlation_id: correlationId,
      task_id: id,
      updated_at: createdAt,
    }, { batch: ctx.batch });
    ctx.onWrite(id);
    return task;
  });
}

/** Validate a submission (every rule of PROTOCOL.md §4) and hash its files; writes nothing. */
export async function validateCreate(input: CreateTaskInput, checks: CreateChecks): Promise<ValidatedTask> {
  const workspaceId = requireText("workspace_id", input.workspace_id);
  const correlationId = requireText("correlation_id", input.correlation_id);
  const lane = requireText("lane", input.lane);
  const rootInput = noNul("workspace_root", requireText("workspace_root", input.workspace_root));
  noNul("request_path", requireText("request_path", input.request_path));
  noNul("response_path", requireText("response_path", input.response_path));
  const metadata = input.metadata ?? {};
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw new ValidationError("metadata must be a mapping (an object of key: value)");
  }
  assertJsonDepth(metadata, "metadata");
  checkMetadataIds(metadata);
  checkNameLengths(workspaceId, correlationId);
  const sourceAgent = optionalText("source_agent", input.source_agent) || "orchestrator";
  assertOneLineName("lane", lane);
  assertOneLineName("source_agent", sourceAgent);
  const worktreeInput = optionalText("worktree_path", input.worktree_path);
  if (worktreeInput) noNul("worktree_path", worktreeInput);
  const expectedBranch = optionalText("expected_branch", input.expected_branch);
  const prompt = optionalText("prompt", input.prompt);

  const rootStat = statOrNull(path.resolve(expandHome(rootInput)));
  if (!rootStat?.isDirectory()) throw new ValidationError(`workspace_root is not a folder: ${path.resolve(expandHome(rootInput))}`);
  const workspaceRoot = realpathSync.native(path.resolve(expandHome(rootInput)));

  const requestPath = await confineReal("request_path", expandHome(input.request_path), workspaceRoot);
  const responsePath = await confineReal("response_path", expandHome(input.response_path), workspaceRoot);
  await checks.refuse?.(responsePath);
  const keep = checks.keepContent === true;
  const request = await hashExisting(checks.requestMaxBytes, "request_path", requestPath, keep);
  const supporting: SupportingPath[] = [];
  const supportingContent: Array<Buffer | null> = [];
  const supportingInput: unknown = input.supporting_paths ?? [];
  if (!Array.isArray(supportingInput)) throw new ValidationError("supporting_paths must be a list of paths or {path: ...}");
  for (const entry of supportingInput as CreateTaskInput["supporting_paths"] & unknown[]) {
    const raw = typeof entry === "string" ? entry : entry?.path;
    if (typeof raw !== "string" || raw === "") throw new ValidationError("supporting_paths entries must be paths or {path: ...}");
    noNul("supporting_paths", raw);
    const file = await confineReal("supporting_paths", expandHome(raw), workspaceRoot);
    const submitted = await hashExisting(checks.requestMaxBytes, "supporting_paths", file, keep);
    supporting.push({ path: file, sha256: submitted.sha256 });
    supportingContent.push(submitted.content);
  }
  // The agent runs in worktree_path: it must lie inside workspace_root like every other path.
  const worktree = worktreeInput ? await confineReal("worktree_path", expandHome(worktreeInput), workspaceRoot) : null;
  // not_before / priority / depends_on live in metadata (the Python tool keeps them as they are).
  const schedule = await scheduleMetadata(input, metadata, checks.now, checks.lookup);
  return {
    fields: {
      workspace_id: workspaceId,
      correlation_id: correlationId,
      source_agent: sourceAgent,
      lane,
      workspace_root: workspaceRoot,
      worktree_path: worktree,
      expected_branch: expectedBranch,
      request_path: requestPath,
      request_sha256: request.sha256,
      supporting_paths: supporting,
      response_path: responsePath,
      prompt,
      metadata: { ...metadata, ...schedule },
    },
    contents: { request: request.content, supporting: supportingContent },
  };
}
