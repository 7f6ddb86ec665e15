// The board (/api/summary) and the charts (/api/stats), kept up to date
// without reading a queue's history on every change.
//
// The finished part is a small aggregate: counts by lane and state, the
// newest cards, and per hour and per day of finishing the tasks and cost by
// vendor and the wait and run time buckets. It is built once from the
// store's finished facts (finishedFacts: a cache or SQL aggregates), then
// updated with only the tasks that changed: each computation lists the live
// tasks (cheap), and a task that left the live set since the previous one is
// read alone and added if it finished. The store's count of finished tasks
// (finishedCount) checks the update: when it is not the previous count plus
// the tasks added — a task created and finished between two looks, a prune,
// another writer — the aggregate is built again. So is it every
// REBUILD_MS, which heals what a count cannot see. Stores without
// finishedCount are built again on every change.

import { UnknownTaskError } from "../store/errors.js";
import { factOf, FactsFold, timesOf, type FinishedFact, type FinishedFactsOptions, type FinishedFactsResult, type FinishedTimes } from "../store/finished-facts.js";
import type { Store, Task } from "../store/types.js";
import { releaseMemoryLater } from "../process-memory.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The finished aggregate is built from the store again at least this often. @default 5 min */
const REBUILD_MS = 5 * 60_000;

export interface ViewLimits {
  maxCards: number;
  recentCards: number;
  chartDays: number;
}

export interface Views {
  summary: Record<string, unknown>;
  stats: Record<string, unknown>;
}

interface Bucket {
  label: string;
  /** Upper bound in seconds (-1 for the last, unbounded). */
  below: number;
  count: number;
}

const WAIT_BOUNDS: Array<[string, number]> = [["<10s", 10], ["<1m", 60], ["<5m", 300], ["<30m", 1800], ["<2h", 7200], ["≥2h", Infinity]];
const RUN_BOUNDS: Array<[string, number]> = [["<10s", 10], ["<1m", 60], ["<5m", 300], ["<15m", 900], ["<1h", 3600], ["≥1h", Infinity]];

const bucketOf = (seconds: number, bounds: Array<[string, number]>): number => {
  const i = bounds.findIndex(([, below]) => seconds < below);
  return i === -1 ? bounds.length - 1 : i;
};

const histogram = (counts: number[], bounds: Array<[string, number]>): Bucket[] =>
  bounds.map(([label, below], i) => ({ label, below: Number.isFinite(below) ? below : -1, count: counts[i] ?? 0 }));

const time = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
};

/** A card: what the board shows of a task, live or finished. */
const slim = (task: Task): Record<string, unknown> => {
  const m = task.metadata ?? {};
  const pick = (key: string): unknown => (Object.hasOwn(m, key) && (typeof m[key] === "string" || typeof m[key] === "number") ? m[key] : undefined);
  return {
    id: task.id,
    correlation_id: task.correlation_id,
    lane: task.lane,
    state: task.state,
    created_at: task.created_at,
    updated_at: task.updated_at,
    claim_owner: task.claim_owner,
    metadata: { vendor: pick("vendor"), model: pick("model"), model_class: pick("model_class"), effort: pick("effort") },
  };
};

const slimFact = (fact: FinishedFact): Record<string, unknown> => ({
  id: fact.id,
  correlation_id: fact.correlation_id,
  lane: fact.lane,
  state: fact.state,
  created_at: fact.created_at,
  updated_at: fact.updated_at,
  claim_owner: fact.claim_owner,
  metadata: { ...fact.metadata },
});

/** Finished tasks of a store without finishedFacts: read with list() and a response each (slow on a long history). */
async function factsByListing(store: Store, options: FinishedFactsOptions): Promise<FinishedFactsResult> {
  const fold = new FactsFold(options);
  const facts = new Map<string, FinishedFact>();
  for (const task of await store.list({ states: ["completed", "failed"] })) {
    const fact = factOf(task, await store.getResponse(task.id).catch(() => null));
    facts.set(fact.id, fact);
    fold.add(timesOf(fact));
  }
  fold.result.recent = fold.recentIds().map((id) => facts.get(id) as FinishedFact);
  return fold.result;
}

/** What the views need of every finished task, in a few small maps. */
class FinishedAggregate {
  total = 0;
  counts = new Map<string, { completed: number; failed: number }>();
  /** Newest first: [finished ms, card]. */
  recent: Array<[number, FinishedFact]> = [];
  /** Hour start (ms) -> vendor -> tasks finished. */
  hours = new Map<number, Map<string, number>>();
  /** Day start (ms) -> vendor -> cost. */
  cost = new Map<number, Map<string, number>>();
  /** Day start (ms) -> wait / run bucket counts of the tasks finished that day. */
  waits = new Map<number, number[]>();
  runs = new Map<number, number[]>();

  constructor(private readonly recentCards: number) {}

  static from(result: FinishedFactsResult, recentCards: number): FinishedAggregate {
    const agg = new FinishedAggregate(recentCards);
    agg.total = result.total;
    for (const [lane, n] of Object.entries(result.counts)) agg.counts.set(lane, { ...n });
    agg.recent = result.recent.map((fact) => [timesOf(fact).finished_ms ?? 0, fact]);
    for (const t of result.window) agg.addTimes(t);
    return agg;
  }

  /** A task that finished since the aggregate was made. */
  addFinished(fact: FinishedFact): void {
    this.total += 1;
    const lane = this.counts.get(fact.lane) ?? { completed: 0, failed: 0 };
    lane[fact.state] += 1;
    this.counts.set(fact.lane, lane);
    const t = timesOf(fact);
    this.addTimes(t);
    const at = t.finished_ms ?? 0;
    let i = this.recent.findIndex(([other]) => at > other);
    if (i === -1) i = this.recent.length;
    this.recent.splice(i, 0, [at, fact]);
    this.recent.length = Math.min(this.recent.length, this.recentCards);
  }

  private addTimes(t: FinishedTimes): void {
    if (t.finished_ms === null) return;
    const vendor = t.vendor ?? "unassigned";
    const hour = Math.floor(t.finished_ms / HOUR_MS) * HOUR_MS;
    const day = Math.floor(t.finished_ms / DAY_MS) * DAY_MS;
    const perHour = this.hours.get(hour) ?? new Map<string, number>();
    perHour.set(vendor, (perHour.get(vendor) ?? 0) + 1);
    this.hours.set(hour, perHour);
    const perDay = this.cost.get(day) ?? new Map<string, number>();
    perDay.set(vendor, (perDay.get(vendor) ?? 0) + t.cost_usd);
    this.cost.set(day, perDay);
    const count = (map: Map<number, number[]>, i: number): void => {
      const row = map.get(day) ?? [];
      row[i] = (row[i] ?? 0) + 1;
      map.set(day, row);
    };
    if (t.created_ms !== null && t.claimed_ms !== null && t.claimed_ms >= t.created_ms) count(this.waits, bucketOf((t.claimed_ms - t.created_ms) / 1000, WAIT_BOUNDS));
    if (t.claimed_ms !== null && t.finished_ms >= t.claimed_ms) count(this.runs, bucketOf((t.finished_ms - t.claimed_ms) / 1000, RUN_BOUNDS));
  }

  /** Forget what finished before `firstDay` (it never comes back into the window). */
  trim(firstDay: number): void {
    for (const map of [this.hours, this.cost, this.waits, this.runs] as Array<Map<number, unknown>>) {
      for (const key of map.keys()) if (key < firstDay) map.delete(key);
    }
  }
}

/** The views of one queue, updated change by change (see the top of this file). */
export class DashboardViews {
  private agg: FinishedAggregate | null = null;
  private builtAt = 0;
  private finishedCount = 0;
  /** The live tasks (id -> state) the aggregate's last update saw. */
  private live = new Map<string, string>();
  /** How many times the aggregate was built from the store (tests and logs). */
  builds = 0;

  constructor(
    private readonly store: Store,
    private readonly limits: ViewLimits,
  ) {}

  async compute(now = Date.now()): Promise<Views> {
    const { store, limits } = this;
    const days = limits.chartDays;
    const firstHour = Math.floor(now / HOUR_MS) * HOUR_MS - (days * 24 - 1) * HOUR_MS;
    const firstDay = Math.floor(now / DAY_MS) * DAY_MS - (days - 1) * DAY_MS;
    const live = await store.list({ activeOnly: true });
    const agg = await this.update(live, now, firstDay);
    agg.trim(firstDay);

    const counts: Record<string, Record<string, number>> = Object.create(null) as Record<string, Record<string, number>>;
    const laneOf = (lane: string): Record<string, number> => (counts[lane] ??= { queued: 0, claimed: 0, completed: 0, failed: 0 });
    for (const task of live) laneOf(task.lane)[task.state] = (laneOf(task.lane)[task.state] ?? 0) + 1;
    for (const [lane, n] of agg.counts) {
      if (n.completed === 0 && n.failed === 0) continue;
      laneOf(lane).completed = (laneOf(lane).completed ?? 0) + n.completed;
      laneOf(lane).failed = (laneOf(lane).failed ?? 0) + n.failed;
    }
    const summary = {
      total: live.length + agg.total,
      lanes: Object.keys(counts).sort(),
      counts,
      cards: {
        queued: live.filter((t) => t.state === "queued").slice(0, limits.maxCards).map(slim),
        claimed: live.filter((t) => t.state === "claimed").slice(0, limits.maxCards).map(slim),
        recent: agg.recent.map(([, fact]) => slimFact(fact)),
      },
    };

    const vendors = new Set<string>();
    const hours = Array.from({ length: days * 24 }, (_, i) => {
      const values: Record<string, number> = {};
      for (const [vendor, n] of agg.hours.get(firstHour + i * HOUR_MS) ?? []) {
        values[vendor] = n;
        vendors.add(vendor);
      }
      return { t: (firstHour + i * HOUR_MS) / 1000, values };
    });
    const dayRows = Array.from({ length: days }, (_, i) => {
      const values: Record<string, number> = {};
      for (const [vendor, cost] of agg.cost.get(firstDay + i * DAY_MS) ?? []) values[vendor] = Math.round(cost * 1e6) / 1e6;
      return { t: (firstDay + i * DAY_MS) / 1000, values };
    });
    const sum = (map: Map<number, number[]>, width: number): number[] => {
      const out = new Array<number>(width).fill(0);
      for (const [day, row] of map) if (day >= firstDay) row.forEach((n, i) => (out[i] = (out[i] ?? 0) + (n ?? 0)));
      return out;
    };
    const waits = sum(agg.waits, WAIT_BOUNDS.length);
    // The claimed tasks' waits too: they are over.
    for (const task of live) {
      const created = time(task.created_at);
      const claimed = time(task.claimed_at);
      if (created !== null && claimed !== null && claimed >= created && claimed >= firstDay) {
        const i = bucketOf((claimed - created) / 1000, WAIT_BOUNDS);
        waits[i] = (waits[i] ?? 0) + 1;
      }
    }
    const stats = {
      vendors: [...vendors].sort(),
      hours,
      days: dayRows,
      wait: histogram(waits, WAIT_BOUNDS),
      run: histogram(sum(agg.runs, RUN_BOUNDS.length), RUN_BOUNDS),
    };
    return { summary, stats };
  }

  /** The finished aggregate, updated with the tasks that left the live set, or built again. */
  private async update(live: readonly Task[], now: number, firstDay: number): Promise<FinishedAggregate> {
    const { store } = this;
    const liveNow = new Map(live.map((t) => [t.id, t.state] as const));
    const count = store.finishedCount ? await store.finishedCount() : null;
    if (this.agg && count !== null && now - this.builtAt < REBUILD_MS) {
      const finished: FinishedFact[] = [];
      for (const id of this.live.keys()) {
        if (liveNow.has(id)) continue;
        let task: Task;
        try {
          task = await store.get(id);
        } catch (error) {
          if (error instanceof UnknownTaskError) continue; // removed: it was never counted as finished
          throw error;
        }
        if (task.state === "completed" || task.state === "failed") finished.push(factOf(task, await store.getResponse(id).catch(() => null)));
      }
      if (count === this.finishedCount + finished.length) {
        for (const fact of finished) this.agg.addFinished(fact);
        this.finishedCount = count;
        this.live = liveNow;
        return this.agg;
      }
    }
    const options = { since: new Date(firstDay), recent: this.limits.recentCards };
    const result = store.finishedFacts ? await store.finishedFacts(options) : await factsByListing(store, options);
    this.builds += 1;
    this.agg = FinishedAggregate.from(result, this.limits.recentCards);
    // A pass over the whole history leaves its garbage committed in an idle server: give it back once it is over.
    releaseMemoryLater();
    this.builtAt = now;
    // The facts' own total: a task that finished between the live listing and the facts is in both, and the next
    // update, adding it once more, then finds the count off by one and builds again.
    this.finishedCount = result.total;
    this.live = liveNow;
    return this.agg;
  }
}
