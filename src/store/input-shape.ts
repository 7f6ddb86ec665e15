// Limits on the shape of input, whoever sends it (CLI flags, task files, HTTP
// bodies, task.json written by another tool). Deep JSON overflows recursive
// encoders (ours, and a Python peer's json past ~990 levels); a newline in a
// lane or owner forges `key=value` lines in text output; `0x10` or `1e3` as a
// number is a typo more often than a wish.

import { TooDeepError, ValidationError } from "./errors.js";

/** Deepest JSON nesting accepted in bodies, task files, metadata and event data. @default 64 */
export const MAX_JSON_DEPTH = 64;

/**
 * Nesting depth of a parsed value, counted without recursion (a scalar is 0,
 * `{}` and `[]` are 1); stops counting past `limit`.
 */
export function jsonDepth(value: unknown, limit: number = MAX_JSON_DEPTH): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current !== "object" || current === null) continue;
    const here = depth + 1;
    if (here > deepest) deepest = here;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === "object" && child !== null) stack.push([child, here]);
    }
  }
  return deepest;
}

/** Depth of JSON text's nesting, read without parsing (strings skipped); for checking a body before JSON.parse. */
export function jsonTextDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i += 1; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x7b || ch === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (ch === 0x7d || ch === 0x5d) depth -= 1;
  }
  return deepest;
}

/** Refuse a value nested deeper than MAX_JSON_DEPTH; `field` names it ("metadata", "request body"). */
export function assertJsonDepth(value: unknown, field: string, options: { taskId?: string } = {}): void {
  if (jsonDepth(value) > MAX_JSON_DEPTH) {
    throw new TooDeepError(`${field} is nested deeper than ${MAX_JSON_DEPTH} levels; flatten it`, options);
  }
}

/** C0 controls and DEL (newline, tab, escape...). */
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Refuse control characters in a one-line name (lane, owner, source_agent, reviewer). */
export function assertOneLineName(field: string, value: unknown, options: { taskId?: string } = {}): void {
  if (typeof value === "string" && CONTROL.test(value)) {
    throw new ValidationError(`${field} must not contain control characters (newline, tab...), got ${JSON.stringify(value)}`, options);
  }
}

/** Plain decimal: digits, an optional fraction. No sign, exponent, hex, spaces or Infinity. */
const DECIMAL = /^[0-9]+(?:\.[0-9]+)?$/;

/** The number a strictly decimal text means, or null (`0x10`, `1e3`, `+5`, ` 7`, `Infinity` are null). */
export function parseDecimal(text: string): number | null {
  if (!DECIMAL.test(text)) return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}
