// JSON text in the style Python's json.dumps(..., sort_keys=True) produces, so
// files we write are byte-identical to the Python implementation's: keys
// sorted, ", " and ": " separators, non-ASCII escaped as \uXXXX.

/** Serialise like json.dumps(value, indent=indent, sort_keys=True). */
export function toPythonJson(value: unknown, indent: number | null = null): string {
  if (indent === 2) return toPythonJsonIndent2(value);
  return encode(value, indent, "");
}

/** Keys JSON.stringify would look up through the prototype (`__proto__`), and the signal that a value has one. */
const UNSORTABLE = new Error("a key JSON.stringify cannot take from a property list");

/**
 * Every own key of every object in `value` (toJSON applied), into `keys`.
 * Throws UNSORTABLE for what the property list cannot write as Python would.
 */
function collectKeys(value: unknown, keys: Set<string>): void {
  if (value === null || typeof value !== "object") {
    if (typeof value === "bigint") throw UNSORTABLE;
    return;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
    collectKeys((value as { toJSON(): unknown }).toJSON(), keys);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) collectKeys(item, keys);
    return;
  }
  for (const key of Object.keys(value)) {
    if (key === "__proto__") throw UNSORTABLE;
    keys.add(key);
    const member = (value as Record<string, unknown>)[key];
    if (member !== null && typeof member === "object") collectKeys(member, keys);
    else if (typeof member === "bigint") throw UNSORTABLE;
  }
}

const NON_ASCII = /[\u007f-\uffff]/g;

/**
 * json.dumps(value, indent=2, sort_keys=True) through the engine's own
 * JSON.stringify: its indent-2 layout, separators and escapes are Python's,
 * and given a property list (every key of the value, sorted) it writes each
 * object's keys in that list's order, which is sort_keys' order, without a
 * sorted copy of the data. Only ensure_ascii is left to do. Several times
 * faster than encode() on large payloads (status --all of a long-lived queue).
 */
function toPythonJsonIndent2(value: unknown): string {
  const keys = new Set<string>();
  try {
    collectKeys(value, keys);
  } catch (error) {
    if (error === UNSORTABLE) return encode(value, 2, "");
    throw error;
  }
  const text = JSON.stringify(value, [...keys].sort(), 2) ?? "null";
  return /[\u007f-\uffff]/.test(text) ? text.replace(NON_ASCII, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`) : text;
}

/** The file form used for task.json / response.json: indent 2, trailing newline. */
export function toJsonFile(value: unknown): string {
  return `${toPythonJson(value, 2)}\n`;
}

/** One events.jsonl line (no newline). */
export function toJsonLine(value: unknown): string {
  return toPythonJson(value, null);
}

/** The plain recursive encoder (every indent); the reference the fast indent-2 path is tested against. */
export function toPythonJsonReference(value: unknown, indent: number | null = null): string {
  return encode(value, indent, "");
}

function encode(value: unknown, indent: number | null, pad: string): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "string":
      return encodeString(value);
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return value.toString();
    case "object":
      break;
    default:
      return "null";
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
    return encode((value as { toJSON(): unknown }).toJSON(), indent, pad);
  }
  const inner = indent === null ? "" : pad + " ".repeat(indent);
  const open = indent === null ? "" : `\n${inner}`;
  const close = indent === null ? "" : `\n${pad}`;
  const sep = indent === null ? ", " : `,\n${inner}`;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[${open}${value.map((item) => encode(item, indent, inner)).join(sep)}${close}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return "{}";
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const body = entries.map(([k, v]) => `${encodeString(k)}: ${encode(v, indent, inner)}`).join(sep);
  return `{${open}${body}${close}}`;
}

function encodeString(text: string): string {
  // JSON.stringify already escapes quotes, backslashes and control characters
  // the way Python does; only non-ASCII needs Python's ensure_ascii escaping.
  return JSON.stringify(text).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
