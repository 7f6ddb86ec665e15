// Recognises the usage-limit and rate-limit texts of the agent CLIs
// (VENDOR-CLIS.md) and the reset time they announce. A limit is never the
// task's fault: the supervisor releases the task and pauses the vendor, so a
// false positive costs a pause and a false negative fails a good task.
// These text patterns are the second tier: adapters read typed signals first
// (claude's `api_error_status` and `rate_limit_event`, codex's `turn.failed`
// and `error` events) and come here for the wording and the reset time. Only
// ever call this on a failed run's error channel (is_error text, turn.failed,
// stderr of a non-zero exit): a successful answer that *mentions* or even
// starts with "You've hit your session limit" is an answer, never a pause.

/** What kind of limit a text announces. */
export type LimitKind = "session-limit" | "weekly-limit" | "model-limit" | "usage-limit" | "rate-limit" | "overloaded" | "quota";

export interface LimitMatch {
  kind: LimitKind;
  /** The line that matched, trimmed and capped. */
  message: string;
  /** When the vendor said the limit resets; null when it gave no (parsable) time. */
  resetAt: Date | null;
  /** The reset named a date (an epoch or a calendar day), not just a clock time or a duration. */
  dated: boolean;
}

export interface LimitOptions {
  /** @default new Date() */
  now?: Date;
  /** IANA zone for clock times that name none; undefined = this machine's local zone. */
  timeZone?: string;
}

const APOS = "['\u2019]";
const MESSAGE_MAX_CHARS = 500;

interface Rule {
  kind: LimitKind | ((line: string) => LimitKind);
  test: RegExp;
}

// Order matters: the first rule that matches a line wins, so the specific
// texts (with reset times) come before the generic rate-limit ones.
const RULES: readonly Rule[] = [
  { kind: "usage-limit", test: /Claude AI usage limit reached\|\d{9,13}/i },
  {
    kind: (line) => {
      if (/\b(?:session|5-hour)\s+limit/i.test(line)) return "session-limit";
      if (/\b(?:opus|sonnet)\b[^.\n]*\blimit/i.test(line)) return "model-limit";
      if (/\bweekly\s+limit/i.test(line)) return "weekly-limit";
      return "usage-limit";
    },
    test: new RegExp(
      `(?:you${APOS}ve|you have) hit your [^.\\n]*\\blimit\\b|\\b(?:session|weekly|opus|sonnet|5-hour|daily|usage)(?: weekly)? limit (?:reached|exceeded|hit)\\b`,
      "i",
    ),
  },
  { kind: "usage-limit", test: /\bout of credits\b|\bhit your spend cap\b/i },
  { kind: "quota", test: /exhausted your (?:daily )?quota|\bquota exceeded\b/i },
  { kind: "overloaded", test: /\b529\b[^\n]*overloaded|overloaded_error|Repeated 529\b/i },
  {
    kind: "rate-limit",
    test: /API Error: Request rejected \(429\)|API Error: Rate limit reached|\brate[ _-]?limit(?:ed)? (?:reached|exceeded|error)|\brate_limit_error\b|\b429\b[^\n]*(?:too many requests|rate|resource[ _]?exhausted|quota)|\bToo Many Requests\b|\bRESOURCE_EXHAUSTED\b/i,
  },
];

/** The first limit text in `text`, with its reset time, or null. */
export function detectUsageLimit(text: string, options: LimitOptions = {}): LimitMatch | null {
  if (!text) return null;
  const now = options.now ?? new Date();
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    const found = line === "" ? null : matchLine(line);
    if (found) {
      const reset = resetFromLine(line, now, options.timeZone);
      return { kind: found.kind, message: line.slice(0, MESSAGE_MAX_CHARS), resetAt: reset.at, dated: reset.dated };
    }
  }
  return null;
}

function matchLine(line: string): { kind: LimitKind; index: number } | null {
  for (const rule of RULES) {
    const match = rule.test.exec(line);
    if (match) return { kind: typeof rule.kind === "function" ? rule.kind(line) : rule.kind, index: match.index };
  }
  return null;
}

function resetFromLine(line: string, now: Date, timeZone: string | undefined): { at: Date | null; dated: boolean } {
  const epoch = /limit reached\|(\d{9,13})/i.exec(line);
  if (epoch?.[1]) {
    const value = Number(epoch[1]);
    return { at: new Date(value > 1e12 ? value : value * 1000), dated: true };
  }
  const after = /\b(?:resets?|try again|retry)\s+(at|in|after|on)?\s*(.+)$/i.exec(line);
  if (!after?.[2]) return { at: null, dated: false };
  const expression = after[2].replace(/\.\s*$/, "");
  const dated = DATE_PATTERN.test(expression);
  if (after[1]?.toLowerCase() === "in" || after[1]?.toLowerCase() === "after") {
    const duration = parseDuration(expression, now);
    if (duration) return { at: duration, dated: false };
  }
  return { at: parseResetTime(expression, { now, timeZone }), dated };
}

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

/** "4 days 19 hours 41 minutes", "2h 5m", "23.5s" -> now + that; null when it is no duration. */
export function parseDuration(expression: string, now: Date): Date | null {
  // No \b after the unit: "2h5m" packs units together.
  const re = /(\d+(?:\.\d+)?)\s*(days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)(?![a-z])/gi;
  let total = 0;
  let found = false;
  for (const match of expression.matchAll(re)) {
    const unit = (match[2] ?? "s").toLowerCase();
    const key = unit.startsWith("mi") || unit === "m" ? "m" : (unit[0] ?? "s");
    total += Number(match[1]) * (UNIT_MS[key] ?? 1000);
    found = true;
  }
  return found ? new Date(now.getTime() + Math.round(total)) : null;
}

/** "Nov 27", "Sep 26th, 2026", "sept. 3": a calendar day in a reset text. */
const DATE_PATTERN = /\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s*(\d{4})\b)?/i;

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/**
 * A clock time as the CLIs print it ("3:45pm", "3pm (Europe/Berlin)",
 * "Oct 9, 10am", "Sep 26th, 2026 3:05 PM", "15:45") -> the next such instant
 * after `now`. A zone in parentheses wins; else options.timeZone; else local.
 */
export function parseResetTime(expression: string, options: LimitOptions = {}): Date | null {
  const now = options.now ?? new Date();
  let zone = options.timeZone;
  const zoneMatch = /\(([A-Za-z][A-Za-z0-9_+\-]*(?:\/[A-Za-z0-9_+\-]+)*)\)/.exec(expression);
  if (zoneMatch?.[1] && isTimeZone(zoneMatch[1])) zone = zoneMatch[1];
  let rest = expression.replace(/\([^)]*\)/g, " ");

  let date: { month: number; day: number; year: number | null } | null = null;
  const dateMatch = DATE_PATTERN.exec(rest);
  if (dateMatch?.[1] && dateMatch[2]) {
    date = { month: MONTHS.indexOf(dateMatch[1].toLowerCase()) + 1, day: Number(dateMatch[2]), year: dateMatch[3] ? Number(dateMatch[3]) : null };
    rest = rest.slice(0, dateMatch.index) + " " + rest.slice(dateMatch.index + dateMatch[0].length);
  }

  const timeMatch = /\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s*m\b\.?|\b(\d{1,2}):(\d{2})\b/i.exec(rest);
  if (!timeMatch) return null;
  let hour: number;
  let minute: number;
  if (timeMatch[1] !== undefined) {
    hour = Number(timeMatch[1]) % 12;
    minute = timeMatch[2] ? Number(timeMatch[2]) : 0;
    if ((timeMatch[3] ?? "").toLowerCase() === "p") hour += 12;
  } else {
    hour = Number(timeMatch[4]);
    minute = Number(timeMatch[5]);
  }
  if (hour > 23 || minute > 59) return null;

  const today = wallClock(now, zone);
  if (date !== null) {
    const year = date.year ?? today.year;
    let at = wallToInstant({ year, month: date.month, day: date.day, hour, minute }, zone);
    // "Jan 2" printed on Dec 30 means next year; allow a day of clock skew backwards.
    if (date.year === null && at.getTime() < now.getTime() - 86_400_000) {
      at = wallToInstant({ year: year + 1, month: date.month, day: date.day, hour, minute }, zone);
    }
    return at;
  }
  const at = wallToInstant({ year: today.year, month: today.month, day: today.day, hour, minute }, zone);
  if (at.getTime() > now.getTime()) return at;
  const tomorrow = new Date(Date.UTC(today.year, today.month - 1, today.day + 1));
  return wallToInstant({ year: tomorrow.getUTCFullYear(), month: tomorrow.getUTCMonth() + 1, day: tomorrow.getUTCDate(), hour, minute }, zone);
}

/** True when Intl knows the zone name. */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock reading of `instant` in `zone` (undefined = local). */
function wallClock(instant: Date, zone: string | undefined): Wall & { second: number } {
  const key = zone ?? "";
  let format = formatters.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(key, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(instant)) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  return { year: parts.year ?? 1970, month: parts.month ?? 1, day: parts.day ?? 1, hour: parts.hour ?? 0, minute: parts.minute ?? 0, second: parts.second ?? 0 };
}

/** Offset of `zone` from UTC at `instant`, in ms. */
function zoneOffsetMs(instant: number, zone: string | undefined): number {
  const wall = wallClock(new Date(instant), zone);
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  return asUtc - Math.floor(instant / 1000) * 1000;
}

/** The instant whose wall clock in `zone` reads `wall` (in a DST gap: just after it). */
function wallToInstant(wall: Wall, zone: string | undefined): Date {
  const guess = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  // Two rounds settle the offset except inside a DST transition, where the
  // second offset is the one in force after the change.
  const first = guess - zoneOffsetMs(guess, zone);
  const second = guess - zoneOffsetMs(first, zone);
  return new Date(second);
}
