// The dispatcher's options: every default in one object (units in the
// names), eager validation with one message shape, and the timings derived
// from them. Impossible combinations are refused at start-up, not discovered
// halfway through a task.

import os from "node:os";
import { PAUSE_DEFAULTS } from "./pauses.js";

const SECOND_MS = 1000;
const MIB = 1024 * 1024;

/** Defaults of every dispatcher option. */
export const DISPATCH_DEFAULTS = {
  /** Lanes served. @default ["default"] */
  lanes: ["default"] as readonly string[],
  /** Tasks run at once. @default 1 */
  concurrency: 1,
  /** Lease taken per claim, renewed at a third of it while the child runs. @default 900 */
  leaseSeconds: 900,
  /** Shortest lease accepted: renewals every lease/3 must fit a slow lock. @default 3 */
  minLeaseSeconds: 3,
  /** Longest run of one child. @default 3600 */
  taskTimeoutSeconds: 3600,
  /** Longest silence (no stdout or stderr) of one child; never more than the task timeout. @default 900 */
  idleTimeoutSeconds: 900,
  /** Between SIGTERM and SIGKILL when a child is stopped. @default 5 */
  killGraceSeconds: 5,
  /** Captured per stream (stdout, stderr); the rest is read and dropped. @default 10 MiB */
  maxOutputBytes: 10 * MIB,
  /** On SIGINT/SIGTERM, how long running children may finish before they are killed. @default 30 */
  graceSeconds: 30,
  /** Runs of one task (its `claimed` events) before a transient failure fails it. @default 3 */
  maxAttempts: 3,
  /** Safety poll: a full look at the queue even when no file event came. @default 5 */
  pollSeconds: 5,
  /** A status line this often while busy. @default 300 */
  statusEverySeconds: 300,
  /** Added after a vendor's announced reset before claiming again. @default 60 */
  pauseJitterSeconds: PAUSE_DEFAULTS.resetJitterSeconds,
  /** pino level. @default "info" */
  logLevel: "info",
  /** "json", "pretty", or "auto" (pretty on a TTY). @default "auto" */
  logFormat: "auto",
} as const;

export type LogFormat = "json" | "pretty" | "auto";
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What a caller may set; numbers may come as strings (CLI flags). */
export interface DispatcherOptions {
  /** The vendor served: adapter name, pause file name, and the default owner's prefix. Required. */
  vendor: string;
  /** The queue folder; optional when a store is injected. */
  queueRoot?: string;
  lanes?: readonly string[];
  concurrency?: number | string;
  leaseSeconds?: number | string;
  /** @default `<vendor>@<hostname>:<pid>` */
  owner?: string;
  taskTimeoutSeconds?: number | string;
  /** @default min(900, taskTimeoutSeconds) */
  idleTimeoutSeconds?: number | string;
  killGraceSeconds?: number | string;
  maxOutputBytes?: number | string;
  graceSeconds?: number | string;
  maxAttempts?: number | string;
  pollSeconds?: number | string;
  statusEverySeconds?: number | string;
  pauseJitterSeconds?: number | string;
  /** Daily cost ceiling in USD (UTC day); none when absent. */
  dailyCostUsd?: number | string | null;
  logLevel?: string;
  logFormat?: string;
  /** lane -> WIP limit (handoff.yaml lanes.<name>.max_running), honoured by every dispatcher on the queue. */
  laneLimits?: Readonly<Record<string, number>>;
  /** "auto": every task of a git repository runs in a worktree of its own; "off" only for tasks with metadata worktree: new. @default "off" */
  worktree?: string;
}

/** Options after validation, with derived timings in ms. */
export interface ResolvedOptions {
  vendor: string;
  queueRoot: string | null;
  lanes: string[];
  concurrency: number;
  leaseSeconds: number;
  owner: string;
  taskTimeoutSeconds: number;
  idleTimeoutSeconds: number;
  killGraceSeconds: number;
  maxOutputBytes: number;
  graceSeconds: number;
  maxAttempts: number;
  pollSeconds: number;
  statusEverySeconds: number;
  pauseJitterSeconds: number;
  dailyCostUsd: number | null;
  logLevel: LogLevel;
  logFormat: LogFormat;
  laneLimits: Readonly<Record<string, number>>;
  worktree: "auto" | "off";
  /** A third of the lease. */
  renewEveryMs: number;
  /** After a failed renewal that may heal (I/O, lock trouble). */
  renewRetryMs: number;
  leaseMs: number;
  taskTimeoutMs: number;
  idleTimeoutMs: number;
  killGraceMs: number;
  graceMs: number;
  pollMs: number;
  statusEveryMs: number;
}

/** A bad option; the message names the option and its flag. */
export class OptionsError extends TypeError {
  override name = "OptionsError";
}

const FLAGS: Record<string, string> = {
  vendor: "--vendor",
  queueRoot: "--store",
  lanes: "--lane",
  concurrency: "--concurrency",
  leaseSeconds: "--lease-seconds",
  owner: "--owner",
  taskTimeoutSeconds: "--task-timeout",
  idleTimeoutSeconds: "--idle-timeout",
  killGraceSeconds: "--kill-grace-seconds",
  maxOutputBytes: "--max-output-bytes",
  graceSeconds: "--grace-seconds",
  maxAttempts: "--max-attempts",
  pollSeconds: "--poll-seconds",
  statusEverySeconds: "--status-seconds",
  pauseJitterSeconds: "pauseJitterSeconds",
  dailyCostUsd: "--daily-cost-usd",
  logLevel: "--log-level",
  logFormat: "--log-format",
  laneLimits: "lanes.<name>.max_running",
  worktree: "--worktree",
};

function describe(value: unknown): string {
  return `\`${typeof value === "string" ? value : JSON.stringify(value) ?? String(value)}\` (${Array.isArray(value) ? "array" : typeof value})`;
}

function fail(key: string, expected: string, value: unknown): never {
  const flag = FLAGS[key] ?? key;
  const name = flag.startsWith("--") ? `\`${flag}\`` : `\`${key}\``;
  throw new OptionsError(`Expected ${name} to be ${expected}, got ${describe(value)}`);
}

function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "") return Number(value);
  return Number.NaN;
}

function number(key: string, value: unknown, fallback: number, check: { min: number; integer?: boolean; exclusiveMin?: boolean }): number {
  if (value === undefined || value === null) return fallback;
  const n = toNumber(value);
  const below = check.exclusiveMin ? n <= check.min : n < check.min;
  if (!Number.isFinite(n) || below || (check.integer && !Number.isInteger(n))) {
    fail(key, `${check.integer ? "an integer" : "a number"} ${check.exclusiveMin ? ">" : ">="} ${check.min}`, value);
  }
  return n;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

/** The default owner: `<vendor>@<hostname>:<pid>`, unique per process on a host. */
export function defaultOwner(vendor: string): string {
  return `${vendor}@${os.hostname()}:${process.pid}`;
}

/** Validate and complete options; throws OptionsError naming the first bad one. */
export function resolveOptions(input: DispatcherOptions): ResolvedOptions {
  const d = DISPATCH_DEFAULTS;
  const vendor = input.vendor;
  if (typeof vendor !== "string" || !NAME.test(vendor) || vendor.includes("..")) {
    fail("vendor", "a vendor name (letters, digits, '.', '_' or '-'), e.g. claude", vendor);
  }
  const lanes = input.lanes === undefined || input.lanes.length === 0 ? [...d.lanes] : [...new Set(input.lanes)];
  for (const lane of lanes) {
    if (typeof lane !== "string" || lane.trim() === "") fail("lanes", "a non-empty lane name", lane);
  }
  const owner = input.owner ?? defaultOwner(vendor);
  if (typeof owner !== "string" || owner.trim() === "") fail("owner", "a non-empty string", owner);

  const concurrency = number("concurrency", input.concurrency, d.concurrency, { min: 1, integer: true });
  const leaseSeconds = number("leaseSeconds", input.leaseSeconds, d.leaseSeconds, { min: d.minLeaseSeconds });
  const taskTimeoutSeconds = number("taskTimeoutSeconds", input.taskTimeoutSeconds, d.taskTimeoutSeconds, { min: 0, exclusiveMin: true });
  const idleGiven = input.idleTimeoutSeconds !== undefined && input.idleTimeoutSeconds !== null;
  const idleTimeoutSeconds = number("idleTimeoutSeconds", input.idleTimeoutSeconds, Math.min(d.idleTimeoutSeconds, taskTimeoutSeconds), {
    min: 0,
    exclusiveMin: true,
  });
  if (idleGiven && idleTimeoutSeconds > taskTimeoutSeconds) {
    fail("idleTimeoutSeconds", `at most \`--task-timeout\` (${taskTimeoutSeconds} s): a child cannot be silent longer than it may run`, input.idleTimeoutSeconds);
  }
  const killGraceSeconds = number("killGraceSeconds", input.killGraceSeconds, d.killGraceSeconds, { min: 0 });
  const maxOutputBytes = number("maxOutputBytes", input.maxOutputBytes, d.maxOutputBytes, { min: 1024, integer: true });
  const graceSeconds = number("graceSeconds", input.graceSeconds, d.graceSeconds, { min: 0 });
  const maxAttempts = number("maxAttempts", input.maxAttempts, d.maxAttempts, { min: 1, integer: true });
  const pollSeconds = number("pollSeconds", input.pollSeconds, d.pollSeconds, { min: 0.05 });
  const statusEverySeconds = number("statusEverySeconds", input.statusEverySeconds, d.statusEverySeconds, { min: 1 });
  const pauseJitterSeconds = number("pauseJitterSeconds", input.pauseJitterSeconds, d.pauseJitterSeconds, { min: 0 });
  const dailyCostUsd =
    input.dailyCostUsd === undefined || input.dailyCostUsd === null ? null : number("dailyCostUsd", input.dailyCostUsd, 0, { min: 0, exclusiveMin: true });

  const logLevel = (input.logLevel ?? d.logLevel) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) fail("logLevel", `one of ${LOG_LEVELS.join(", ")}`, input.logLevel);
  const logFormat = (input.logFormat ?? d.logFormat) as LogFormat;
  if (!["json", "pretty", "auto"].includes(logFormat)) fail("logFormat", "json or pretty", input.logFormat);

  const laneLimits: Record<string, number> = {};
  for (const [lane, limit] of Object.entries(input.laneLimits ?? {})) {
    laneLimits[lane] = number("laneLimits", limit, 1, { min: 1, integer: true });
  }
  const worktree = input.worktree ?? "off";
  if (worktree !== "auto" && worktree !== "off") fail("worktree", "auto or off", input.worktree);

  const leaseMs = leaseSeconds * SECOND_MS;
  const renewEveryMs = Math.floor(leaseMs / 3);
  return {
    vendor,
    queueRoot: input.queueRoot ?? null,
    lanes,
    concurrency,
    leaseSeconds,
    owner,
    taskTimeoutSeconds,
    idleTimeoutSeconds,
    killGraceSeconds,
    maxOutputBytes,
    graceSeconds,
    maxAttempts,
    pollSeconds,
    statusEverySeconds,
    pauseJitterSeconds,
    dailyCostUsd,
    logLevel,
    logFormat,
    laneLimits,
    worktree,
    renewEveryMs,
    // Several tries fit in the third of the lease that is left after a missed renewal.
    renewRetryMs: Math.max(100, Math.min(5 * SECOND_MS, Math.floor(renewEveryMs / 4))),
    leaseMs,
    taskTimeoutMs: taskTimeoutSeconds * SECOND_MS,
    idleTimeoutMs: idleTimeoutSeconds * SECOND_MS,
    killGraceMs: killGraceSeconds * SECOND_MS,
    graceMs: graceSeconds * SECOND_MS,
    pollMs: pollSeconds * SECOND_MS,
    statusEveryMs: statusEverySeconds * SECOND_MS,
  };
}
