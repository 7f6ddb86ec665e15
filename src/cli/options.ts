// Defaults and value parsers shared by the CLI's commands. Every numeric flag
// is checked here with one message shape ("--timeout must be a number >= 0,
// got 'abc'") and the parsers throw CliError, which commander lets through to
// main's one-line error printing.

import { parseDecimal } from "../store/input-shape.js";
import { DURATION_RULE, parseDuration } from "../store/duration.js";
import { TASK_STATES, type TaskState } from "../store/types.js";
import { CliError } from "./errors.js";

/** Defaults of the CLI's flags (PROTOCOL.md §5, §7). */
export const CLI_DEFAULTS = {
  /** Long-poll timeout of wait / next / watch. @default 21600 */
  timeoutSeconds: 6 * 60 * 60,
  /** Interval of the heartbeat lines on stderr. @default 30 */
  heartbeatSeconds: 30,
  /** Lease of claim and renew. @default 7200 */
  leaseSeconds: 2 * 60 * 60,
  /** Safety poll of long-polls when no file-system event arrives. @default 2000 */
  safetyPollMs: 2000,
  /** @default "worker" */
  owner: "worker",
  /** @default "worker" */
  reviewer: "worker",
  /** @default "note" */
  eventType: "note",
  /** --lock-timeout: writers give up waiting for the queue lock after this long. @default 60 */
  lockTimeoutSeconds: 60,
} as const;

function fail(flag: string, rule: string, raw: string): never {
  throw new CliError(`${flag} must be ${rule}, got '${raw}'`);
}

/** Strictly decimal (`12`, `0.5`): `0x10`, `1e3`, `+5`, `Infinity` and blanks are refused, not read as numbers. */
function parseNumber(flag: string, rule: string, raw: string): number {
  const value = parseDecimal(raw);
  if (value === null) fail(flag, rule, raw);
  return value;
}

/**
 * Safety-poll interval of long-polls: AGENT_LANES_POLL_MS when set (tests use
 * a huge value to prove that file-system events alone wake a waiter), else the default.
 */
export function safetyPollMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.AGENT_LANES_POLL_MS;
  const value = raw === undefined || raw.trim() === "" ? Number.NaN : Number(raw);
  return Number.isFinite(value) && value > 0 ? value : CLI_DEFAULTS.safetyPollMs;
}

/** A parser for a number of seconds > 0 (fractions allowed). */
export function positiveSeconds(flag: string): (raw: string) => number {
  return (raw) => {
    const value = parseNumber(flag, "a number > 0", raw);
    if (value <= 0) fail(flag, "a number > 0", raw);
    return value;
  };
}

/** A parser for a number of seconds >= 0 (fractions allowed). */
export function nonNegativeSeconds(flag: string): (raw: string) => number {
  return (raw) => {
    const value = parseNumber(flag, "a number >= 0", raw);
    if (value < 0) fail(flag, "a number >= 0", raw);
    return value;
  };
}

/** A parser for a whole number >= 0. */
export function count(flag: string): (raw: string) => number {
  return (raw) => {
    const value = parseNumber(flag, "a whole number >= 0", raw);
    if (value < 0 || !Number.isInteger(value)) fail(flag, "a whole number >= 0", raw);
    return value;
  };
}

/** A parser that accepts one of `choices`. */
export function oneOf<T extends string>(flag: string, choices: readonly T[]): (raw: string) => T {
  return (raw) => {
    if ((choices as readonly string[]).includes(raw)) return raw as T;
    throw new CliError(`${flag} must be one of ${choices.join(", ")}, got '${raw}'`);
  };
}

/** Collector for repeatable flags (`--metadata k=v --metadata k2=v2`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The "Example(s):" block appended to a command's --help. */
export function examples(...lines: string[]): string {
  return `\nExample${lines.length > 1 ? "s" : ""}:\n${lines.map((line) => `  $ ${line}`).join("\n")}\n`;
}

/** A parser for a duration (`30d`, `24h`, `45m`, `90s`, `2w`), in milliseconds. */
export function duration(flag: string): (raw: string) => number {
  return (raw) => {
    const ms = parseDuration(raw);
    if (ms === null) fail(flag, DURATION_RULE, raw);
    return ms;
  };
}

/** A parser for a point in time: an ISO-8601 date/time, or a duration meaning that long ago. */
export function sinceTime(flag: string, now: () => Date = () => new Date()): (raw: string) => Date {
  return (raw) => {
    const ms = parseDuration(raw);
    if (ms !== null) return new Date(now().getTime() - ms);
    const date = /^\d{4}-\d{2}-\d{2}/.test(raw.trim()) ? new Date(raw.trim()) : new Date(Number.NaN);
    if (Number.isNaN(date.getTime())) fail(flag, `an ISO date/time (2026-11-01, 2026-11-01T12:00:00Z) or ${DURATION_RULE} (that long ago)`, raw);
    return date;
  };
}

/** A parser for a repeatable or comma-separated list of task states. */
export function states(flag: string): (raw: string, previous: TaskState[] | undefined) => TaskState[] {
  return (raw, previous) => {
    const parse = oneOf(flag, TASK_STATES);
    return [...(previous ?? []), ...raw.split(",").map((s) => parse(s.trim()))];
  };
}
