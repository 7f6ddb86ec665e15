// JSON text in the style Python's json.dumps(..., sort_keys=True) produces, so
// files we write are byte-identical to the Python implementation's: keys
// sorted, ", " and ": " separators, non-ASCII escaped as \uXXXX.

/** Serialise like json.dumps(value, indent=indent, sort_keys=True). */
export function toPythonJson(value: unknown, indent: number | null = null): string {
  return encode(value, indent, "");
}

/** The file form used for task.json / response.json: indent 2, trailing newline. */
export function toJsonFile(value: unknown): string {
  return `${toPythonJson(value, 2)}\n`;
}

/** One events.jsonl line (no newline). */
export function toJsonLine(value: unknown): string {
  return toPythonJson(value, null);
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
