// The files `init` and `init-pool` write come from templates/ with
// {{PLACEHOLDER}} substitution. This module finds the installation (templates/
// and the CLI entry the generated scripts run) and quotes values for the two
// languages they land in: POSIX shell and YAML.

import { existsSync } from "node:fs";
import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { quote } from "shell-quote";

let cachedRoot: string | undefined;

/**
 * The package root: the nearest folder above this module that holds both
 * package.json and templates/. Works from src/cli under vitest and from
 * dist/src/cli once built, without assuming how deep either is.
 */
export function packageRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json")) && existsSync(path.join(dir, "templates"))) return (cachedRoot = dir);
    if (path.dirname(dir) === dir) throw new Error(`cannot find the agent-lanes package root (package.json next to templates/) above ${start}`);
  }
}

/** Absolute path of the built CLI entry of this installation (the package's bin); generated scripts run it. */
export function cliEntryPath(): string {
  return path.join(packageRoot(), "dist", "src", "cli", "main.cjs");
}

/** Read templates/<name> (e.g. "init/handoff.yaml"). */
export async function loadTemplate(name: string): Promise<string> {
  const file = path.join(packageRoot(), "templates", name);
  try {
    return await fs.readFile(file, "utf8");
  } catch (error) {
    throw new Error(`template missing from this installation: ${file}`, { cause: error });
  }
}

/**
 * Replace every {{NAME}} in `text` with values[NAME], in one pass: a value is
 * never scanned again, so a path that happens to contain "{{X}}" stays as it
 * is. A placeholder without a value is an error, not an empty string, so a
 * template typo cannot ship a broken script.
 */
export function renderTemplate(text: string, values: Readonly<Record<string, string>>, name = "template"): string {
  return text.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_match, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`${name} uses {{${key}}}, which has no value`);
    return value;
  });
}

/** Load templates/<name> and render it. */
export async function renderFile(name: string, values: Readonly<Record<string, string>>): Promise<string> {
  return renderTemplate(await loadTemplate(name), values, name);
}

/** One shell word that reads back as exactly `value` in sh/bash (spaces, quotes, `$`, globs included). */
export function shellQuote(value: string): string {
  return quote([value]);
}

/**
 * `value` as a YAML scalar: verbatim when YAML 1.2 and 1.1 (PyYAML) both
 * read it back as the same string — so `queue_root: state` stays exactly as
 * the user typed it — otherwise double-quoted (`"007"`, `"yes"`, `"a #b"`).
 */
export async function yamlScalar(value: string): Promise<string> {
  if (value !== "" && value.trim() === value && !/[\r\n]/.test(value)) {
    // yaml loads on first use: a static import would start it in every command of the bundle.
    const { parse: parseYaml } = await import("yaml");
    try {
      const sameIn = (version: "1.1" | "1.2"): boolean => (parseYaml(`k: ${value}\n`, { version }) as { k?: unknown } | null)?.k === value;
      if (sameIn("1.2") && sameIn("1.1")) return value;
    } catch {
      // Not a valid plain scalar: quote it.
    }
  }
  return JSON.stringify(value);
}
