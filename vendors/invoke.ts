// Pieces every built-in adapter's invocation() shares: which executable to
// run, which tasks a vendor takes, and the child's extra environment.

import type { Task } from "../src/store/types.js";
import { effectiveTables, resolveModel, type VendorDefaults } from "./defaults.js";
import type { RunContext, VendorConfig } from "./types.js";

/**
 * `config.command` -> executable and leading argv. A string is one executable
 * path or name, never split (paths may hold spaces); a list is the executable
 * followed by leading arguments (`["npx", "-y", "some-cli"]`).
 */
export function commandLine(command: VendorConfig["command"], fallback: string): { file: string; args: string[] } {
  if (typeof command === "string" && command.trim() !== "") return { file: command, args: [] };
  if (Array.isArray(command) && typeof command[0] === "string" && command[0] !== "") {
    return { file: command[0], args: command.slice(1).map(String) };
  }
  return { file: fallback, args: [] };
}

/** True when the task names no vendor, "any", or `vendor` in metadata.required_vendor. */
export function acceptsVendor(task: Task, vendor: string): boolean {
  const wanted = task.metadata?.required_vendor;
  if (wanted === undefined || wanted === null) return true;
  if (typeof wanted !== "string") return false;
  const name = wanted.trim().toLowerCase();
  return name === "" || name === "any" || name === vendor.toLowerCase();
}

/**
 * Environment added to the supervisor's own for the child: the adapter's
 * entries first, then config.env, so a user's config always has the last word.
 */
export function childEnv(adapterEnv: Record<string, string>, config: VendorConfig): Record<string, string> | undefined {
  const env = { ...adapterEnv, ...(config.env ?? {}) };
  return Object.keys(env).length === 0 ? undefined : env;
}

/** config.args as a fresh string list (never shared with the config object). */
export function extraArgs(config: VendorConfig): string[] {
  return Array.isArray(config.args) ? config.args.map(String) : [];
}

/**
 * Where every built-in invocation starts: the vendor config in force (the
 * run's, else the adapter's own), the executable and its leading arguments,
 * the model tables, and the model id for the task's `model_class`.
 */
export function invocationBase(vendor: string, defaults: VendorDefaults, task: Task, ctx: RunContext, baseConfig: VendorConfig) {
  const config = ctx.config ?? baseConfig;
  const { file, args: lead } = commandLine(config.command, defaults.command);
  const tables = effectiveTables(defaults, config);
  const model = resolveModel(vendor, tables.models, task.metadata?.model_class, ctx.warn);
  return { config, file, lead, tables, model };
}
