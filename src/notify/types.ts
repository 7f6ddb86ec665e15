// Notifications: what is sent, where, and which.

export const NOTIFY_EVENTS = ["task.completed", "task.failed", "vendor.paused", "dispatcher.stopped"] as const;
export type NotifyEventType = (typeof NOTIFY_EVENTS)[number];

/** One notification, ready for any sink. */
export interface Notification {
  event: NotifyEventType | "digest";
  /** Stable identity of the transition (dedup across restarts and dispatchers). */
  key: string;
  title: string;
  /** One or a few short lines. */
  text: string;
  /** ISO time of the transition. */
  at: string;
  task_id?: string;
  lane?: string;
  correlation_id?: string;
  verdict?: string | null;
  blocking_count?: number;
  nonblocking_count?: number;
  vendor?: string;
  until?: string;
  kind?: string;
  owner?: string;
  /** Digest only: how many of each event it stands for. */
  counts?: Partial<Record<NotifyEventType, number>>;
}

export type WebhookFormat = "json" | "slack" | "discord";

export type SinkSpec =
  | { type: "desktop" }
  | { type: "ntfy"; url: string }
  | { type: "webhook"; url: string; format: WebhookFormat };

/** A sink with its own filters (empty = every event / lane). */
export interface SinkConfig {
  spec: SinkSpec;
  events: readonly NotifyEventType[];
  lanes: readonly string[];
}

export interface NotifyConfig {
  sinks: SinkConfig[];
  /** At most `max` notifications per sink every `perSeconds`; the rest become one digest at the window's end. */
  rateLimit: { max: number; perSeconds: number };
  /** Per delivery. */
  timeoutMs: number;
}

/** Delivers one notification; rejects on failure (the notifier logs it). */
export interface Sink {
  /** For logs and dedup: "webhook http://…", "ntfy …", "desktop". */
  readonly id: string;
  send(notification: Notification, signal: AbortSignal): Promise<void>;
}

export const NOTIFY_DEFAULTS = {
  /** @default 10 */
  rateMax: 10,
  /** @default 60 */
  ratePerSeconds: 60,
  /** @default 5000 */
  timeoutMs: 5000,
  /** Events waiting to be handled, and deliveries waiting per sink, before the excess is dropped (events) or folded into the digest (deliveries). @default 1000 */
  maxPending: 1000,
  /** Events gather this long before the notifier handles them as one batch (one wake-up for a burst). @default 200 */
  batchMs: 200,
  /** Deliveries in flight at once per sink. @default 4 */
  deliveriesPerSink: 4,
  /** Task transitions remembered per process, against observing one twice. @default 10000 */
  recentTaskKeys: 10_000,
  /** Dedup markers older than this are removed at start. @default 14 days */
  markerMaxAgeMs: 14 * 24 * 60 * 60 * 1000,
  /** close() waits this long for deliveries in flight. @default 3000 */
  closeTimeoutMs: 3000,
} as const;
