// The `notify:` section of handoff.yaml and `dispatch --notify URL` (repeatable)
// into a NotifyConfig. Every message names the key or flag and the fix.
//
//   notify:
//     sinks:
//       - webhook: http://127.0.0.1:9000/hook   # JSON POST; format: slack | discord for their shapes
//       - ntfy: https://ntfy.example/my-topic
//       - desktop: true                          # notify-send / osascript
//         events: [task.failed, vendor.paused]   # per-sink filters override the section's
//     events: [task.completed, task.failed, vendor.paused, dispatcher.stopped]
//     lanes: [review]
//     rate_limit: { max: 10, per_seconds: 60 }
//     timeout_seconds: 5
//
// --notify: `desktop`, `ntfy:URL`, `slack:URL`, `discord:URL`, or a plain
// http(s) URL (JSON webhook).

import { ConfigError } from "../config/errors.js";
import { NOTIFY_DEFAULTS, NOTIFY_EVENTS, type NotifyConfig, type NotifyEventType, type SinkConfig, type SinkSpec, type WebhookFormat } from "./types.js";

const FORMATS: readonly WebhookFormat[] = ["json", "slack", "discord"];

function fail(where: string, message: string): never {
  throw new ConfigError(`${where}: ${message}`);
}

function httpUrl(value: unknown, where: string): string {
  if (typeof value !== "string" || value.trim() === "") fail(where, `expected an http(s) URL, got ${JSON.stringify(value)}`);
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    fail(where, `expected an http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") fail(where, `expected an http(s) URL, got ${JSON.stringify(value)}`);
  return url.toString();
}

function stringList(value: unknown, where: string): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => {
    if (typeof item !== "string" || item.trim() === "") fail(where, `expected a list of names, got ${JSON.stringify(value)}`);
    return item.trim();
  });
}

function eventList(value: unknown, where: string): NotifyEventType[] {
  return stringList(value, where).map((name) => {
    if (!(NOTIFY_EVENTS as readonly string[]).includes(name)) fail(where, `unknown event ${JSON.stringify(name)} (events: ${NOTIFY_EVENTS.join(", ")})`);
    return name as NotifyEventType;
  });
}

function positive(value: unknown, where: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) fail(where, `expected a number > 0, got ${JSON.stringify(value)}`);
  return value;
}

/** One `--notify` value. */
export function parseNotifyFlag(value: string): SinkSpec {
  const where = "--notify";
  const text = value.trim();
  if (text === "desktop") return { type: "desktop" };
  const prefixed = /^(ntfy|slack|discord|webhook):(.*)$/i.exec(text);
  if (prefixed) {
    const kind = (prefixed[1] as string).toLowerCase();
    const url = httpUrl(prefixed[2], where);
    if (kind === "ntfy") return { type: "ntfy", url };
    return { type: "webhook", url, format: kind === "webhook" ? "json" : (kind as WebhookFormat) };
  }
  if (/^https?:\/\//i.test(text)) return { type: "webhook", url: httpUrl(text, where), format: "json" };
  fail(where, `expected desktop, ntfy:URL, slack:URL, discord:URL or an http(s) URL, got ${JSON.stringify(value)}`);
}

function parseSink(raw: unknown, where: string): { spec: SinkSpec; events: NotifyEventType[]; lanes: string[] } {
  if (typeof raw === "string") return { spec: parseNotifyFlag(raw), events: [], lanes: [] };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail(where, `expected a mapping like {webhook: URL}, {ntfy: URL} or {desktop: true}, got ${JSON.stringify(raw)}`);
  const entry = raw as Record<string, unknown>;
  const kinds = ["webhook", "ntfy", "desktop"].filter((k) => k in entry);
  if (kinds.length !== 1) fail(where, `expected exactly one of webhook, ntfy or desktop, got ${kinds.length === 0 ? "none" : kinds.join(" and ")}`);
  const known = new Set(["webhook", "ntfy", "desktop", "format", "events", "lanes"]);
  const unknown = Object.keys(entry).filter((k) => !known.has(k));
  if (unknown.length > 0) fail(where, `unknown keys ${unknown.join(", ")} (known: ${[...known].join(", ")})`);
  let spec: SinkSpec;
  if (kinds[0] === "desktop") {
    if (entry.desktop !== true) fail(`${where}.desktop`, `expected true, got ${JSON.stringify(entry.desktop)}`);
    spec = { type: "desktop" };
  } else if (kinds[0] === "ntfy") {
    spec = { type: "ntfy", url: httpUrl(entry.ntfy, `${where}.ntfy`) };
  } else {
    const format = entry.format ?? "json";
    if (!FORMATS.includes(format as WebhookFormat)) fail(`${where}.format`, `expected one of ${FORMATS.join(", ")}, got ${JSON.stringify(format)}`);
    spec = { type: "webhook", url: httpUrl(entry.webhook, `${where}.webhook`), format: format as WebhookFormat };
  }
  return { spec, events: eventList(entry.events, `${where}.events`), lanes: stringList(entry.lanes, `${where}.lanes`) };
}

/**
 * The notification settings from handoff.yaml's `notify:` (undefined when
 * absent) and the `--notify` flags; null when there is no sink at all.
 */
export function resolveNotifyConfig(section: unknown, flags: readonly string[], file = "handoff.yaml"): NotifyConfig | null {
  const where = `${file}: notify`;
  let raw: Record<string, unknown> = {};
  if (section !== undefined && section !== null) {
    if (typeof section !== "object" || Array.isArray(section)) fail(where, `expected a mapping with sinks, events, lanes, rate_limit, timeout_seconds, got ${JSON.stringify(section)}`);
    raw = section as Record<string, unknown>;
    const known = new Set(["sinks", "events", "lanes", "rate_limit", "timeout_seconds"]);
    const unknown = Object.keys(raw).filter((k) => !known.has(k));
    if (unknown.length > 0) fail(where, `unknown keys ${unknown.join(", ")} (known: ${[...known].join(", ")})`);
  }
  const events = eventList(raw.events, `${where}.events`);
  const lanes = stringList(raw.lanes, `${where}.lanes`);
  const rawSinks = raw.sinks ?? [];
  if (!Array.isArray(rawSinks)) fail(`${where}.sinks`, `expected a list, got ${JSON.stringify(rawSinks)}`);
  const sinks: SinkConfig[] = rawSinks.map((item, i) => {
    const sink = parseSink(item, `${where}.sinks[${i}]`);
    return { spec: sink.spec, events: sink.events.length > 0 ? sink.events : events, lanes: sink.lanes.length > 0 ? sink.lanes : lanes };
  });
  for (const flag of flags) sinks.push({ spec: parseNotifyFlag(flag), events, lanes });
  if (sinks.length === 0) return null;

  const rate = raw.rate_limit ?? {};
  if (typeof rate !== "object" || rate === null || Array.isArray(rate)) fail(`${where}.rate_limit`, `expected {max, per_seconds}, got ${JSON.stringify(rate)}`);
  const { max, per_seconds: perSeconds } = rate as Record<string, unknown>;
  const rateMax = positive(max, `${where}.rate_limit.max`, NOTIFY_DEFAULTS.rateMax);
  if (!Number.isInteger(rateMax)) fail(`${where}.rate_limit.max`, `expected a whole number > 0, got ${JSON.stringify(max)}`);
  return {
    sinks,
    rateLimit: { max: rateMax, perSeconds: positive(perSeconds, `${where}.rate_limit.per_seconds`, NOTIFY_DEFAULTS.ratePerSeconds) },
    timeoutMs: positive(raw.timeout_seconds, `${where}.timeout_seconds`, NOTIFY_DEFAULTS.timeoutMs / 1000) * 1000,
  };
}
