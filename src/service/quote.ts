// Escaping for the two file formats we render. systemd: words are split on
// blanks, quotes and C escapes are processed, "%" starts a specifier and "$"
// a variable in ExecStart; plist: XML text. The parse functions are the
// inverses, used to read back what we wrote (service list).

import { ServiceError } from "./errors.js";

const SYSTEMD_SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** True when `text` has a character no unit file or plist line can carry safely. */
export function hasControlChars(text: string): boolean {
  return CONTROL_CHARS.test(text);
}

function escapeInQuotes(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%");
}

/** One ExecStart word: specifiers and variables disarmed, quoted when it holds anything but plain path characters. */
export function systemdExecWord(value: string): string {
  const escaped = escapeInQuotes(value).replace(/\$/g, "$$$$");
  return SYSTEMD_SAFE_WORD.test(value) ? escaped : `"${escaped}"`;
}

const EXECUTABLE_REFUSED = /["'\\]/;

/** systemd refuses quotes and backslashes in the executable path itself, whatever the escaping. */
export function isSystemdExecutable(file: string): boolean {
  return !EXECUTABLE_REFUSED.test(file) && !hasControlChars(file);
}

/**
 * The executable word of ExecStart: specifiers apply to it but variables do
 * not (a "$$" there stays two characters), so only "%" is doubled.
 */
export function systemdExecutable(file: string): string {
  if (!isSystemdExecutable(file)) throw new ServiceError(`systemd does not accept quotes or backslashes in an executable path: ${file}`);
  const escaped = file.replace(/%/g, "%%");
  return SYSTEMD_SAFE_WORD.test(file) ? escaped : `"${escaped}"`;
}

/** A whole ExecStart= value for an argv (no variable expansion, no specifiers). */
export function systemdExecLine(argv: readonly string[]): string {
  const [file = "", ...args] = argv;
  return [systemdExecutable(file), ...args.map(systemdExecWord)].join(" ");
}

/** An Environment= value for one variable; "$" is literal there, so only quotes, backslashes and "%" are escaped. */
export function systemdEnvironment(name: string, value: string): string {
  return `"${escapeInQuotes(`${name}=${value}`)}"`;
}

const C_ESCAPES: Readonly<Record<string, string>> = { n: "\n", t: "\t", r: "\r", "\\": "\\", '"': '"', "'": "'", s: " " };

/**
 * Split a systemd value into words the way the service manager does for the
 * forms we write: blanks separate, double or single quotes group, backslash
 * escapes, "%%" and (when `exec`, after the executable) "$$" collapse to one
 * character.
 */
export function parseSystemdWords(line: string, options: { exec?: boolean } = {}): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i += 1) {
    const ch = line[i] as string;
    if (quote === null && (ch === " " || ch === "\t")) {
      if (word !== null) words.push(word);
      word = null;
      continue;
    }
    word ??= "";
    if (ch === quote) {
      quote = null;
    } else if (quote === null && (ch === '"' || ch === "'")) {
      quote = ch;
    } else if (ch === "\\" && i + 1 < line.length) {
      i += 1;
      const next = line[i] as string;
      word += C_ESCAPES[next] ?? next;
    } else if ((ch === "%" || (options.exec === true && words.length > 0 && ch === "$")) && line[i + 1] === ch) {
      i += 1;
      word += ch;
    } else {
      word += ch;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

const XML_ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };
const XML_ENTITIES: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Text for a plist <string> element. */
export function xmlEscape(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => XML_ESCAPES[ch] as string);
}

/** Inverse of xmlEscape, plus numeric character references. */
export function xmlUnescape(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith("#x")) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith("#")) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
    return XML_ENTITIES[ref] ?? whole;
  });
}
