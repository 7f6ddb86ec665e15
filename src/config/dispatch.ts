// Per-vendor dispatcher settings: the `dispatch.vendors` section of
// handoff.yaml and a `--vendor-config FILE` of the same `vendors:` shape.
// Layers, later wins: built-in defaults <- handoff.yaml <- --vendor-config.
// Maps (models, efforts, env) merge key by key; lists and scalars (args,
// command, effort_flag, max_cost_usd) replace. Every type error is one line
// naming the file and the key path.

import { promises as fs } from "node:fs";
import path from "node:path";
import { VENDOR_DEFAULTS } from "../../vendors/defaults.js";
import type { VendorConfig } from "../../vendors/types.js";
import { ConfigError } from "./errors.js";
import { isMapping, keyName, kindOf, parseYamlText, resolveUserPath } from "./handoff.js";

/** The keys a vendor section may hold (YAML spelling -> VendorConfig field). */
export const VENDOR_CONFIG_KEYS: Readonly<Record<string, keyof VendorConfig & string>> = {
  command: "command",
  models: "models",
  efforts: "efforts",
  args: "args",
  env: "env",
  effort_flag: "effortFlag",
  effortFlag: "effortFlag",
  max_cost_usd: "maxCostUsd",
  maxCostUsd: "maxCostUsd",
  prices: "prices",
};

/** Every vendor section of one source, validated, plus warnings (unknown keys). */
export interface DispatchVendors {
  vendors: Record<string, VendorConfig>;
  warnings: string[];
}

interface Source {
  /** File named in messages. */
  file: string;
  /** Key path of the vendors mapping in that file (`dispatch.vendors` or `vendors`). */
  keyPath: string;
  /** Relative `command` paths resolve against this folder. */
  baseDir: string;
}

/** A built-in vendor's defaults as a VendorConfig (empty for plugins). */
export function builtinVendorConfig(vendor: string): VendorConfig {
  const defaults = Object.hasOwn(VENDOR_DEFAULTS, vendor) ? (VENDOR_DEFAULTS as Record<string, (typeof VENDOR_DEFAULTS)["claude"] | undefined>)[vendor] : undefined;
  if (!defaults) return {};
  return { command: defaults.command, models: { ...defaults.models }, efforts: { ...defaults.efforts } };
}

/** Validates the `dispatch:` section of handoff.yaml (the raw parsed value; undefined/null = none). */
export function parseDispatchSection(section: unknown, file: string): DispatchVendors {
  if (section === undefined || section === null) return { vendors: {}, warnings: [] };
  if (!isMapping(section)) throw new ConfigError(`${file}: dispatch must be a mapping, got ${kindOf(section)}`, { file, key: "dispatch" });
  // Other keys of dispatch: belong to the supervisor's own settings.
  return parseVendors(section.vendors, { file, keyPath: "dispatch.vendors", baseDir: path.dirname(path.resolve(file)) });
}

/** Reads a --vendor-config file (YAML or JSON): top-level `vendors:` or `dispatch: {vendors:}`. */
export async function loadVendorConfigFile(filePath: string, options: { cwd?: string } = {}): Promise<DispatchVendors> {
  const file = resolveUserPath(options.cwd ?? process.cwd(), filePath);
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "does not exist" : code === "EISDIR" ? "is a folder, not a file" : `cannot be read (${(error as Error).message})`;
    throw new ConfigError(`vendor config file ${reason}: ${file} (--vendor-config)`, { file, key: "--vendor-config", cause: error });
  }
  let data: unknown;
  const yamlWarnings: string[] = [];
  try {
    data = await parseYamlText(text, (message) => yamlWarnings.push(`${file}: ${message}`));
  } catch (error) {
    const reason = ((error as Error).message.split("\n")[0] ?? "").replace(/:$/, "");
    throw new ConfigError(`invalid YAML in vendor config file ${file}: ${reason}`, { file, cause: error });
  }
  if (data === null || data === undefined) return { vendors: {}, warnings: yamlWarnings };
  if (!isMapping(data)) throw new ConfigError(`vendor config file ${file} must be a mapping with a vendors: key, got ${kindOf(data)}`, { file });
  const baseDir = path.dirname(file);
  if (data.vendors === undefined && isMapping(data.dispatch)) {
    const parsed = parseVendors(data.dispatch.vendors, { file, keyPath: "dispatch.vendors", baseDir });
    parsed.warnings.unshift(...yamlWarnings);
    return parsed;
  }
  const unknown = Object.keys(data).filter((key) => key !== "vendors" && key !== "dispatch");
  const parsed = parseVendors(data.vendors, { file, keyPath: "vendors", baseDir });
  parsed.warnings.unshift(...yamlWarnings);
  if (unknown.length > 0) parsed.warnings.push(`${file}: unknown keys ${unknown.map(keyName).join(", ")} ignored (expected vendors:)`);
  return parsed;
}

/** `layer` over `base`: maps merge key by key, everything else replaces when set. */
export function mergeVendorConfig(base: VendorConfig, layer: VendorConfig): VendorConfig {
  const merged: VendorConfig = { ...base };
  for (const [key, value] of Object.entries(layer)) {
    if (value === undefined) continue;
    if ((key === "models" || key === "efforts" || key === "env") && isMapping(value)) {
      merged[key] = { ...((base[key] as Record<string, string> | undefined) ?? {}), ...(value as Record<string, string>) };
    } else {
      merged[key] = Array.isArray(value) ? [...value] : value;
    }
  }
  return merged;
}

export interface ResolveVendorConfigOptions {
  /** The raw `dispatch:` value of handoff.yaml (EngineConfig.dispatch). */
  dispatchSection?: unknown;
  /** handoff.yaml's path, for messages and relative commands. @default "handoff.yaml" */
  dispatchFile?: string;
  /** --vendor-config FILE. */
  vendorConfigPath?: string | null;
  /** Resolves vendorConfigPath. @default process.cwd() */
  cwd?: string;
  /** Receives each warning (unknown keys); the CLI logs them. */
  onWarning?: (message: string) => void;
}

/** Vendor settings that decide what runs: whoever can write them runs commands as the dispatcher's user. */
const CODE_KEYS = ["command", "args", "env"] as const;

/**
 * Refuse a config file that sets a vendor's command, args or env while its
 * group or others may write it (ssh refuses such a config the same way): a
 * project's handoff.yaml is code once it names what the dispatcher runs.
 */
export async function refuseWritableCodeConfig(file: string, vendors: DispatchVendors["vendors"], prefix = "dispatch.vendors"): Promise<void> {
  const setting = Object.entries(vendors)
    .flatMap(([vendor, section]) => CODE_KEYS.filter((key) => section[key] !== undefined).map((key) => `${prefix}.${keyName(vendor)}.${key}`))
    .at(0);
  if (setting === undefined) return;
  const stat = await fs.stat(file).catch(() => null);
  if (stat === null || (stat.mode & 0o022) === 0) return;
  const mode = (stat.mode & 0o777).toString(8).padStart(4, "0");
  throw new ConfigError(
    `${file} sets ${setting} but is group- or world-writable (mode ${mode}): anyone who can write it runs commands as you; run chmod go-w ${file}`,
    { file, key: setting },
  );
}

/** One vendor's merged configuration: built-in defaults <- handoff.yaml dispatch: <- --vendor-config. */
export async function resolveVendorConfig(vendor: string, options: ResolveVendorConfigOptions = {}): Promise<VendorConfig> {
  const fromHandoff = parseDispatchSection(options.dispatchSection, options.dispatchFile ?? "handoff.yaml");
  const fromFile = options.vendorConfigPath ? await loadVendorConfigFile(options.vendorConfigPath, { cwd: options.cwd }) : { vendors: {}, warnings: [] };
  if (options.dispatchFile) await refuseWritableCodeConfig(options.dispatchFile, fromHandoff.vendors);
  if (options.vendorConfigPath) await refuseWritableCodeConfig(resolveUserPath(options.cwd ?? process.cwd(), options.vendorConfigPath), fromFile.vendors, "vendors");
  for (const warning of [...fromHandoff.warnings, ...fromFile.warnings]) options.onWarning?.(warning);
  let config = builtinVendorConfig(vendor);
  for (const layer of [fromHandoff.vendors, fromFile.vendors].map((vendors) => (Object.hasOwn(vendors, vendor) ? vendors[vendor] : undefined))) {
    if (layer) config = mergeVendorConfig(config, layer);
  }
  return config;
}

function parseVendors(value: unknown, source: Source): DispatchVendors {
  const out: DispatchVendors = { vendors: {}, warnings: [] };
  if (value === undefined || value === null) return out;
  if (!isMapping(value)) fail(source, source.keyPath, `must be a mapping of vendor names to settings, got ${kindOf(value)}`);
  for (const [vendor, section] of Object.entries(value)) {
    out.vendors[vendor] = parseVendorSection(vendor, section, source, out.warnings);
  }
  return out;
}

function parseVendorSection(vendor: string, section: unknown, source: Source, warnings: string[]): VendorConfig {
  const at = `${source.keyPath}.${keyName(vendor)}`;
  if (section === null || section === undefined) return {};
  if (!isMapping(section)) fail(source, at, `must be a mapping (command, models, efforts, args, env, effort_flag, max_cost_usd, prices), got ${kindOf(section)}`);
  const config: VendorConfig = {};
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(section)) {
    const field = VENDOR_CONFIG_KEYS[key];
    const keyPath = `${at}.${keyName(key)}`;
    switch (field) {
      case "command":
        config.command = parseCommand(value, keyPath, source);
        break;
      case "models":
      case "efforts":
        config[field] = parseStringMap(value, keyPath, source, false);
        break;
      case "env":
        config.env = parseStringMap(value, keyPath, source, true);
        break;
      case "args":
        config.args = parseArgs(value, keyPath, source);
        break;
      case "effortFlag":
        if (typeof value !== "boolean") fail(source, keyPath, `must be true or false, got ${kindOf(value)}`);
        config.effortFlag = value;
        break;
      case "maxCostUsd":
        if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) fail(source, keyPath, `must be a number of US dollars > 0, got ${kindOf(value)}`);
        config.maxCostUsd = value;
        break;
      case "prices":
        config.prices = parsePrices(value, keyPath, source);
        break;
      default:
        // A plugin may define its own keys: pass them through untouched.
        config[key] = value;
        unknown.push(key);
    }
  }
  if (unknown.length > 0 && vendor in VENDOR_DEFAULTS) {
    warnings.push(`${source.file}: ${at}: unknown keys ${unknown.map(keyName).join(", ")} (known: command, models, efforts, args, env, effort_flag, max_cost_usd, prices)`);
  }
  return config;
}

/**
 * A relative executable path resolves against the config file's folder. A
 * string with white space is a whole command line (`node ./agent.js --x`, split
 * without a shell by the command adapter): it is kept as written, since
 * resolving it as one path would glue the arguments onto the executable.
 */
function parseCommand(value: unknown, keyPath: string, source: Source): string | string[] {
  const resolve = (command: string) => (command.includes("/") || command.startsWith("~") ? resolveUserPath(source.baseDir, command) : command);
  if (typeof value === "string" && value.trim() !== "") return /\s/.test(value.trim()) ? value : resolve(value);
  if (Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === "string") && (value[0] as string).trim() !== "") {
    const [first, ...rest] = value as string[];
    return [resolve(first as string), ...rest];
  }
  fail(source, keyPath, `must be an executable (a string) or a non-empty list of strings (executable, then leading arguments), got ${kindOf(value)}`);
}

function parseArgs(value: unknown, keyPath: string, source: Source): string[] {
  // YAML reads `- 5` as a number; an argv item is text either way.
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string" || typeof item === "number")) {
    fail(source, keyPath, `must be a list of strings, got ${kindOf(value)}`);
  }
  return value.map(String);
}

function parseStringMap(value: unknown, keyPath: string, source: Source, scalars: boolean): Record<string, string> {
  if (!isMapping(value)) fail(source, keyPath, `must be a mapping of names to strings, got ${kindOf(value)}`);
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    const ok = typeof item === "string" || (scalars && (typeof item === "number" || typeof item === "boolean"));
    if (!ok) fail(source, `${keyPath}.${keyName(key)}`, `must be a string, got ${kindOf(item)}`);
    out[key] = String(item);
  }
  return out;
}

/** `prices: {<model id>: {input, cached_input, output}}`, USD per million tokens. */
function parsePrices(value: unknown, keyPath: string, source: Source): Record<string, { input: number; cached_input: number; output: number }> {
  if (!isMapping(value)) fail(source, keyPath, `must be a mapping of model ids to {input, cached_input, output} (USD per million tokens), got ${kindOf(value)}`);
  const out: Record<string, { input: number; cached_input: number; output: number }> = {};
  for (const [model, item] of Object.entries(value)) {
    const at = `${keyPath}.${keyName(model)}`;
    if (!isMapping(item)) fail(source, at, `must be a mapping {input, cached_input, output} of USD per million tokens, got ${kindOf(item)}`);
    const price = (key: string, fallback?: number): number => {
      const v = item[key] ?? fallback;
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) fail(source, `${at}.${key}`, `must be a number of US dollars per million tokens >= 0, got ${kindOf(v)}`);
      return v;
    };
    const input = price("input");
    out[model] = { input, cached_input: price("cached_input", input), output: price("output") };
  }
  return out;
}

function fail(source: Source, keyPath: string, problem: string): never {
  throw new ConfigError(`${source.file}: ${keyPath} ${problem}`, { file: source.file, key: keyPath });
}
