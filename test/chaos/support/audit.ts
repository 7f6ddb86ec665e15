// Reads a whole queue folder the strict way, after a chaos or interop run:
// every task.json, response.json and index file must parse, every events line
// too; for each task, its state, events, claim owners and response are
// gathered so a suite can assert "completed exactly once", "never claimed
// twice" and "the right body in the right task".

import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { toJsonFile } from "../../../src/store/json.js";
import { statFields } from "../../helpers/proc.js";

export interface AuditedEvent {
  type: string;
  owner: string | null;
}

export interface AuditedTask {
  id: string;
  state: string;
  lane: string;
  correlationId: string;
  /** The MARKER:<x> of the prompt (our test tasks carry one), else null. */
  marker: string | null;
  events: AuditedEvent[];
  response: { status: string; body: string } | null;
  /** Temp files left beside the task's files (a writer killed between write and rename). */
  leftoverTemps: string[];
}

export interface QueueAudit {
  tasks: AuditedTask[];
  /** Files that did not parse, lines that did not parse, files not in Python's JSON style. */
  problems: string[];
  /** JSON files read and checked. */
  filesChecked: number;
}

export interface AuditOptions {
  /** Also require Python's exact JSON style (sorted keys, indent 2, newline) of every JSON file. */
  pythonStyle?: boolean;
}

async function readJson(file: string, audit: QueueAudit, options: AuditOptions): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  audit.filesChecked += 1;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    audit.problems.push(`${file} does not parse (${(error as Error).message}; ${text.length} bytes)`);
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    audit.problems.push(`${file} is not a JSON object`);
    return null;
  }
  if (options.pythonStyle && text !== toJsonFile(value)) audit.problems.push(`${file} is not in Python's JSON style`);
  return value as Record<string, unknown>;
}

/** Audit every task folder and index file of `queue`. */
export async function auditQueue(queue: string, options: AuditOptions = {}): Promise<QueueAudit> {
  const audit: QueueAudit = { tasks: [], problems: [], filesChecked: 0 };
  const tasksDir = path.join(queue, "tasks");
  const ids = (await readdir(tasksDir).catch(() => [] as string[])).filter((name) => !name.startsWith(".")).sort();
  for (const id of ids) {
    const dir = path.join(tasksDir, id);
    const names = await readdir(dir);
    const task = await readJson(path.join(dir, "task.json"), audit, options);
    if (!task) {
      audit.problems.push(`${dir} has no readable task.json`);
      continue;
    }
    const response = await readJson(path.join(dir, "response.json"), audit, options);
    const events: AuditedEvent[] = [];
    const eventsText = await readFile(path.join(dir, "events.jsonl"), "utf8").catch(() => "");
    for (const [index, line] of eventsText.split("\n").entries()) {
      if (line.trim() === "") continue;
      try {
        const event = JSON.parse(line) as { type?: unknown; data?: { owner?: unknown } };
        events.push({ type: String(event.type), owner: typeof event.data?.owner === "string" ? event.data.owner : null });
      } catch {
        audit.problems.push(`${dir}/events.jsonl line ${index + 1} does not parse: ${JSON.stringify(line.slice(0, 80))}`);
      }
    }
    const prompt = typeof task.prompt === "string" ? task.prompt : "";
    audit.tasks.push({
      id,
      state: String(task.state),
      lane: String(task.lane),
      correlationId: String(task.correlation_id),
      marker: /MARKER:(\S+)/.exec(prompt)?.[1] ?? null,
      events,
      response: response ? { status: String(response.status), body: String(response.body) } : null,
      leftoverTemps: names.filter((name) => name.startsWith(".") && name.endsWith(".tmp")),
    });
  }
  const indexDir = path.join(queue, "indexes", "correlations");
  for (const name of await readdir(indexDir).catch(() => [] as string[])) {
    if (name.endsWith(".json")) await readJson(path.join(indexDir, name), audit, options);
  }
  return audit;
}

/** The owners of a task's `claimed` events, in order. */
export function claimOwners(task: AuditedTask): string[] {
  return task.events.filter((e) => e.type === "claimed").map((e) => e.owner ?? "?");
}

/**
 * A claim taken while another was live: a `claimed` event whose previous
 * claim was neither released nor answered. Only meaningful when no lease can
 * have expired (the interop suite's leases outlive the run).
 */
export function overlappingClaims(task: AuditedTask): number {
  let live = false;
  let overlaps = 0;
  for (const event of task.events) {
    if (event.type === "claimed") {
      if (live) overlaps += 1;
      live = true;
    } else if (event.type === "released" || event.type === "response") {
      live = false;
    }
  }
  return overlaps;
}

export interface RecordedProcess {
  pid: number;
  role: string;
  marker: string;
  /** For a survivor: what it was doing (describeProcess), and whether it ended later on its own. */
  detail?: string;
}

/**
 * What a live process is doing, from /proc (Linux): state, parent, group,
 * session, the kernel function it sleeps in, and where its file descriptors
 * lead — enough to tell a process that is slow from one that waits forever.
 */
export function describeProcess(pid: number): string {
  const read = (file: string): string => {
    try {
      return readFileSync(file, "utf8").trim();
    } catch {
      return "?";
    }
  };
  const stat = read(`/proc/${pid}/stat`);
  const [state, ppid, pgrp, session] = statFields(stat);
  let fds = "?";
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return `${fd}->${readlinkSync(`/proc/${pid}/fd/${fd}`)}`;
        } catch {
          return `${fd}->?`;
        }
      })
      .join(" ");
  } catch {
    // gone, or not ours to read
  }
  const signals = read(`/proc/${pid}/status`).split("\n").filter((line) => /^Sig(Blk|Ign)/.test(line)).join(" ").replace(/\s+/g, " ");
  // The kernel stack (readable as root) says where an uninterruptible sleep (state D) waits.
  const stack = state === "D" ? ` stack [${read(`/proc/${pid}/stack`).split("\n").slice(0, 8).map((frame) => frame.replace(/^\[<[0-9a-f]+>\] /, "")).join(" < ")}]` : "";
  return `state ${state} ppid ${ppid} pgrp ${pgrp} session ${session} wchan ${read(`/proc/${pid}/wchan`)}${stack} fds [${fds}] ${signals}`;
}

/**
 * Processes of the runs under `pidDir` (searched recursively) that are still
 * alive: those recorded by test agents (test/fixtures/chaos/agent.mjs) — the
 * agents, their grandchildren, their setsid descendants, their group leaders
 * — and, on Linux, any other process whose environment carries a
 * CHAOS_PID_DIR under `pidDir` (the run guard's watcher, a process killed
 * before it could record itself). Zombies count as gone.
 */
export async function livePids(pidDir: string): Promise<RecordedProcess[]> {
  const seen = new Map<number, RecordedProcess>();
  const names = (await readdir(pidDir, { recursive: true }).catch(() => [] as string[])).filter((n) => n.endsWith(".json"));
  for (const name of names) {
    let record: { pid: number; role: string; marker: string; pgid?: number | null };
    try {
      record = JSON.parse(await readFile(path.join(pidDir, name), "utf8")) as typeof record;
    } catch {
      // Written by an agent killed mid-write: its pid is the file name.
      record = { pid: Number.parseInt(path.basename(name), 10), role: "unknown", marker: "unknown" };
      if (!Number.isInteger(record.pid)) continue;
    }
    seen.set(record.pid, { pid: record.pid, role: record.role, marker: record.marker });
    if (typeof record.pgid === "number" && record.pgid > 1 && !seen.has(record.pgid)) {
      seen.set(record.pgid, { pid: record.pgid, role: "group-leader", marker: record.marker });
    }
  }
  if (process.platform === "linux") {
    for (const name of await readdir("/proc").catch(() => [] as string[])) {
      const pid = Number(name);
      if (Number.isInteger(pid) && pid !== process.pid && !seen.has(pid)) seen.set(pid, { pid, role: `unrecorded (${commandOf(pid)})`, marker: "unknown" });
    }
  }
  // A pid may have been reused since: only a process still carrying our
  // CHAOS_PID_DIR (agents, grandchildren and guards inherit it) counts.
  return [...seen.values()].filter((r) => carriesPidDir(r.pid, pidDir) && isAlive(r.pid));
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0").join(" ").trim().slice(0, 60);
  } catch {
    return "?";
  }
}

function carriesPidDir(pid: number, pidDir: string): boolean {
  if (process.platform !== "linux") return true;
  try {
    const environ = readFileSync(`/proc/${pid}/environ`, "latin1");
    return environ.split("\0").some((entry) => {
      if (!entry.startsWith("CHAOS_PID_DIR=")) return false;
      const value = entry.slice("CHAOS_PID_DIR=".length);
      return value === pidDir || value.startsWith(`${pidDir}/`);
    });
  } catch {
    return false; // gone meanwhile, or not ours to read
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return statFields(stat)[0] !== "Z";
  } catch {
    return process.platform !== "linux";
  }
}

/**
 * Every live process carrying a CHAOS_PID_DIR under `pidDir` (Linux), one
 * line each: pid, parent, process group, session, state and command line.
 * Taken just before a kill, it shows which step of a run the kill cut short.
 */
export function processesOf(pidDir: string): string[] {
  if (process.platform !== "linux") return [];
  const lines: string[] = [];
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || !carriesPidDir(pid, pidDir)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const [state, ppid, pgrp, session] = statFields(stat);
      lines.push(`${pid} ppid ${ppid} pgrp ${pgrp} session ${session} ${state} ${commandOf(pid).replace(/\s+/g, " ").slice(0, 50)}`);
    } catch {
      // gone meanwhile
    }
  }
  return lines;
}
