// JSON text in the style Python's json.dumps(..., sort_keys=True) produces, so
// files we write are byte-identical to the Python implementation's: keys
// sorted, ", " and ": " separators, non-ASCII escaped as \uXXXX.

/** Serialise like json.dumps(value, indent=indent, sort_keys=True). */
export function toPythonJson(value: unknown, indent: number | null = null): string {
  if (indent === 2) return toPythonJsonIndent2(value);
  return encode(value, indent, "");
}

/**
 * A copy of `value` as JSON data with every object's keys in sorted order
 * (toJSON applied, undefined members dropped, undefined array items null).
 */
function sortedData(value: unknown): unknown {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number") return Number.isFinite(value) ? value : null;
    if (typeof value === "bigint") return Number(value);
    return typeof value === "string" || typeof value === "boolean" ? value : null;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return sortedData((value as { toJSON(): unknown }).toJSON());
  if (Array.isArray(value)) {
    // Copy only when an item changed (parsed JSON usually needs nothing).
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i += 1) {
      const item = value[i] as unknown;
      const data = sortedData(item);
      if (data !== item && out === null) out = value.slice(0, i);
      out?.push(data);
    }
    return out ?? value;
  }
  const keys = Object.keys(value);
  const data = new Array<unknown>(keys.length);
  let same = true;
  for (let i = 0; i < keys.length; i += 1) {
    const key = keys[i] as string;
    // JavaScript objects list integer-like keys first whatever the insertion order.
    if (INDEX_KEY.test(key) || key === "__proto__") throw UNSORTABLE;
    const v = (value as Record<string, unknown>)[key];
    data[i] = v === undefined ? undefined : sortedData(v);
    if (same && (v === undefined || data[i] !== v || (i > 0 && (keys[i - 1] as string) > key))) same = false;
  }
  if (same) return value;
  const order = keys.map((_, i) => i).sort((a, b) => ((keys[a] as string) < (keys[b] as string) ? -1 : 1));
  const out: Record<string, unknown> = {};
  for (const i of order) if (data[i] !== undefined) out[keys[i] as string] = data[i];
  return out;
}

/** Keys an object keeps ahead of the others (array-index-like), and the signal that a value has one. */
const INDEX_KEY = /^(?:0|[1-9]\d*)$/;
const UNSORTABLE = new Error("integer-like key");

const NON_ASCII = /[\u007f-\uffff]/g;

/**
 * json.dumps(value, indent=2, sort_keys=True) through the engine's own
 * JSON.stringify: its indent-2 layout, separators and escapes are Python's,
 * so only key order and ensure_ascii need doing. Several times faster than
 * encode() on large payloads (status --all of a long-lived queue).
 */
function toPythonJsonIndent2(value: unknown): string {
  let data: unknown;
  try {
    data = sortedData(value);
  } catch (error) {
    if (error === UNSORTABLE) return encode(value, 2, "");
    throw error;
  }
  const text = JSON.stringify(data, null, 2);
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
