// A dispatcher event (task events carry the answer, for verdicts and reasons)
// as the notification people read: a title and a line or two.

import type { DispatcherEvent } from "../supervisor/observer.js";
import type { TaskResponse } from "../store/types.js";
import type { Notification, NotifyEventType } from "./types.js";

/** The first non-blank line, cut to `max`; looks at the text's head only (an answer may be megabytes). */
const firstLine = (text: string | null | undefined, max = 200): string =>
  (text ?? "").slice(0, 16 * 1024).split("\n").find((l) => l.trim() !== "")?.trim().slice(0, max) ?? "";

export function toNotification(event: DispatcherEvent, at: string): Notification {
  switch (event.type) {
    case "task.completed":
    case "task.failed": {
      const { task } = event;
      const response: TaskResponse | null = event.response ?? null;
      const done = event.type === "task.completed";
      const verdict = response?.verdict ?? null;
      const counts = verdict ? ` (${response?.blocking_count ?? 0} blocking, ${response?.nonblocking_count ?? 0} non-blocking)` : "";
      const reason = firstLine(response?.body ?? task.failure_reason) || "no reason recorded";
      return {
        event: event.type,
        key: `${event.type}:${task.id}`,
        title: done ? `agent-lanes: ${task.correlation_id} completed${verdict ? `: ${verdict}` : ""}` : `agent-lanes: ${task.correlation_id} failed`,
        text: done
          ? `Task ${task.id} on lane ${task.lane} completed${verdict ? ` with verdict ${verdict}${counts}` : ""}. Answer: ${task.response_path}`
          : `Task ${task.id} on lane ${task.lane} failed: ${reason}`,
        at,
        task_id: task.id,
        lane: task.lane,
        correlation_id: task.correlation_id,
        verdict,
        blocking_count: response?.blocking_count ?? 0,
        nonblocking_count: response?.nonblocking_count ?? 0,
        owner: event.owner,
      };
    }
    case "vendor.paused":
      return {
        event: "vendor.paused",
        key: `vendor.paused:${event.vendor}:${event.until}`,
        title: `agent-lanes: ${event.vendor} paused (${event.kind})`,
        text: `${event.vendor} dispatchers stop claiming until ${event.until}: ${firstLine(event.reason) || event.kind}`,
        at,
        vendor: event.vendor,
        until: event.until,
        kind: event.kind,
        owner: event.owner,
      };
    case "dispatcher.stopped":
      return {
        event: "dispatcher.stopped",
        key: `dispatcher.stopped:${event.owner}:${at}`,
        title: `agent-lanes: dispatcher ${event.owner} stopped unexpectedly`,
        text: `The ${event.vendor} dispatcher ${event.owner} stopped (exit ${event.exitCode}): ${firstLine(event.reason)}`,
        at,
        vendor: event.vendor,
        owner: event.owner,
      };
  }
}

const LABELS: Record<NotifyEventType, string> = {
  "task.completed": "completed",
  "task.failed": "failed",
  "vendor.paused": "vendor paused",
  "dispatcher.stopped": "dispatcher stopped",
};

/** One notification for what the rate limit held back. */
export function digestOf(held: readonly Notification[], at: string): Notification {
  const counts: Partial<Record<NotifyEventType, number>> = {};
  for (const n of held) if (n.event !== "digest") counts[n.event] = (counts[n.event] ?? 0) + 1;
  const parts = (Object.entries(counts) as Array<[NotifyEventType, number]>).map(([event, count]) => `${count} ${LABELS[event]}`);
  const lanes = [...new Set(held.map((n) => n.lane).filter((l): l is string => Boolean(l)))].sort();
  const failed = held.filter((n) => n.event === "task.failed").slice(0, 5).map((n) => n.task_id);
  return {
    event: "digest",
    key: `digest:${at}:${held.length}`,
    title: `agent-lanes: ${held.length} more events`,
    text: `${parts.join(", ")}${lanes.length > 0 ? ` (lanes: ${lanes.join(", ")})` : ""}${failed.length > 0 ? `. Failed: ${failed.join(", ")}${counts["task.failed"] && counts["task.failed"] > 5 ? ", ..." : ""}` : ""}`,
    at,
    counts,
  };
}
