// The --daily-cost-usd fuse: a running total of the cost the CLIs reported
// today (UTC), per supervisor. Once it reaches the ceiling the supervisor
// stops claiming until the next UTC midnight (a pause of kind "budget").
// Pure: the clock is injected and nothing touches the disk.

import type { Outcome } from "../../vendors/types.js";

/** What a ledger remembers; also how a supervisor could persist and restore it. */
export interface CostLedgerSnapshot {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  spent_usd: number;
  limit_usd: number | null;
}

export interface DailyCostLedger {
  /** The ceiling, or null when there is none. */
  readonly limitUsd: number | null;
  /** Adds a reported cost (ignored unless a finite number >= 0); returns today's total. */
  record(costUsd: unknown): number;
  /** Today's total so far. */
  spentUsd(): number;
  /** True once today's total has reached the ceiling. */
  exceeded(): boolean;
  /** When today's budget starts afresh: the next UTC midnight. */
  resetsAt(): Date;
  snapshot(): CostLedgerSnapshot;
}

export interface DailyCostLedgerOptions {
  /** --daily-cost-usd; null/undefined = no ceiling (the ledger still counts). */
  limitUsd?: number | null;
  /** @default () => new Date() */
  now?: () => Date;
  /** A snapshot to resume from; ignored when it is of another day. */
  initial?: CostLedgerSnapshot | null;
}

/** A ledger of today's reported cost against an optional daily ceiling. */
export function createDailyCostLedger(options: DailyCostLedgerOptions = {}): DailyCostLedger {
  const limitUsd = options.limitUsd ?? null;
  if (limitUsd !== null && !(typeof limitUsd === "number" && Number.isFinite(limitUsd) && limitUsd > 0)) {
    throw new TypeError(`Expected \`--daily-cost-usd\` to be a number > 0, got \`${String(limitUsd)}\` (${typeof limitUsd})`);
  }
  const now = options.now ?? (() => new Date());
  let day = utcDay(now());
  let spent = options.initial && options.initial.day === day && Number.isFinite(options.initial.spent_usd) ? options.initial.spent_usd : 0;

  // Every read rolls over first, so a ledger idle across midnight starts the new day at zero.
  const rollOver = (): void => {
    const today = utcDay(now());
    if (today !== day) {
      day = today;
      spent = 0;
    }
  };

  return {
    limitUsd,
    record(costUsd: unknown): number {
      rollOver();
      if (typeof costUsd === "number" && Number.isFinite(costUsd) && costUsd >= 0) spent += costUsd;
      return spent;
    },
    spentUsd(): number {
      rollOver();
      return spent;
    },
    exceeded(): boolean {
      rollOver();
      return limitUsd !== null && spent >= limitUsd;
    },
    resetsAt(): Date {
      return nextUtcMidnight(now());
    },
    snapshot(): CostLedgerSnapshot {
      rollOver();
      return { day, spent_usd: spent, limit_usd: limitUsd };
    },
  };
}

/** The cost an adapter reported for a run (metadata.cost_usd), whatever the outcome; null when none. */
export function outcomeCostUsd(outcome: Outcome): number | null {
  const cost = outcome.metadata?.cost_usd;
  return typeof cost === "number" && Number.isFinite(cost) ? cost : null;
}

/** 00:00:00Z of the UTC day after `now`. */
export function nextUtcMidnight(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
}

function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}
