// The built-in vendors' default tables: which model id a task's `model_class`
// means and which CLI value its `effort` means. They are data on purpose:
// aliases move over time, so every entry can be overridden per vendor in
// handoff.yaml (`dispatch.vendors.<name>.models|efforts`) or --vendor-config.

import type { VendorConfig } from "./types.js";

/** One vendor's defaults. `models.any` and `efforts[defaultEffort]` must exist. */
export interface VendorDefaults {
  /** Executable looked up on PATH when `config.command` is not set. */
  command: string;
  /** model_class -> model id; `any` is the vendor's default model. */
  models: Readonly<Record<string, string>>;
  /** effort -> value for the CLI's effort flag; empty when the CLI has none. */
  efforts: Readonly<Record<string, string>>;
  /** The effort a task without `effort` gets (PROTOCOL.md §9: medium). */
  defaultEffort: string;
}

/** Every built-in vendor's tables, by adapter name. */
export const VENDOR_DEFAULTS: Readonly<Record<"claude" | "codex" | "gemini", VendorDefaults>> = {
  claude: {
    command: "claude",
    // Aliases rather than pinned ids: the CLI resolves them to its current
    // models. Pin ids (`claude-opus-4-7`) in the config to stop the drift.
    models: { any: "sonnet", opus: "opus", sonnet: "sonnet", haiku: "haiku" },
    efforts: { low: "low", medium: "medium", high: "high", xhigh: "xhigh", max: "max" },
    defaultEffort: "medium",
  },
  codex: {
    command: "codex",
    // Slugs of the model catalogue built into the tested codex (0.169.0; an id
    // outside it runs on fallback metadata, with a warning). The protocol's
    // classes gpt-5-3 / gpt-5-3-spark name the current workhorse / fast model.
    models: {
      any: "gpt-6.1-sol",
      sol: "gpt-6.1-sol",
      terra: "gpt-6.1-terra",
      luna: "gpt-6-luna",
      astra: "gpt-6-astra",
      "gpt-5-3": "gpt-6.1-sol",
      "gpt-5-3-spark": "gpt-6-luna",
    },
    // The reasoning levels those models list.
    efforts: { low: "low", medium: "medium", high: "high", xhigh: "xhigh", max: "max", ultra: "ultra" },
    defaultEffort: "medium",
  },
  gemini: {
    command: "gemini",
    models: { any: "auto", auto: "auto", pro: "pro", flash: "flash", "flash-lite": "flash-lite" },
    // Gemini CLI has no effort flag; the supervisor hints the effort in the input.
    efforts: {},
    defaultEffort: "medium",
  },
};

/** A vendor's defaults with a config's tables laid over them (config wins key by key). */
export function effectiveTables(defaults: VendorDefaults, config: VendorConfig): { models: Record<string, string>; efforts: Record<string, string> } {
  return {
    models: { ...defaults.models, ...(config.models ?? {}) },
    efforts: { ...defaults.efforts, ...(config.efforts ?? {}) },
  };
}

type Warn = (message: string, data?: Record<string, unknown>) => void;

/** A metadata value as a trimmed string, or null when absent/blank/not a string. */
function metadataString(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const trimmed = value.trim();
  return trimmed === "" ? null : trimmed;
}

/**
 * The model id for a task's `model_class`. Missing or `any` -> the vendor
 * default silently; a class the table does not know -> the default plus a
 * warning on the task, so a typo never silently runs an expensive model.
 */
export function resolveModel(vendor: string, models: Record<string, string>, modelClass: unknown, warn: Warn): string {
  const fallback = models.any ?? "";
  const wanted = metadataString(modelClass);
  if (wanted === null || wanted === "any") return fallback;
  const found = Object.hasOwn(models, wanted) ? models[wanted] : undefined;
  if (found !== undefined) return found;
  warn(`unknown model_class ${JSON.stringify(wanted)} for ${vendor}; using its default model ${JSON.stringify(fallback)} (known: ${Object.keys(models).join(", ")})`, {
    vendor,
    model_class: wanted,
    model: fallback,
  });
  return fallback;
}

/** The effort value for a task's `effort`; unknown values fall back to the default with a warning. */
export function resolveEffort(vendor: string, efforts: Record<string, string>, defaultEffort: string, effort: unknown, warn: Warn): string {
  const fallback = (Object.hasOwn(efforts, defaultEffort) ? efforts[defaultEffort] : undefined) ?? defaultEffort;
  const wanted = metadataString(effort);
  if (wanted === null) return fallback;
  const found = Object.hasOwn(efforts, wanted) ? efforts[wanted] : undefined;
  if (found !== undefined) return found;
  warn(`unknown effort ${JSON.stringify(wanted)} for ${vendor}; using ${JSON.stringify(fallback)} (known: ${Object.keys(efforts).join(", ")})`, {
    vendor,
    effort: wanted,
    effort_used: fallback,
  });
  return fallback;
}
