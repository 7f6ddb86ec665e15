// What `status`, `list` and the heartbeats of `wait` show about a task: the
// task itself plus facts an agent would otherwise have to work out (is the
// lease over, where is the answer, what should happen next), and the queue
// summary of `status --all`. Pure functions over the store's reads.

import { fnv1aHex } from "../fnv.js";
import { oneLine } from "./context.js";
import { leaseExpired as isLeaseExpired, isTerminal } from "../store/context.js";
import { queuePaths } from "../store/layout.js";
import { isRegularFile } from "../store/safe-file.js";
import { parseIso } from "../store/time.js";
import { toPythonJson } from "../store/json.js";
import type { ListingItem } from "../store/listing.js";
import type { FinishedRenderer, RenderedRecord, RenderedText } from "../store/rendered-cache.js";
import type { ScanProblem, Store, Task, TaskEvent, TaskSummary } from "../store/types.js";

/** Where an agent finds a task's files. */
export interface Navigation {
  workspace_root: string;
  worktree_path: string | null;
  expected_branch: string | null;
  request_path: string;
  response_path: string;
  /** The files to read for the task: the request, then each supporting path. */
  review_scope: string[];
}

/** status's VIEW (PROTOCOL.md §7): the task plus derived facts. */
export type TaskView = Task & {
  response_exists: boolean;
  lease_expired: boolean;
  /** A finished task (completed or failed) without response.json: `wait` cannot return a body. */
  missing_response: boolean;
  last_event: TaskEvent | null;
  last_event_age_seconds: number | null;
  navigation: Navigation;
  next_action: string;
  /** Claimed tasks only. */
  claimed_age_seconds?: number;
  /** Claimed tasks only; 0 once the lease is over. */
  seconds_until_lease_expiry?: number;
};

export interface QueueSummary {
  queued: number;
  claimed: number;
  completed: number;
  failed: number;
  /** Claimed tasks whose lease is over: claimable again. */
  stale_claims: number;
  missing_response: number;
}

/** Whole seconds from `from` to `to`, never negative; null without a parseable start. */
function secondsBetween(from: string | null | undefined, to: Date): number | null {
  const start = parseIso(from);
  return start === null ? null : Math.max(0, Math.floor((to.getTime() - start.getTime()) / 1000));
}

/** The facts a view is made of, read from the queue. */
export interface TaskFacts {
  responseExists: boolean;
  lastEvent: TaskEvent | null;
}

export async function readFacts(store: Store, task: Task): Promise<TaskFacts> {
  const [responseExists, events] = await Promise.all([
    // A database queue has no response.json to look at: ask the store.
    store.kind === "postgres" ? store.getResponse(task.id).then((r) => r !== null, () => false) : isRegularFile(queuePaths(store.root).responseFile(task.id)),
    store.readEvents(task.id).catch(() => [] as TaskEvent[]),
  ]);
  return { responseExists, lastEvent: events.at(-1) ?? null };
}

/**
 * What should happen next for this task, addressed to whoever has to act: the
 * Python tool's words first (orchestrator prompts match on them, role words
 * included), then what we add (the exact command, the owner, the reason).
 */
export function nextAction(task: Task, facts: TaskFacts, now: Date): string {
  const id = task.id;
  const owner = task.claim_owner ?? "unknown";
  switch (task.state) {
    case "queued":
      return `monitor: report task JSON and stop; reviewer: claim this task when ready (claim ${id} --owner <name>); orchestrator: run wait ${id}`;
    case "claimed":
      if (isLeaseExpired(task, now)) {
        return (
          "claim lease expired; safe to reclaim if the reviewer is stale or abandoned " +
          `(claimed by ${owner} but the lease expired at ${task.lease_expires_at ?? "(none)"}: another reviewer may claim ${id}, or ${owner} renews it); ` +
          `orchestrator: run wait ${id}`
        );
      }
      return (
        `claimed by ${owner}; wait for response or inspect that worker if no progress appears. ` +
        `Lease expires at ${task.lease_expires_at ?? "unknown"}; last_event=${facts.lastEvent?.type ?? "none"} ` +
        `(${owner} responds with respond ${id} --claim-token <token>, renew ${id} for more time); orchestrator: run wait ${id}`
      );
    case "completed":
      return facts.responseExists
        ? `orchestrator: run wait ${id} to write the configured response output (${task.response_path})`
        : `response file is missing from state; inspect task state before continuing (wait ${id} cannot return a body: resubmit the task)`;
    case "failed":
      return facts.responseExists
        ? `inspect failure response and decide whether to resubmit the task (orchestrator: run wait ${id} to collect it)`
        : `inspect failure response and decide whether to resubmit the task (failed without a response: ${task.failure_reason ?? "no reason recorded"})`;
    default:
      return `inspect task state (unknown state ${String(task.state)}: status ${id})`;
  }
}

/** Build the VIEW of one task. */
export function toView(task: Task, facts: TaskFacts, now: Date = new Date()): TaskView {
  const expired = isLeaseExpired(task, now);
  const view: TaskView = {
    ...task,
    response_exists: facts.responseExists,
    lease_expired: expired,
    missing_response: isTerminal(task) && !facts.responseExists,
    last_event: facts.lastEvent,
    last_event_age_seconds: facts.lastEvent ? secondsBetween(facts.lastEvent.created_at, now) : null,
    navigation: {
      workspace_root: task.workspace_root,
      worktree_path: task.worktree_path,
      expected_branch: task.expected_branch,
      request_path: task.request_path,
      response_path: task.response_path,
      review_scope: [task.request_path, ...(task.supporting_paths ?? []).map((item) => item.path)],
    },
    next_action: nextAction(task, facts, now),
  };
  if (task.state === "claimed") {
    view.claimed_age_seconds = secondsBetween(task.claimed_at, now) ?? 0;
    const expires = parseIso(task.lease_expires_at);
    view.seconds_until_lease_expiry = expires === null ? 0 : Math.max(0, Math.floor((expires.getTime() - now.getTime()) / 1000));
  }
  return view;
}

/** Read a task's facts and build its VIEW. */
export async function viewOf(store: Store, task: Task, now: Date = new Date()): Promise<TaskView> {
  return toView(task, await readFacts(store, task), now);
}

/** Views of many tasks, a bounded number of reads at a time. */
export async function viewsOf(store: Store, tasks: readonly Task[], now: Date = new Date()): Promise<TaskView[]> {
  const views: TaskView[] = [];
  const width = 32;
  for (let i = 0; i < tasks.length; i += width) {
    views.push(...(await Promise.all(tasks.slice(i, i + width).map((task) => viewOf(store, task, now)))));
  }
  return views;
}

/** What the summary, the queue's next_action and a text row need of a listed task. */
export type RowFacts = Pick<TaskView, "id" | "state" | "lane" | "claim_owner" | "lease_expired" | "missing_response">;

export function summarize(views: readonly RowFacts[]): QueueSummary {
  const summary: QueueSummary = { queued: 0, claimed: 0, completed: 0, failed: 0, stale_claims: 0, missing_response: 0 };
  for (const view of views) {
    if (view.state in summary) summary[view.state as "queued" | "claimed" | "completed" | "failed"] += 1;
    if (view.lease_expired) summary.stale_claims += 1;
    if (view.missing_response) summary.missing_response += 1;
  }
  return summary;
}

/** The Python tool's queue-level sentence (its priority order), which our details follow. */
function pythonQueueAction(summary: QueueSummary): string {
  if (summary.queued) return "reviewer should claim queued tasks; monitors should only report task JSON";
  if (summary.claimed) return "wait for reviewer responses; recover claimed tasks only if stale or abandoned";
  if (summary.failed) return "inspect failed tasks and decide whether to resubmit";
  if (summary.completed) return "orchestrator should ensure wait <task-id> wrote each configured response output";
  return "no tasks exist yet; orchestrator should submit a task when ready";
}

/** The queue-level next_action of `status --all`: the Python tool's sentence, then the details. */
export function queueNextAction(summary: QueueSummary, views: readonly RowFacts[], problems: readonly ScanProblem[]): string {
  const lanesOf = (pick: (v: RowFacts) => boolean): string => [...new Set(views.filter(pick).map((v) => v.lane))].sort().join(", ");
  const parts: string[] = [pythonQueueAction(summary)];
  if (problems.length > 0) parts.push(`${problems.length} unreadable task file(s): see problems and fix or remove them`);
  if (summary.stale_claims > 0) {
    parts.push(`${summary.stale_claims} claim(s) with an expired lease (lane ${lanesOf((v) => v.lease_expired)}): another reviewer may claim them`);
  }
  const waiting = summary.queued;
  if (waiting > 0) {
    parts.push(`${waiting} queued task(s) awaiting a reviewer (lane ${lanesOf((v) => v.state === "queued")}): run wait --lane <lane> and claim, or start a dispatcher`);
  }
  const live = summary.claimed - summary.stale_claims;
  if (live > 0) parts.push(`${live} task(s) claimed and in progress`);
  if (summary.missing_response > 0) parts.push(`${summary.missing_response} finished task(s) without response.json: resubmit them`);
  return parts.join("; ");
}

/**
 * The heartbeat line of `wait TASK_ID` (PROTOCOL.md §7). The queued line is
 * exact; the claimed line has the spec's keys in the spec's order. Booleans
 * print as true/false.
 */
export function heartbeatLine(view: TaskView): string {
  return oneLine(heartbeatText(view));
}

function heartbeatText(view: TaskView): string {
  const head = `agent-lanes wait: task_id=${view.id}; state=${view.state}`;
  if (view.state === "queued") return `${head}; awaiting reviewer claim`;
  const lastEvent = view.last_event ? `${view.last_event.type}@${view.last_event.created_at}` : "none";
  if (view.state === "claimed") {
    return (
      `${head}; claim_owner=${view.claim_owner ?? "none"}; claimed_age_seconds=${view.claimed_age_seconds ?? 0}; ` +
      `lease_expires_at=${view.lease_expires_at ?? "none"}; lease_expired=${view.lease_expired}; ` +
      `response_path=${view.response_path}; response_exists=${view.response_exists}; last_event=${lastEvent}; next_action=${view.next_action}`
    );
  }
  return `${head}; response_path=${view.response_path}; response_exists=${view.response_exists}; last_event=${lastEvent}; next_action=${view.next_action}`;
}

/** status TASK_ID in text mode: one key=value line per fact an operator looks at. */
export function viewLines(view: TaskView): string[] {
  const lines = [
    `task_id=${view.id}`,
    `state=${view.state}`,
    `lane=${view.lane}`,
    `correlation_id=${view.correlation_id}`,
    `created_at=${view.created_at}`,
  ];
  if (view.state === "claimed") {
    lines.push(
      `claim_owner=${view.claim_owner ?? "none"}`,
      `claimed_age_seconds=${view.claimed_age_seconds ?? 0}`,
      `lease_expires_at=${view.lease_expires_at ?? "none"}`,
      `lease_expired=${view.lease_expired}`,
    );
  }
  if (view.state === "failed") lines.push(`failure_reason=${view.failure_reason ?? ""}`);
  lines.push(
    `request_path=${view.request_path}`,
    `response_path=${view.response_path}`,
    `response_exists=${view.response_exists}`,
    `last_event=${view.last_event ? `${view.last_event.type}@${view.last_event.created_at}` : "none"}`,
    `next_action=${view.next_action}`,
  );
  return lines.map(oneLine);
}

/** One line per task for `status --all` in text mode. */
export function viewRow(view: RowFacts): string {
  const who = view.state === "claimed" ? ` owner=${view.claim_owner ?? "none"}${view.lease_expired ? " lease_expired" : ""}` : "";
  const missing = view.missing_response ? " missing_response" : "";
  return oneLine(`${view.id} state=${view.state} lane=${view.lane}${who}${missing}`);
}

// --- Finished tasks' views as text (the rendered cache, store/rendered-cache.ts) ---

/** Indentation of a task in the `tasks` list of list/status --all JSON (a key of the top-level object). */
const LIST_ITEM_PAD = "    ";
const AGE_KEY = `\n${LIST_ITEM_PAD}  "last_event_age_seconds": `;

/** A finished task's VIEW as list --json prints it, without the age's digits (they depend on the clock). */
function renderFinished(summary: TaskSummary): RenderedText {
  const lastEvent = summary.last_event;
  const since = lastEvent ? (parseIso(lastEvent.created_at)?.getTime() ?? null) : null;
  // Rendered at the last event's own time: its age is 0, the one digit taken out below.
  const view = toView(summary.task, { responseExists: summary.response_exists, lastEvent }, since === null ? new Date() : new Date(since));
  let text = toPythonJson(view, 2).replaceAll("\n", `\n${LIST_ITEM_PAD}`);
  let ageAt = -1;
  if (since !== null) {
    const at = text.indexOf(`${AGE_KEY}0`);
    if (at === -1 || at !== text.lastIndexOf(`${AGE_KEY}0`)) throw new Error(`cannot render the view of ${summary.task.id}: last_event_age_seconds not found once`);
    ageAt = at + AGE_KEY.length;
    text = text.slice(0, ageAt) + text.slice(ageAt + 1);
  }
  return { text: Buffer.from(text, "latin1"), ageAt, since };
}

/**
 * The renderer's tag names its cache file: made from the text it renders for
 * a few sample tasks, so any change to the view's layout or wording starts a
 * fresh cache by itself.
 */
function rendererTag(): string {
  const at = "2026-01-01T00:00:00Z";
  const task = {
    id: "20260101T000000000000Z-sample-000000000000", workspace_id: "w", correlation_id: "c", source_agent: "s", lane: "l",
    workspace_root: "/w", worktree_path: null, expected_branch: null, request_path: "/w/r.md", request_sha256: "0",
    supporting_paths: [{ path: "/w/s.md", sha256: "1" }], response_path: "/w/o.md", prompt: "", metadata: { k: "v" }, state: "completed",
    created_at: at, updated_at: at, claim_owner: "o", claim_token: "t", lease_expires_at: at, claimed_at: at, completed_at: at, failed_at: null, failure_reason: null,
  } as Task;
  const samples: TaskSummary[] = [
    { task, response_exists: true, last_event: { created_at: at, type: "response", message: "m", data: {} } },
    { task: { ...task, state: "failed", completed_at: null, failed_at: at, failure_reason: "why" }, response_exists: false, last_event: null },
  ];
  return `v1-${fnv1aHex(samples.map((s) => { const r = renderFinished(s); return `${r.ageAt}:${r.text.toString("latin1")}`; }).join("\n"))}`;
}

let renderer: FinishedRenderer | null = null;
export function finishedRenderer(): FinishedRenderer {
  renderer ??= { tag: rendererTag(), render: renderFinished };
  return renderer;
}

/** A listed task: its view (live, or read afresh), or a finished task's rendered text. */
export type ListedTask = { view: TaskView; rendered?: undefined; row: RowFacts } | { view?: undefined; rendered: RenderedRecord; row: RowFacts };

/** Views and rendered texts of a store's listing items. */
export function listedTasks(items: readonly ListingItem[], now: Date = new Date()): ListedTask[] {
  return items.map((item) => {
    if (item.summary) {
      const view = toView(item.summary.task, { responseExists: item.summary.response_exists, lastEvent: item.summary.last_event }, now);
      return { view, row: view };
    }
    const r = item.rendered;
    return { rendered: r, row: { id: r.id, state: item.state, lane: item.lane, claim_owner: null, lease_expired: false, missing_response: !r.response_exists } };
  });
}

/** The JSON text of a listed task inside the `tasks` list (indented for it), as parts to write. */
export function listedJson(item: ListedTask, now: Date, pad: string): Array<string | Uint8Array> {
  if (item.view) return [toPythonJson(item.view, 2).replaceAll("\n", `\n${pad}`)];
  if (pad !== LIST_ITEM_PAD) throw new Error(`a rendered view is indented for ${JSON.stringify(LIST_ITEM_PAD)}, not ${JSON.stringify(pad)}`);
  const r = item.rendered;
  if (r.ageAt < 0 || r.since === null) return [r.text];
  const age = Math.max(0, Math.floor((now.getTime() - r.since) / 1000));
  return [r.text.subarray(0, r.ageAt), String(age), r.text.subarray(r.ageAt)];
}

export { oneLine };
