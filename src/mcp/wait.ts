// wait_task: the answer if it comes within the wait, else a `running` payload
// the model acts on by calling again. The wait is capped below the clients'
// tool timeouts (defaults.ts), ends early when the client cancels the call,
// and, when the client sent a progress token, reports the task's state on
// every change in the queue and at least every few seconds.

import { viewOf, type TaskView } from "../cli/views.js";
import type { Store, Task, TaskResponse } from "../store/types.js";
import { MCP_DEFAULTS } from "./defaults.js";

export interface WaitArgs {
  task_id: string;
  max_wait_seconds?: number;
}

export interface Progress {
  /** Seconds waited so far (always increasing), the wait's length and a one-line state. */
  (progress: number, total: number, message: string): Promise<void>;
}

export interface WaitTaskOptions {
  maxWaitSeconds: number;
  progressEveryMs: number;
  signal?: AbortSignal;
  progress?: Progress;
  now?: () => Date;
}

export type WaitResult =
  | {
      state: "completed" | "failed";
      task_id: string;
      body: string;
      verdict: TaskResponse["verdict"];
      blocking_count: number;
      nonblocking_count: number;
      follow_up_required: boolean;
      reviewer: string;
      /** The body was also written here (the task's response_path). */
      response_path: string;
    }
  | {
      state: "running";
      task_id: string;
      task_state: Task["state"];
      waited_seconds: number;
      claim_owner: string | null;
      lease_expires_at: string | null;
      lease_expired: boolean;
      last_event: { type: string; message: string; created_at: string } | null;
      next_action: string;
    };

/** The wait in seconds: the model's wish within [0, cap], the default when it gave none. */
export function waitSeconds(requested: number | undefined, cap: number): number {
  const wanted = requested ?? MCP_DEFAULTS.waitSeconds;
  return Math.max(0, Math.min(cap, wanted));
}

/** One line for a progress notification: state, owner, last event. */
export function stateLine(view: TaskView): string {
  const owner = view.state === "claimed" ? ` by ${view.claim_owner ?? "unknown"}` : "";
  const event = view.last_event ? `; last event ${view.last_event.type}${view.last_event.message ? `: ${view.last_event.message}` : ""}` : "";
  return `${view.state}${owner}${event}`.slice(0, 300);
}

/** Report progress on every queue change and at least every `everyMs`, until `stop` aborts. */
async function reportProgress(store: Store, taskId: string, total: number, options: WaitTaskOptions & { progress: Progress }, stop: AbortSignal): Promise<void> {
  const started = Date.now();
  const changes = await store.changes();
  let since = changes.generation;
  let sent = -1;
  let lastLine = "";
  let lastAt = started;
  while (!stop.aborted) {
    await changes.wait(options.progressEveryMs, since, stop);
    since = changes.generation;
    if (stop.aborted) return;
    const line = stateLine(await viewOf(store, await store.get(taskId), options.now?.()));
    // A burst of file events that changes nothing the model sees sends nothing; the beat still comes every progressEveryMs.
    if (line === lastLine && Date.now() - lastAt < options.progressEveryMs) continue;
    // Progress must increase between notifications: a tenth of a second, at least.
    const elapsed = Math.max(sent + 0.1, Math.round((Date.now() - started) / 100) / 10);
    sent = elapsed;
    lastLine = line;
    lastAt = Date.now();
    await options.progress(Math.min(elapsed, total), total, line);
  }
}

export async function waitTask(store: Store, args: WaitArgs, options: WaitTaskOptions): Promise<WaitResult> {
  const seconds = waitSeconds(args.max_wait_seconds, options.maxWaitSeconds);
  await store.get(args.task_id); // an unknown or invalid id is an error before any wait
  let response = await store.getResponse(args.task_id);
  if (!response && seconds > 0) {
    const stop = new AbortController();
    const abort = (): void => stop.abort();
    options.signal?.addEventListener("abort", abort, { once: true });
    const { progress } = options;
    // An observer: a failed notification (client gone) never ends the wait.
    const reporting = progress ? reportProgress(store, args.task_id, seconds, { ...options, progress }, stop.signal).catch(() => undefined) : null;
    try {
      response = await store.waitForResponse(args.task_id, { timeoutMs: seconds * 1000, signal: stop.signal });
    } finally {
      stop.abort();
      options.signal?.removeEventListener("abort", abort);
      await reporting;
    }
  }
  const task = await store.get(args.task_id);
  if (response) {
    const responsePath = await store.writeResponseOutput(task, response);
    return {
      state: response.status,
      task_id: task.id,
      body: response.body,
      verdict: response.verdict,
      blocking_count: response.blocking_count,
      nonblocking_count: response.nonblocking_count,
      follow_up_required: response.follow_up_required,
      reviewer: response.reviewer,
      response_path: responsePath,
    };
  }
  const view = await viewOf(store, task, options.now?.());
  const last = view.last_event;
  return {
    state: "running",
    task_id: task.id,
    task_state: task.state,
    waited_seconds: seconds,
    claim_owner: task.claim_owner,
    lease_expires_at: task.lease_expires_at,
    lease_expired: view.lease_expired,
    last_event: last ? { type: last.type, message: last.message, created_at: last.created_at } : null,
    next_action:
      task.state === "queued"
        ? `no worker has claimed it yet (is a dispatcher serving lane ${task.lane}?); call wait_task again with task_id ${task.id}`
        : `call wait_task again with task_id ${task.id}`,
  };
}
