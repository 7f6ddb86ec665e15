// Per-vendor claim pauses, shared through the queue: one record per vendor,
// kept by the store (the file store's <queue_root>/pauses/<vendor>.json, the
// PostgreSQL store's pauses table; store/pause-records.ts). Every supervisor
// of that vendor on the queue reads it before claiming, so a usage limit hit
// by one stops them all until the reset. A broken record must never stop a
// dispatcher: it reads as "no pause" plus a warning to log.
// Each function takes the queue as a store (its `pauses`), a PauseBackend, or
// a queue folder's path (the file store's pauses).

import { filePauses, pausePath, type PauseBackend, type PauseKind, type PauseRead, type PauseRecord } from "../store/pause-records.js";
import { parseIso } from "../store/time.js";

export { pausePath, type PauseBackend, type PauseKind, type PauseRead, type PauseRecord };

/** Where pauses are read and written: a store (its `pauses`, else its folder), a PauseBackend, or a queue folder. */
export type PauseTarget = string | PauseBackend | { pauses?: PauseBackend; root: string };

function backendOf(target: PauseTarget): PauseBackend {
  if (typeof target === "string") return filePauses(target);
  if ("root" in target) return target.pauses ?? filePauses(target.root);
  return target;
}

/** Timings of pauses. */
export const PAUSE_DEFAULTS = {
  /** First backoff when a limit names no reset time. @default 60 */
  backoffBaseSeconds: 60,
  /** Backoffs double per consecutive pause up to this. @default 3600 */
  backoffCapSeconds: 60 * 60,
  /** Up to this much is added after a vendor-given reset, so supervisors do not stampede at :00. @default 60 */
  resetJitterSeconds: 60,
  /** A previous pause that ended longer ago than this no longer counts as consecutive. @default 7200 */
  consecutiveWindowSeconds: 2 * 60 * 60,
  /** No pause is longer than this: an explicitly dated reset (a weekly limit) fits. @default 604800 (7 days) */
  maxPauseSeconds: 7 * 24 * 60 * 60,
  /** A reset that came without a date (a clock time, a duration) is clamped to this. @default 86400 (1 day) */
  undatedMaxPauseSeconds: 24 * 60 * 60,
  /** needs-login: the first re-probe after this, doubling per failed re-probe. @default 60 */
  loginBackoffBaseSeconds: 60,
  /** needs-login: re-probes at least this often. @default 1800 (30 minutes) */
  loginBackoffCapSeconds: 30 * 60,
} as const;

export type PauseTimings = { -readonly [K in keyof typeof PAUSE_DEFAULTS]: number };

export interface SetPauseInput {
  /** The reset time the vendor announced; null/undefined = exponential backoff. */
  until?: Date | null;
  reason: string;
  kind: PauseKind;
  /** The supervisor's owner id. */
  owner: string;
  /** Add jitter after `until`. @default true */
  jitter?: boolean;
  /** `until` came with a date (epoch, calendar date, structured field): clamp at maxPauseSeconds instead of undatedMaxPauseSeconds. */
  dated?: boolean;
  /** needs-login: the fix to show with the pause. */
  fix?: string;
}

export interface PauseClock {
  /** @default new Date() */
  now?: Date;
  /** Uniform in [0, 1). @default Math.random */
  random?: () => number;
  /** Overrides of PAUSE_DEFAULTS. */
  timings?: Partial<PauseTimings>;
}

/** The vendor's active pause, or null when there is none or it has expired. */
export async function readPause(target: PauseTarget, vendor: string, now: Date = new Date()): Promise<PauseRead> {
  const read = await backendOf(target).get(vendor);
  if (!read.pause) return read;
  return { pause: untilOf(read.pause) > now.getTime() ? read.pause : null, warning: null };
}

/**
 * Pauses claiming for the vendor. With `until` (a vendor's reset time in the
 * future) the pause lasts until then plus jitter; without one it is an
 * exponential backoff with jitter, doubling per consecutive pause up to the
 * cap. An active pause that already lasts longer is kept: a pause is only
 * ever extended. Returns the pause now in force.
 */
export async function setPause(target: PauseTarget, vendor: string, input: SetPauseInput, clock: PauseClock = {}): Promise<PauseRecord> {
  const backend = backendOf(target);
  const now = clock.now ?? new Date();
  const random = clock.random ?? Math.random;
  const timings: PauseTimings = { ...PAUSE_DEFAULTS, ...(clock.timings ?? {}) };
  const previous = (await backend.get(vendor)).pause;

  const recent = previous !== null && now.getTime() - untilOf(previous) <= timings.consecutiveWindowSeconds * 1000;
  // Several runs hitting the same wall while its pause is in force (concurrent
  // tasks) are one event, not a series: only a pause that follows an ended one escalates.
  const sameWall = previous !== null && previous.kind === input.kind && untilOf(previous) > now.getTime();
  const consecutive = previous && sameWall ? previous.consecutive : recent && previous ? previous.consecutive + 1 : 1;
  const resetAt = input.until && input.until.getTime() > now.getTime() ? input.until : null;
  let untilMs: number;
  if (resetAt) {
    const jitterMs = input.jitter === false ? 0 : random() * timings.resetJitterSeconds * 1000;
    untilMs = resetAt.getTime() + jitterMs;
  } else if (input.kind === "needs-login") {
    // Re-probe after exactly 1, 2, 4 ... 30 minutes: nobody stampedes on a login.
    untilMs = now.getTime() + backoffMs(consecutive, { backoffBaseSeconds: timings.loginBackoffBaseSeconds, backoffCapSeconds: timings.loginBackoffCapSeconds }, () => 1);
  } else {
    untilMs = now.getTime() + backoffMs(consecutive, timings, random);
  }
  const maxSeconds = input.dated === true ? timings.maxPauseSeconds : Math.min(timings.maxPauseSeconds, timings.undatedMaxPauseSeconds);
  untilMs = Math.min(untilMs, now.getTime() + maxSeconds * 1000);

  if (previous && untilOf(previous) >= untilMs) return previous;
  const record: PauseRecord = {
    vendor,
    until: isoSeconds(new Date(Math.ceil(untilMs / 1000) * 1000)),
    reason: input.reason,
    kind: input.kind,
    set_at: isoSeconds(now),
    set_by: input.owner,
    consecutive,
    reset_at: resetAt ? isoSeconds(resetAt) : null,
    ...(input.fix ? { fix: input.fix } : {}),
  };
  await backend.set(record);
  return record;
}

/** Backoff for the n-th consecutive pause: base·2^(n-1) capped, then "equal jitter" (half fixed, half random). */
export function backoffMs(consecutive: number, timings: Pick<PauseTimings, "backoffBaseSeconds" | "backoffCapSeconds"> = PAUSE_DEFAULTS, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(consecutive - 1, 30));
  const full = Math.min(timings.backoffCapSeconds, timings.backoffBaseSeconds * 2 ** exponent) * 1000;
  return Math.round(full / 2 + random() * (full / 2));
}

/**
 * Removes the vendor's pause. With `onlyExpired` an active pause is left
 * alone: a supervisor whose run succeeded must not lift a limit another one
 * has just hit. Returns true when a file was removed.
 */
export async function clearPause(target: PauseTarget, vendor: string, options: { onlyExpired?: boolean; now?: Date } = {}): Promise<boolean> {
  const backend = backendOf(target);
  if (options.onlyExpired) {
    const { pause } = await backend.get(vendor);
    if (pause && untilOf(pause) > (options.now ?? new Date()).getTime()) return false;
  }
  return backend.clear(vendor);
}

/** A pause as `status --all` shows it. */
export interface PauseView extends PauseRecord {
  active: boolean;
  /** Whole seconds until it ends, 0 when expired. */
  remaining_seconds: number;
}

/** Every pause of the queue, active or expired, sorted by vendor; malformed ones become warnings. */
export async function listPauses(target: PauseTarget, now: Date = new Date()): Promise<{ pauses: PauseView[]; warnings: string[] }> {
  const { records, warnings } = await backendOf(target).list();
  const pauses = records.map((pause) => {
    const remainingMs = untilOf(pause) - now.getTime();
    return { ...pause, active: remainingMs > 0, remaining_seconds: Math.max(0, Math.ceil(remainingMs / 1000)) };
  });
  return { pauses, warnings };
}

/** One log line: "claude paused until 2026-11-24T06:00:00Z (in 42m 10s; usage-limit: ...)". */
export function describePause(pause: PauseRecord, now: Date = new Date()): string {
  const seconds = Math.max(0, Math.ceil((untilOf(pause) - now.getTime()) / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const left = h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
  if (pause.kind === "needs-login") {
    const fix = pause.fix ?? `log the ${pause.vendor} CLI in, then \`agent-lanes resume --vendor ${pause.vendor}\``;
    return `${pause.vendor} needs a login (${pause.reason}); fix: ${fix}; paused until ${pause.until} (re-probe in ${left})`;
  }
  return `${pause.vendor} paused until ${pause.until} (in ${left}; ${pause.kind}: ${pause.reason})`;
}

/** The instant a pause ends, in ms. */
export function untilOf(pause: PauseRecord): number {
  return parseIso(pause.until)?.getTime() ?? 0;
}

function isoSeconds(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
