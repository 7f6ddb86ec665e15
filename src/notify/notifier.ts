// The notifier: a DispatcherObserver that turns dispatcher events into
// notifications for each sink — filtered by event and lane, sent once per
// transition (dedup.ts), at most `max` per window per sink with the rest
// folded into one digest at the window's end, each delivery under a timeout.
// observe() only queues: the dispatcher never waits for a sink, and a sink's
// failure is logged once (and once more when it works again).

import PQueue from "p-queue";
import type { Store } from "../store/types.js";
import type { DispatcherEvent, DispatcherObserver } from "../supervisor/observer.js";
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
  /** The queue folder: dedup markers live under it. */
  queueRoot: string;
  /** For the verdict and reason of finished tasks; a PostgreSQL queue's `shared` keeps the dedup markers in the database. */
  store: Pick<Store, "getResponse"> & Partial<Pick<Store, "shared">>;
  log: NotifierLog;
  /** @default () => new Date() */
  now?: () => Date;
  /** Tests: replace the sinks built from config (same order). */
  sinks?: Sink[];
  dedup?: Dedup;
}

export interface NotifierStats {
  /** Per sink id: notifications delivered (digests count as one), failures, held for the digest. */
  sinks: Record<string, { sent: number; failed: number; held: number }>;
  /** Events dropped because too many were waiting. */
  dropped: number;
}

export interface Notifier extends DispatcherObserver {
  /** Deliver what is held (digests at once), wait for deliveries up to a few seconds. Idempotent. */
  close(): Promise<void>;
  stats(): NotifierStats;
}

interface Lane {
  sink: Sink;
  filter: SinkConfig;
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

export function createNotifier(options: NotifierOptions): Notifier {
  const { config, log } = options;
  const now = options.now ?? (() => new Date());
  const dedup = options.dedup ?? (options.store.shared ? createSharedDedup(options.store.shared) : createDedup(options.queueRoot));
  const windowMs = config.rateLimit.perSeconds * 1000;
  const lanes: Lane[] = config.sinks.map((filter, i) => ({
    sink: options.sinks?.[i] ?? createSink(filter.spec),
    filter,
    windowStart: 0,
    sentInWindow: 0,
    held: [],
    digestTimer: null,
    failing: false,
    counts: { sent: 0, failed: 0, held: 0 },
  }));
  // Handling an event reads a response and creates a marker (about a millisecond):
  // one at a time, so notifications start in the order the transitions happened.
  const handling = new PQueue({ concurrency: 1 });
  const deliveries = new Set<Promise<void>>();
  let dropped = 0;
  let droppedLogged = false;
  let closed: Promise<void> | null = null;

  void dedup.prune(NOTIFY_DEFAULTS.markerMaxAgeMs, now()).catch(() => undefined);

  function deliver(lane: Lane, n: Notification): void {
    const run = (async () => {
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
    })();
    deliveries.add(run);
    void run.finally(() => deliveries.delete(run));
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
    if (lane.held.length === 0 && lane.sentInWindow < config.rateLimit.max) {
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

  async function handle(event: DispatcherEvent): Promise<void> {
    const task = event.type === "task.completed" || event.type === "task.failed" ? event.task : null;
    const response = task ? await options.store.getResponse(task.id).catch(() => null) : null;
    const n = toNotification(event, response, now().toISOString());
    for (const lane of lanes) {
      if (!wanted(lane.filter, n)) continue;
      let first = true;
      try {
        first = await dedup.claim(lane.sink.id, n.key);
      } catch (error) {
        // A marker that cannot be written: better a possible duplicate than a lost notification.
        if (!lane.failing) log.warn(`notifications: cannot record that ${n.key} was sent (${error instanceof Error ? error.message : String(error)})`);
      }
      if (first) offer(lane, n);
    }
  }

  return {
    observe(event) {
      if (closed) return;
      if (handling.size >= NOTIFY_DEFAULTS.maxPending) {
        dropped += 1;
        if (!droppedLogged) log.warn(`notifications: more than ${NOTIFY_DEFAULTS.maxPending} events waiting; dropping the excess`);
        droppedLogged = true;
        return;
      }
      void handling.add(() => handle(event)).catch(() => undefined);
    },
    close() {
      closed ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const limit = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, NOTIFY_DEFAULTS.closeTimeoutMs);
          timer.unref();
        });
        await Promise.race([handling.onIdle(), limit]);
        for (const lane of lanes) flushDigest(lane);
        await Promise.race([Promise.allSettled([...deliveries]), limit]);
        clearTimeout(timer);
      })();
      return closed;
    },
    stats() {
      const sinks: NotifierStats["sinks"] = {};
      for (const lane of lanes) sinks[lane.sink.id] = { ...lane.counts };
      return { sinks, dropped };
    },
  };
}
