// What `status`, `list` and the heartbeats of `wait` show about a task: the
// task itself plus facts an agent would otherwise have to work out (is the
// lease over, where is the answer, what should happen next), and the queue
// summary of `status --all`. Pure functions over the store's reads.

import { promises as fs } from "node:fs";
import { oneLine } from "./context.js";
import { leaseExpired as isLeaseExpired, isTerminal } from "../store/context.js";
import { queuePaths } from "../store/layout.js";
import { parseIso } from "../store/time.js";
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

async function fileExists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** The facts a view is made of, read from the queue. */
export interface TaskFacts {
  responseExists: boolean;
  lastEvent: TaskEvent | null;
}

export async function readFacts(store: Store, task: Task): Promise<TaskFacts> {
  const [responseExists, events] = await Promise.all([
    // A database queue has no response.json to look at: ask the store.
    store.kind === "postgres" ? store.getResponse(task.id).then((r) => r !== null, () => false) : fileExists(queuePaths(store.root).responseFile(task.id)),
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

/** Views of tasks whose facts the store already has (store.summaries). */
export function viewsOfSummaries(summaries: readonly TaskSummary[], now: Date = new Date()): TaskView[] {
  return summaries.map((s) => toView(s.task, { responseExists: s.response_exists, lastEvent: s.last_event }, now));
}

export function summarize(views: readonly TaskView[]): QueueSummary {
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
export function queueNextAction(summary: QueueSummary, views: readonly TaskView[], problems: readonly ScanProblem[]): string {
  const lanesOf = (pick: (v: TaskView) => boolean): string => [...new Set(views.filter(pick).map((v) => v.lane))].sort().join(", ");
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
export function viewRow(view: TaskView): string {
  const who = view.state === "claimed" ? ` owner=${view.claim_owner ?? "none"}${view.lease_expired ? " lease_expired" : ""}` : "";
  const missing = view.missing_response ? " missing_response" : "";
  return oneLine(`${view.id} state=${view.state} lane=${view.lane}${who}${missing}`);
}

export { oneLine };
