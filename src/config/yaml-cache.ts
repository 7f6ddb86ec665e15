// Parsed YAML kept beside the code cache, so a command does not parse an
// unchanged handoff.yaml (or task file) again. Every command reads the
// config; parsing it costs a one-shot command about 2 ms of CPU (the yaml
// library starts, then composes the document), as much as some whole
// commands spend on the queue.
//
// An entry holds the file's text, what it parsed to and the parser's
// warnings. It is used only when the text read now is exactly the text it
// holds, so an edit, a replaced file or another file that shares the entry's
// name is simply parsed again (and the entry rewritten). Only values that
// JSON carries unchanged are kept (no non-finite numbers, no `__proto__`
// key); anything else is parsed every time.
//
// The folder is the code cache's (~/.cache/agent-lanes, see src/cli/main.cts),
// which the bin hands over only when this user owns it and nobody else may
// write to it: a parsed config decides where tasks go and which commands
// run. Used as a library, nothing is cached.

import { readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fnv1aHex } from "../fnv.js";

/** Set by main.cjs when the per-user cache folder is safe to use: its path. */
const CACHE_DIR_MARK = Symbol.for("agent-lanes.cache-dir");

interface Entry {
  v: 1;
  text: string;
  data: unknown;
  warnings: string[];
}

/** The entry's name: a hash of the file's absolute path. */
function nameOf(file: string): string {
  return `yaml-${fnv1aHex(file)}.json`;
}

/** True when JSON carries `value` unchanged. */
function jsonSafe(value: unknown): boolean {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value) && !Object.is(value, -0);
  if (Array.isArray(value)) return value.every(jsonSafe);
  if (typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key of Object.keys(value)) if (key === "__proto__" || !jsonSafe((value as Record<string, unknown>)[key])) return false;
  return true;
}

/**
 * What `parse` makes of `text` (the content of `file`), from the cache when
 * the cached text is this text; `onWarning` gets the parser's warnings
 * either way.
 */
export async function parseYamlCached(
  file: string,
  text: string,
  parse: (text: string, onWarning: (message: string) => void) => Promise<unknown>,
  onWarning?: (message: string) => void,
): Promise<unknown> {
  const dir = (globalThis as unknown as Record<symbol, string | undefined>)[CACHE_DIR_MARK];
  const entryFile = dir === undefined ? null : path.join(dir, nameOf(path.resolve(file)));
  if (entryFile !== null) {
    try {
      const entry = JSON.parse(readFileSync(entryFile, "utf8")) as Entry;
      if (entry.v === 1 && entry.text === text && Array.isArray(entry.warnings)) {
        for (const warning of entry.warnings) onWarning?.(warning);
        return entry.data;
      }
    } catch {
      // no entry, or a damaged one: parse
    }
  }
  const warnings: string[] = [];
  const data = await parse(text, (message) => warnings.push(message));
  for (const warning of warnings) onWarning?.(warning);
  if (entryFile !== null && jsonSafe(data)) {
    try {
      const temp = `${entryFile}.${process.pid}.tmp`;
      writeFileSync(temp, JSON.stringify({ v: 1, text, data, warnings } satisfies Entry), { mode: 0o600 });
      renameSync(temp, entryFile);
    } catch {
      // best effort: the next run parses again
    }
  }
  return data;
}
