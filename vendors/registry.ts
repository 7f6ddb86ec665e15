// Finds the adapter a supervisor runs: a built-in by name, or a plugin module
// given with --vendor-module (a path or a package name). A plugin that does
// not look like an adapter is refused at start-up with one line naming the
// module and what is missing, never halfway through a task.

import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createAgyAdapter } from "./agy.js";
import { createClaudeAdapter } from "./claude.js";
import { createCodexAdapter } from "./codex.js";
import { createGeminiAdapter } from "./gemini.js";
import type { AdapterFactory, VendorAdapter, VendorConfig } from "./types.js";

/** Names `loadAdapter` knows without a module. */
export const builtinAdapterNames: readonly string[] = ["claude", "codex", "gemini", "agy", "command", "demo"];

/** Thrown when an adapter cannot be found, loaded or is malformed. */
export class VendorModuleError extends Error {
  override name = "VendorModuleError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

export interface LoadAdapterOptions {
  /** The vendor's merged configuration, handed to the factory. */
  config: VendorConfig;
  /** --vendor-module: a file path (resolved against cwd) or a package name. Wins over `name`. */
  modulePath?: string;
  /** @default process.cwd() */
  cwd?: string;
}

type Loader = () => Promise<AdapterFactory>;

// command and demo live in modules the supervisor side owns; they are
// imported by a computed specifier so this file builds and runs without them.
const COMMAND_MODULE = "./command.js";
const DEMO_MODULE = "./demo.js";

const BUILTINS: Readonly<Record<string, Loader>> = {
  claude: async () => createClaudeAdapter,
  codex: async () => createCodexAdapter,
  gemini: async () => createGeminiAdapter,
  agy: async () => createAgyAdapter,
  command: async () => factoryExport(await importBuiltin(COMMAND_MODULE, "command"), "createCommandAdapter", "vendors/command"),
  demo: async () => factoryExport(await importBuiltin(DEMO_MODULE, "demo"), "createDemoAdapter", "vendors/demo"),
};

/** The adapter for `name`, or for the plugin at options.modulePath. */
export async function loadAdapter(name: string, options: LoadAdapterOptions): Promise<VendorAdapter> {
  if (options.modulePath) return loadAdapterModule(options.modulePath, options);
  const loader = Object.hasOwn(BUILTINS, name) ? BUILTINS[name] : undefined;
  if (!loader) {
    throw new VendorModuleError(`unknown vendor ${JSON.stringify(name)}; built-in vendors are ${builtinAdapterNames.join(", ")} (use --vendor-module for a plugin)`);
  }
  const factory = await loader();
  return validateAdapter(await factory({ config: options.config }), `built-in vendor ${name}`);
}

/** Loads a plugin module and builds its adapter (default export or `createAdapter`, factory or ready object). */
export async function loadAdapterModule(specifier: string, options: LoadAdapterOptions): Promise<VendorAdapter> {
  const cwd = options.cwd ?? process.cwd();
  const label = `vendor module ${specifier}`;
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(resolveModuleUrl(specifier, cwd))) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new VendorModuleError(`${label}: cannot be loaded (${reason})`, { cause: error });
  }
  const candidate = namespace.createAdapter ?? namespace.default ?? namespace;
  let adapter: unknown = candidate;
  if (typeof candidate === "function") {
    try {
      adapter = await (candidate as AdapterFactory)({ config: options.config });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new VendorModuleError(`${label}: its adapter factory threw: ${reason}`, { cause: error });
    }
  }
  return validateAdapter(adapter, label);
}

/** A file URL for paths (relative ones against cwd), else the package resolved from cwd. */
export function resolveModuleUrl(specifier: string, cwd: string): string {
  if (specifier.startsWith("file:")) return specifier;
  const looksLikePath = path.isAbsolute(specifier) || specifier.startsWith(".") || /\.[cm]?[jt]s$/.test(specifier);
  if (looksLikePath) return pathToFileURL(path.resolve(cwd, specifier)).href;
  try {
    // Resolve a package from the user's project, not from agent-lanes' own install.
    return pathToFileURL(createRequire(path.join(cwd, "noop.js")).resolve(specifier)).href;
  } catch {
    // ESM-only packages may refuse require-resolution; let import() try from here.
    return specifier;
  }
}

/** Checks the adapter's shape; the error names the module and every missing piece. */
export function validateAdapter(value: unknown, label: string): VendorAdapter {
  if (value === null || typeof value !== "object") {
    throw new VendorModuleError(
      `${label}: expected an adapter object or a factory returning one (export default or createAdapter), got ${value === null ? "null" : typeof value}`,
    );
  }
  const record = value as Record<string, unknown>;
  const missing: string[] = [];
  if (typeof record.name !== "string" || record.name.trim() === "") missing.push("name (a non-empty string)");
  for (const method of ["accepts", "invocation", "settle"]) {
    if (typeof record[method] !== "function") missing.push(`${method}() (a function)`);
  }
  if (record.supportsEffort !== undefined && typeof record.supportsEffort !== "boolean") missing.push("supportsEffort as a boolean");
  if (missing.length > 0) throw new VendorModuleError(`${label}: not a vendor adapter; missing ${missing.join(", ")}`);
  return value as VendorAdapter;
}

async function importBuiltin(specifier: string, name: string): Promise<Record<string, unknown>> {
  try {
    return (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new VendorModuleError(`built-in vendor ${name} is not available in this build (${reason})`, { cause: error });
  }
}

function factoryExport(namespace: Record<string, unknown>, exportName: string, label: string): AdapterFactory {
  const factory = namespace[exportName];
  if (typeof factory !== "function") throw new VendorModuleError(`${label}: missing export ${exportName}()`);
  return factory as AdapterFactory;
}
