// The queue's data model and the Store interface every front end (CLI, HTTP
// server, dispatcher) talks to. Field names are the on-disk JSON keys of
// PROTOCOL.md §4–6: they are snake_case on purpose and must not be renamed.

import type { PauseBackend } from "./pause-records.js";
import type { PruneOptions, PruneResult } from "./prune.js";

export type { PruneOptions, PruneResult, PrunedTask, KeptTask } from "./prune.js";

export type TaskState = "queued" | "claimed" | "completed" | "failed";
export const TASK_STATES: readonly TaskState[] = ["queued", "claimed", "completed", "failed"];
export type TerminalState = "completed" | "failed";

export type Verdict = "accept" | "accept-with-follow-ups" | "needs-revision";
export const VERDICTS: readonly Verdict[] = ["accept", "accept-with-follow-ups", "needs-revision"];

export interface SupportingPath {
  path: string;
  sha256: string;
}

/** task.json. Unknown keys written by other implementations are kept on rewrite. */
export interface Task {
  id: string;
  workspace_id: string;
  correlation_id: string;
  source_agent: string;
  lane: string;
  workspace_root: string;
  worktree_path: string | null;
  expected_branch: string | null;
  request_path: string;
  request_sha256: string;
  supporting_paths: SupportingPath[];
  response_path: string;
  prompt: string | null;
  metadata: Record<string, unknown>;
  state: TaskState;
  created_at: string;
  updated_at: string;
  claim_owner: string | null;
  claim_token: string | null;
  lease_expires_at: string | null;
  claimed_at: string | null;
  completed_at: string | null;
  failed_at: string | null;
  failure_reason: string | null;
  [unknownKey: string]: unknown;
}

/** response.json */
export interface TaskResponse {
  task_id: string;
  reviewer: string;
  status: TerminalState;
  body: string;
  reviewed_request_sha256: string | null;
  request_changed_before_response: boolean;
  follow_up_required: boolean;
  verdict: Verdict | null;
  blocking_count: number;
  nonblocking_count: number;
  metadata: Record<string, unknown>;
  created_at: string;
  [unknownKey: string]: unknown;
}

/** One line of events.jsonl. */
export interface TaskEvent {
  created_at: string;
  type: string;
  message: string;
  data: Record<string, unknown>;
}

export interface CreateTaskInput {
  workspace_id: string;
  correlation_id: string;
  lane: string;
  workspace_root: string;
  /** Must lie inside workspace_root and exist; its sha256 is recorded. */
  request_path: string;
  /** Must lie inside workspace_root. */
  response_path: string;
  source_agent?: string;
  worktree_path?: string | null;
  expected_branch?: string | null;
  prompt?: string | null;
  /** Each must lie inside workspace_root and exist. */
  supporting_paths?: Array<string | { path: string }>;
  metadata?: Record<string, unknown>;
  /** Not claimable before this time: ISO-8601, a Date, or `+30m`/`+2h`/`+45s`/`+1d` from now. Stored as metadata.not_before. */
  not_before?: string | Date | null;
  /** Higher is claimed first within a lane (default 0). Stored as metadata.priority. */
  priority?: number | null;
  /** Task ids that must complete first; each must exist and no chain may loop. Stored as metadata.depends_on. */
  depends_on?: string[] | null;
}

export interface ClaimInput {
  owner: string;
  /** @default 7200 */
  leaseSeconds?: number;
  /**
   * WIP limit of the task's lane: the claim is refused (code `lane_full`) while
   * this many tasks of the lane hold live leases, counted under the queue lock.
   */
  maxRunning?: number | null;
  /**
   * Events to log in the claim's own transition, right after its `claimed`
   * event (stores with `transitionEvents`): called under the lock with the
   * claimed task and the task's events up to and including that `claimed`
   * one; returns the events to append (none: []). The store's own event
   * types are refused, as appendEvent refuses them.
   */
  events?: (claimed: Task, history: readonly TaskEvent[]) => EventInput[];
}

export interface RenewInput {
  claimToken: string;
  /** @default 7200 */
  leaseSeconds?: number;
}

export interface ReleaseInput {
  claimToken: string;
  reason?: string | null;
}

export interface RespondInput {
  body: string;
  /** Required when the task is claimed. */
  claimToken?: string | null;
  /** @default "worker" */
  reviewer?: string;
  /** @default "completed" */
  status?: TerminalState;
  followUpRequired?: boolean;
  verdict?: Verdict | null;
  blockingCount?: number;
  nonblockingCount?: number;
  /** When given, must equal the task's request_sha256. */
  expectSha256?: string | null;
  metadata?: Record<string, unknown>;
  /**
   * Events to log in the respond's own transition, just before its `response`
   * event (stores with `transitionEvents`), e.g. the dispatcher's report of
   * the run. The store's own event types are refused.
   */
  events?: readonly EventInput[];
}

export interface CancelInput {
  /** Who cancels; becomes the response's reviewer and part of its body ("cancelled by <by>"). */
  by?: string;
  /** Why; appended to the body ("cancelled by <by>: <reason>"). */
  reason?: string;
}

export interface RespondResult {
  task: Task;
  response: TaskResponse;
}

export interface EventInput {
  type: string;
  message?: string;
  data?: Record<string, unknown>;
}

export interface ListOptions {
  lane?: string;
  /** Only queued and claimed tasks (finished tasks then cost nothing at all). */
  activeOnly?: boolean;
  /** Only tasks in one of these states. */
  states?: readonly TaskState[];
  /** Only tasks created at or after this time. */
  since?: Date;
  /**
   * A cursor: only tasks that come after this task id in the listing's order
   * (older ones when `newestFirst`, newer ones otherwise). The id need not
   * exist any more: its timestamp places it.
   */
  after?: string;
  /** At most this many tasks: the first ones in the listing's order (with `newestFirst`, the newest). */
  limit?: number;
  /** Newest first instead of oldest first. */
  newestFirst?: boolean;
}

/** A task with the facts a view shows about it (status, list). */
export interface TaskSummary {
  task: Task;
  response_exists: boolean;
  last_event: TaskEvent | null;
}

export interface AvailableOptions {
  /** Lanes to look at; all lanes when omitted. */
  lanes?: readonly string[];
  /** Extra filter (e.g. vendor); a task it rejects is skipped, never blocks later ones. */
  accept?: (task: Task) => boolean;
  /** @default new Date() */
  now?: Date;
}

export interface WaitOptions {
  /** Give up after this many ms; undefined waits until the signal aborts. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A task file the scanner could not read or parse (logged and skipped, never fatal). */
export interface ScanProblem {
  taskId: string;
  file: string;
  message: string;
}

/** Wake-ups on queue changes, so waiters sleep instead of polling hard. */
export interface ChangeNotifier {
  /** Increases on every observed change; read it before looking, pass it to wait. */
  readonly generation: number;
  /**
   * Resolve at the first change after `since` (immediately if one already
   * happened), after `timeoutMs`, or when `signal` aborts.
   */
  wait(timeoutMs: number, since: number, signal?: AbortSignal): Promise<void>;
  /** The live task folders the latest scan saw: watched until the next scan replaces the set. */
  track(taskDirs: Iterable<string>): void;
  /** As track(), given only what changed since the set last handed over: folders to add and to drop. */
  trackChanges?(added: Iterable<string>, removed: Iterable<string>): void;
  /**
   * The task folders the latest scan found without a task.json (being
   * created): watched until the next scan replaces the set, and a change is
   * counted once a new one is watched, so a task.json that landed before the
   * watch is not missed.
   */
  expect?(taskDirs: Iterable<string>): void;
  /**
   * Names of entries of the tasks folder that changed since the last call
   * (new or removed task folders), or null when a change may have been missed
   * (no watcher, or an event without a name): then the folder is listed in full.
   */
  takeNames?(): string[] | null;
  /**
   * Ids of the tracked or pinned tasks whose folders changed since the last
   * call, or null when a change may have been missed (a watch failed): then
   * every live task is looked at again.
   */
  takeTouched?(): string[] | null;
  /** Watch one task folder until the returned function is called (reference-counted). */
  pin(taskDir: string): () => void;
  /** Count a change made by this process (no need to wait for the event). */
  bump(): void;
  /**
   * This process wrote task `taskId` (made its folder or changed a file in
   * it): counted like bump(), and named by the next takeNames() and
   * takeTouched() without waiting for the file-system event, which may not
   * have been read yet when the writer looks at the queue again.
   */
  wrote?(taskId: string): void;
  close(): Promise<void>;
}

/** A request or supporting file as the PostgreSQL store carries it (submitted bytes, hashed at submit). */
export interface StoredFile {
  role: "request" | "supporting";
  /** The path the submitter named (absolute, inside its workspace_root). */
  path: string;
  sha256: string;
  content: Buffer;
}

/**
 * Dispatcher bookkeeping that every host of a queue must agree on: kept in
 * the PostgreSQL queue's database and judged on its clock (a file queue keeps
 * the same facts in files beside the queue, on one host).
 */
export interface SharedLedger {
  /** True the first time (sinkId, key) is claimed, by any dispatcher on any host; false ever after. */
  claimNotification(sinkId: string, key: string): Promise<boolean>;
  /** Forget notification markers older than `maxAgeMs`; returns how many. */
  pruneNotifications(maxAgeMs: number): Promise<number>;
  /** Add a run's reported cost to the vendor's running total. */
  recordCost(entry: { vendor: string; owner: string; taskId: string | null; costUsd: number }): Promise<void>;
  /** The vendor's reported cost of today (UTC day of the database clock) over every dispatcher, and ms until that day ends. */
  costToday(vendor: string): Promise<{ spentUsd: number; resetsInMs: number }>;
  /**
   * Take the turn of periodic job `name` (the daily retention) when its last
   * run is at least `intervalMs` old: exactly one caller wins a turn, on any
   * host. `inMs`: when the next turn falls due.
   */
  takeTurn(name: string, intervalMs: number): Promise<{ due: boolean; inMs: number }>;
  /** Give back a turn whose job failed, so the next try (any host) may run it. */
  giveBackTurn(name: string): Promise<void>;
}

/**
 * The queue. Every mutation holds the queue's flock; reads that change nothing
 * (get, getResponse, readEvents, list, next, available) take no lock because
 * every write is an atomic rename, so a stuck lock holder never blocks them.
 */
export interface Store {
  /** Absolute queue root (holds `lock`, `tasks/`, `indexes/`). */
  readonly root: string;

  create(input: CreateTaskInput): Promise<Task>;
  /** Throws UnknownTaskError / InvalidTaskIdError. */
  get(taskId: string): Promise<Task>;
  /** Tasks, oldest first; finished ones come from the summary cache beside the queue. */
  list(options?: ListOptions): Promise<Task[]>;
  /** As list, with each task's response_exists and last_event (from the summary cache for finished tasks). */
  summaries(options?: ListOptions): Promise<TaskSummary[]>;
  /** The oldest queued or lease-expired task of the lane, or null. */
  next(lane: string, options?: Omit<AvailableOptions, "lanes">): Promise<Task | null>;
  /** Every queued or lease-expired task of the lanes that `accept` takes, oldest first. */
  available(options?: AvailableOptions): Promise<Task[]>;
  /** Tasks whose task.json could not be parsed in the latest scan. */
  problems(): ScanProblem[];
  /**
   * Whether the lane holds any task, live or finished (the idle payload's
   * no_task_submitted / no_queued_task). Optional: list({lane, limit: 1}) says the same, slower.
   */
  laneHasTasks?(lane: string): Promise<boolean>;
  /**
   * As summaries, but finished tasks come as their view's text from the
   * rendered cache beside the queue when it holds them (rendered by `renderer`
   * and added when it does not). Optional: stores without it are listed with summaries.
   */
  renderedSummaries?(options: ListOptions, renderer: import("./rendered-cache.js").FinishedRenderer): Promise<import("./listing.js").ListingItem[]>;

  /**
   * Finished tasks as a dashboard shows them: counts by lane and state, the
   * most recently finished, and those finished since a time, as compact facts
   * (finished-facts.ts) — never by parsing every task of a long-lived queue.
   * Optional: a store without it is read with list().
   */
  finishedFacts?(options: import("./finished-facts.js").FinishedFactsOptions): Promise<import("./finished-facts.js").FinishedFactsResult>;
  /**
   * How many finished tasks the queue holds, without reading them (the
   * scanner's count, a SQL count): lets a dashboard update its figures with
   * only the tasks that changed. Optional.
   */
  finishedCount?(): Promise<number>;

  claim(taskId: string, input: ClaimInput): Promise<Task>;
  renew(taskId: string, input: RenewInput): Promise<Task>;
  release(taskId: string, input: ReleaseInput): Promise<Task>;
  respond(taskId: string, input: RespondInput): Promise<RespondResult>;
  /** Answer a queued task `failed` with "cancelled…"; refuses claimed and finished tasks. */
  cancel(taskId: string, input?: CancelInput): Promise<RespondResult>;

  appendEvent(taskId: string, event: EventInput): Promise<TaskEvent>;
  readEvents(taskId: string): Promise<TaskEvent[]>;

  /** response.json, or null while there is none. */
  getResponse(taskId: string): Promise<TaskResponse | null>;
  /** Resolves with the response as soon as response.json exists; null on timeout. */
  waitForResponse(taskId: string, options?: WaitOptions): Promise<TaskResponse | null>;
  /**
   * Writes the response body to the task's response_path, confined to
   * `workspaceRoot` (the caller's config in force; the task's own
   * workspace_root only when none is given), race-free; returns the path.
   */
  writeResponseOutput(task: Task, response: TaskResponse, options?: { workspaceRoot?: string }): Promise<string>;

  /**
   * The shared change notifier, started on first use. Scans keep it watching
   * every live task, so a waiter wakes on new tasks, claims, releases and responses.
   */
  changes(): Promise<ChangeNotifier>;

  /**
   * Apply a retention policy: remove (or archive) finished tasks past it, with
   * their index files, under the lock; never a live task, never an unfetched
   * answer unless forced (prune.ts).
   */
  prune(options?: PruneOptions): Promise<PruneResult>;

  /**
   * Remove temp files of interrupted atomic writes, and task folders a crash
   * left without task.json, older than `olderThanMs` (default one hour);
   * returns their paths. Never touches a live write.
   */
  sweepTempFiles(options?: { olderThanMs?: number }): Promise<string[]>;

  /** Vendor pauses of this queue: get/set/clear/list (store/pause-records.ts). */
  readonly pauses: PauseBackend;

  /** Which implementation: a queue folder, or a PostgreSQL database. @default "file" */
  readonly kind?: "file" | "postgres";

  /** The queue for messages: the folder, or the database URL with its password masked. @default root */
  readonly location?: string;

  /**
   * True when claim and respond log the `events` of their input in their own
   * transition (ClaimInput.events, RespondInput.events). A store without it
   * ignores them: callers then append the events themselves.
   */
  readonly transitionEvents?: boolean;

  /** PostgreSQL only: notification markers, budgets and periodic jobs shared by every host (SharedLedger). */
  readonly shared?: SharedLedger;

  /**
   * PostgreSQL only (hosts share no files): the request and supporting files
   * as submitted, for the dispatcher to materialise in a private folder.
   */
  requestFiles?(taskId: string): Promise<StoredFile[]>;

  /** Releases watchers and caches. Idempotent. */
  close(): Promise<void>;
}
