// The board of `status --watch`: lanes × states with counts, the running
// tasks, vendor pauses — as lines that fit `width` columns. Pure: the watch
// loop (watch.ts) reads the queue and draws.

import { leaseExpired } from "../store/context.js";
import { parseIso } from "../store/time.js";
import type { Task } from "../store/types.js";

const STATES = ["queued", "claimed", "completed", "failed"] as const;

export interface BoardPause {
  vendor: string;
  description: string;
}

export interface BoardInput {
  queueRoot: string;
  tasks: readonly Task[];
  pauses: readonly BoardPause[];
  problems: number;
  now: Date;
  /** Terminal columns. */
  width: number;
  /** Terminal rows: the running list is cut to fit. */
  height: number;
}

/** `1h02m`, `3m05s`, `42s`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h${String(m % 60).padStart(2, "0")}m` : `${Math.floor(h / 24)}d${String(h % 24).padStart(2, "0")}h`;
}

/** Cut a line to `width` columns (… marks the cut). */
export function fit(line: string, width: number): string {
  if (width <= 0) return "";
  return line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}…`;
}

export function renderBoard(input: BoardInput): string[] {
  const { tasks, now, width } = input;
  const lanes = [...new Set(tasks.map((t) => t.lane))].sort();
  const counts = new Map<string, Record<string, number>>();
  for (const lane of lanes) counts.set(lane, { queued: 0, claimed: 0, completed: 0, failed: 0 });
  for (const t of tasks) {
    const row = counts.get(t.lane) as Record<string, number>;
    if (t.state in row) row[t.state] = (row[t.state] ?? 0) + 1;
  }
  const laneWidth = Math.max(4, ...lanes.map((l) => l.length));
  const cell = (text: string | number): string => String(text).padStart(10);
  const lines: string[] = [];
  const stamp = now.toISOString().replace(/\.\d+Z$/, "Z");
  lines.push(`agent-lanes  ${stamp}  ${input.queueRoot}`);
  lines.push("");
  lines.push(`${"lane".padEnd(laneWidth)}${STATES.map(cell).join("")}`);
  if (lanes.length === 0) lines.push("(no tasks yet)");
  const total = { queued: 0, claimed: 0, completed: 0, failed: 0 } as Record<string, number>;
  for (const lane of lanes) {
    const row = counts.get(lane) as Record<string, number>;
    for (const s of STATES) total[s] = (total[s] ?? 0) + (row[s] ?? 0);
    lines.push(`${lane.padEnd(laneWidth)}${STATES.map((s) => cell(row[s] ?? 0)).join("")}`);
  }
  if (lanes.length > 1) lines.push(`${"all".padEnd(laneWidth)}${STATES.map((s) => cell(total[s] ?? 0)).join("")}`);

  const running = tasks.filter((t) => t.state === "claimed");
  lines.push("");
  lines.push(`running (${running.length})`);
  const footer: string[] = [];
  for (const p of input.pauses) footer.push(`paused: ${p.description}`);
  if (input.problems > 0) footer.push(`${input.problems} unreadable task file(s): run status --all`);
  footer.push("q or Ctrl-C to quit");
  const room = Math.max(1, input.height - lines.length - footer.length - 1);
  const shown = running.slice(0, running.length > room ? room - 1 : room);
  for (const t of shown) {
    const since = parseIso(t.claimed_at);
    const expires = parseIso(t.lease_expires_at);
    const elapsed = since ? duration(now.getTime() - since.getTime()) : "?";
    const lease = leaseExpired(t, now) ? "lease EXPIRED" : expires ? `lease ${duration(expires.getTime() - now.getTime())}` : "no lease";
    lines.push(`  ${elapsed.padStart(6)}  ${t.lane}  ${t.claim_owner ?? "?"}  ${lease}  ${t.correlation_id}  ${t.id}`);
  }
  if (shown.length < running.length) lines.push(`  … ${running.length - shown.length} more`);
  lines.push("");
  lines.push(...footer);
  return lines.map((line) => fit(line, width));
}
