// Durations as people write them in flags and handoff.yaml: a number and a
// unit (`90s`, `45m`, `24h`, `30d`, `2w`), or a bare number of seconds.

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Milliseconds of a duration, or null when `text` is not one. */
export function parseDuration(text: unknown): number | null {
  if (typeof text === "number") return Number.isFinite(text) && text >= 0 ? text * 1000 : null;
  if (typeof text !== "string") return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$/i.exec(text);
  if (!m) return null;
  const ms = Number(m[1]) * (UNIT_MS[(m[2] || "s").toLowerCase()] as number);
  return Number.isFinite(ms) ? ms : null;
}

/** The words of the duration rule, for error messages. */
export const DURATION_RULE = "a duration such as 90s, 45m, 24h, 30d or 2w";
