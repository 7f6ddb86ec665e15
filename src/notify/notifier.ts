// The notifier: a DispatcherObserver that turns dispatcher events into
// notifications for each sink — filtered by event and lane, sent once per
// transition, at most `max` per window per sink with the rest folded into one
// digest at the window's end, each delivery under a timeout.
//
// Off the dispatcher's hot path: observe() only pushes the event onto an
// array. A timer drains the array in batches (every `batchMs`), so a burst of
// finished tasks costs one wake-up, not one per task; task events carry their
// answer, so nothing is read back from the store; and deliveries run a few at
// a time per sink. A sink's failure is logged once (and once more when it
// works again).
//
// Once per transition: a task's completion or failure is observed only by the
// dispatcher whose response the store accepted (a task is answered once, by
// one claim), so task events need no marker on disk, only a guard against the
// same event twice in this process. Pauses are different: every dispatcher of
// the vendor reads the pause file, and again after each restart, so a pause
// is sent by whoever first creates its marker (dedup.ts).

import PQueue from "p-queue";
import type { DispatcherEvent, DispatcherObserver } from "../supervisor/observer.js";
import type { SharedLedger } from "../store/types.js";
import { createDedup, createSharedDedup, type Dedup } from "./dedup.js";
import { digestOf, toNotification } from "./message.js";
import { createSink } from "./sinks.js";
import { NOTIFY_DEFAULTS, type Notification, type NotifyConfig, type Sink, type SinkConfig } from "./types.js";

export interface NotifierLog {
  warn(message: string): void;
  info(message: string): void;
}

export interface NotifierOptions {
  config: NotifyConfig;
  /** The queue folder: pause markers live under it. */
  queueRoot: string;
  log: NotifierLog;
  /** @default () => new Date() */
  now?: () => Date;
  /** Tests: replace the sinks built from config (same order). */
  sinks?: Sink[];
  dedup?: Dedup;
  /** A PostgreSQL queue's shared ledger (store.shared): pause markers live in the database, so dispatchers on other hosts see them. */
  shared?: Pick<SharedLedger, "claimNotification" | "pruneNotifications">;
  /** How long events gather before a batch is handled. @default NOTIFY_DEFAULTS.batchMs */
  batchMs?: number;
}

export interface NotifierStats {
  /** Per sink id: notifications delivered (digests count as one), failures, held for the digest. */
  sinks: Record<string, { sent: number; failed: number; held: number }>;
  /** Events dropped because too many were waiting. */
  dropped: number;
  /** Batches handled (each one wake-up of the notifier). */
  batches: number;
}

export interface Notifier extends DispatcherObserver {
  /** Handle what is queued, deliver what is held (digests at once), wait for deliveries up to a few seconds. Idempotent. */
  close(): Promise<void>;
  stats(): NotifierStats;
}

interface Lane {
  sink: Sink;
  filter: SinkConfig;
  /** Deliveries in flight or waiting, a few at a time. */
  out: PQueue;
  windowStart: number;
  sentInWindow: number;
  held: Notification[];
  digestTimer: NodeJS.Timeout | null;
  failing: boolean;
  counts: { sent: number; failed: number; held: number };
}

function wanted(filter: SinkConfig, n: Notification): boolean {
  if (n.event !== "digest" && filter.events.length > 0 && !filter.events.includes(n.event)) return false;
  // Lane filters apply to task events; a pause or a stop concerns every lane.
  if (n.lane !== undefined && filter.lanes.length > 0 && !filter.lanes.includes(n.lane)) return false;
  return true;
}

/** Task events this process already handled, oldest forgotten first. */
class RecentKeys {
  private readonly keys = new Set<string>();
  constructor(private readonly max: number) {}
  /** True the first time `key` is seen. */
  add(key: string): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    if (this.keys.size > this.max) this.keys.delete(this.keys.values().next().value as string);
    return true;
  }
}

export function createNotifier(options: NotifierOptions): Notifier {
  const { config, log } = options;
  const now = options.now ?? (() => new Date());
  const dedup = options.dedup ?? (options.shared ? createSharedDedup(options.shared) : createDedup(options.queueRoot));
  const batchMs = options.batchMs ?? NOTIFY_DEFAULTS.batchMs;
  const windowMs = config.rateLimit.perSeconds * 1000;
  const lanes: Lane[] = config.sinks.map((filter, i) => ({
    sink: options.sinks?.[i] ?? createSink(filter.spec),
    filter,
    out: new PQueue({ concurrency: NOTIFY_DEFAULTS.deliveriesPerSink }),
    windowStart: 0,
    sentInWindow: 0,
    held: [],
    digestTimer: null,
    failing: false,
    counts: { sent: 0, failed: 0, held: 0 },
  }));
  const recent = new RecentKeys(NOTIFY_DEFAULTS.recentTaskKeys);
  let pending: DispatcherEvent[] = [];
  let batchTimer: NodeJS.Timeout | null = null;
  /** The batch being handled; the next waits for it (notifications keep the order of the transitions). */
  let handling: Promise<void> = Promise.resolve();
  let batches = 0;
  let dropped = 0;
  let droppedLogged = false;
  let closed: Promise<void> | null = null;

  void dedup.prune(NOTIFY_DEFAULTS.markerMaxAgeMs, now()).catch(() => undefined);

  function deliver(lane: Lane, n: Notification): void {
    void lane.out.add(async () => {
      try {
        await lane.sink.send(n, AbortSignal.timeout(config.timeoutMs));
        lane.counts.sent += 1;
        if (lane.failing) log.info(`notifications: ${lane.sink.id} works again`);
        lane.failing = false;
      } catch (error) {
        lane.counts.failed += 1;
        if (!lane.failing) {
          const message = error instanceof Error ? error.message : String(error);
          log.warn(`notifications: ${lane.sink.id} failed (${message}); further failures are not logged until it works again`);
        }
        lane.failing = true;
      }
    });
  }

  function flushDigest(lane: Lane): void {
    if (lane.digestTimer) clearTimeout(lane.digestTimer);
    lane.digestTimer = null;
    if (lane.held.length === 0) return;
    const held = lane.held.splice(0);
    // The digest opens the next window and counts against it.
    lane.windowStart = now().getTime();
    lane.sentInWindow = 1;
    deliver(lane, digestOf(held, now().toISOString()));
  }

  function offer(lane: Lane, n: Notification): void {
    const at = now().getTime();
    if (lane.held.length === 0 && at - lane.windowStart >= windowMs) {
      lane.windowStart = at;
      lane.sentInWindow = 0;
    }
    // A sink that cannot keep up has its backlog folded into the digest too.
    if (lane.held.length === 0 && lane.sentInWindow < config.rateLimit.max && lane.out.size < NOTIFY_DEFAULTS.maxPending) {
      lane.sentInWindow += 1;
      deliver(lane, n);
      return;
    }
    lane.held.push(n);
    lane.counts.held += 1;
    if (!lane.digestTimer && !closed) {
      lane.digestTimer = setTimeout(() => flushDigest(lane), Math.max(0, lane.windowStart + windowMs - at));
      lane.digestTimer.unref();
    }
  }

  async function handleBatch(events: readonly DispatcherEvent[]): Promise<void> {
    batches += 1;
    const at = now().toISOString();
    for (const event of events) {
      const n = toNotification(event, at);
      const isTask = event.type === "task.completed" || event.type === "task.failed";
      if (isTask && !recent.add(n.key)) continue;
      for (const lane of lanes) {
        if (!wanted(lane.filter, n)) continue;
        let first = true;
        if (!isTask) {
          try {
            first = await dedup.claim(lane.sink.id, n.key);
          } catch (error) {
            // A marker that cannot be written: better a possible duplicate than a lost notification.
            if (!lane.failing) log.warn(`notifications: cannot record that ${n.key} was sent (${error instanceof Error ? error.message : String(error)})`);
          }
        }
        if (first) offer(lane, n);
      }
    }
  }

  /** Hand what is pending to the handler, after the batch before it. */
  function drain(): Promise<void> {
    if (batchTimer) clearTimeout(batchTimer);
    batchTimer = null;
    if (pending.length > 0) {
      const events = pending;
      pending = [];
      handling = handling.then(() => handleBatch(events)).catch(() => undefined);
    }
    return handling;
  }

  return {
    observe(event) {
      if (closed) return;
      if (pending.length >= NOTIFY_DEFAULTS.maxPending) {
        dropped += 1;
        if (!droppedLogged) log.warn(`notifications: more than ${NOTIFY_DEFAULTS.maxPending} events waiting; dropping the excess`);
        droppedLogged = true;
        return;
      }
      pending.push(event);
      if (!batchTimer) {
        batchTimer = setTimeout(() => void drain(), batchMs);
        batchTimer.unref();
      }
    },
    close() {
      closed ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const limit = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, NOTIFY_DEFAULTS.closeTimeoutMs);
          timer.unref();
        });
        await Promise.race([drain(), limit]);
        for (const lane of lanes) flushDigest(lane);
        await Promise.race([Promise.all(lanes.map((lane) => lane.out.onIdle())), limit]);
        clearTimeout(timer);
      })();
      return closed;
    },
    stats() {
      const sinks: NotifierStats["sinks"] = {};
      for (const lane of lanes) sinks[lane.sink.id] = { ...lane.counts };
      return { sinks, dropped, batches };
    },
  };
}
