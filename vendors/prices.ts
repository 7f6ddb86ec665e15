// Price tables for the vendors whose CLIs report tokens but no cost (codex,
// gemini, agy), so `cost_usd` is filled and the budgets (--daily-cost-usd)
// see every run. The figures are the vendors' published list prices per
// million tokens where one was published when this was written, and for the
// newest models the pinned CLIs list without a published price (marked
// "placeholder") the price of the tier they replace. Either way they are
// estimates (a subscription login is not billed per token at all), so a
// response whose cost comes from here also carries `cost_estimated: true`.
// Override or add models per vendor with `dispatch.vendors.<name>.prices`.

import { num, obj } from "./outcome.js";
import type { VendorConfig } from "./types.js";

/** USD per million tokens. `cachedInput` is the price of input tokens served from the prompt cache. */
export interface ModelPrice {
  input: number;
  cachedInput: number;
  output: number;
}

const p = (input: number, cachedInput: number, output: number): ModelPrice => ({ input, cachedInput, output });

/**
 * Model id prefix -> price; the longest prefix that matches the id wins, so
 * `gpt-5.1-codex-mini` finds its own row before `gpt-5.1-codex`'s.
 */
export const PRICE_TABLES: Readonly<Record<string, Readonly<Record<string, ModelPrice>>>> = {
  codex: {
    // The catalogue of the tested codex (0.169.0): placeholders by tier.
    "gpt-6-astra": p(5, 0.5, 40),
    "gpt-6.1-sol": p(1.75, 0.175, 14),
    "gpt-6-sol": p(1.75, 0.175, 14),
    "gpt-6.1-terra": p(1.25, 0.125, 10),
    "gpt-6-luna": p(0.25, 0.025, 2),
    "gpt-5.6-sol": p(1.75, 0.175, 14),
    "gpt-5.6-terra": p(1.25, 0.125, 10),
    "gpt-5.6-luna": p(0.25, 0.025, 2),
    "gpt-5.3-codex": p(1.75, 0.175, 14),
    "gpt-5.2-codex": p(1.75, 0.175, 14),
    "gpt-5.2": p(1.75, 0.175, 14),
    "gpt-5.1-codex-max": p(1.25, 0.125, 10),
    "gpt-5.1-codex-mini": p(0.25, 0.025, 2),
    "gpt-5.1-codex": p(1.25, 0.125, 10),
    "gpt-5.1": p(1.25, 0.125, 10),
    "gpt-5-codex-mini": p(0.25, 0.025, 2),
    "gpt-5-codex": p(1.25, 0.125, 10),
    "gpt-5-mini": p(0.25, 0.025, 2),
    "gpt-5-nano": p(0.05, 0.005, 0.4),
    "gpt-5": p(1.25, 0.125, 10),
    "o4-mini": p(1.1, 0.275, 4.4),
    o3: p(2, 0.5, 8),
  },
  gemini: {
    "gemini-3.1-pro": p(2, 0.2, 12),
    "gemini-3-pro": p(2, 0.2, 12),
    // Models of the tested gemini-cli (0.61.0) without a published price: placeholders by tier.
    "gemini-3.8-flash": p(0.5, 0.05, 3),
    "gemini-3.5-flash-lite": p(0.1, 0.01, 0.4),
    "gemini-3.5-flash": p(0.5, 0.05, 3),
    "gemini-3.1-flash-lite": p(0.1, 0.01, 0.4),
    "gemini-3-flash": p(0.5, 0.05, 3),
    "gemini-2.5-pro": p(1.25, 0.125, 10),
    "gemini-2.5-flash-lite": p(0.1, 0.01, 0.4),
    "gemini-2.5-flash": p(0.3, 0.03, 2.5),
    "gemini-2.0-flash-lite": p(0.075, 0.075, 0.3),
    "gemini-2.0-flash": p(0.1, 0.025, 0.4),
  },
};
// agy runs Google's models (and others) through the same account: Gemini's prices are the estimate.
(PRICE_TABLES as Record<string, Readonly<Record<string, ModelPrice>>>).agy = PRICE_TABLES.gemini as Readonly<Record<string, ModelPrice>>;

/** Tokens of one model's use: `input` counts every input token, cached ones included. */
export interface TokenUse {
  input?: number;
  cached?: number;
  output?: number;
}

/** The vendor's table with `config.prices` laid over it (config wins model by model). */
export function priceTable(vendor: string, config: VendorConfig = {}): Record<string, ModelPrice> {
  const builtin = Object.hasOwn(PRICE_TABLES, vendor) ? PRICE_TABLES[vendor] : undefined;
  const table: Record<string, ModelPrice> = { ...(builtin ?? {}) };
  for (const [model, value] of Object.entries(obj(config.prices) ?? {})) {
    const price = toPrice(value);
    if (price) table[model] = price;
  }
  return table;
}

/** The price of `model` (longest matching prefix, case-insensitive), or undefined. */
export function findPrice(table: Record<string, ModelPrice>, model: string | null | undefined): ModelPrice | undefined {
  if (!model) return undefined;
  const id = model.toLowerCase().replace(/^models\//, "");
  let best: string | undefined;
  for (const key of Object.keys(table)) {
    const k = key.toLowerCase();
    if ((id === k || id.startsWith(k)) && (best === undefined || k.length > best.length)) best = key;
  }
  return best === undefined ? undefined : table[best];
}

/** USD for `use` at `price`, rounded to a millionth of a dollar. */
export function costOf(price: ModelPrice, use: TokenUse): number {
  const input = use.input ?? 0;
  const cached = Math.min(use.cached ?? 0, input);
  const usd = ((input - cached) * price.input + cached * price.cachedInput + (use.output ?? 0) * price.output) / 1_000_000;
  return Math.round(usd * 1e6) / 1e6;
}

/**
 * The estimated cost of a run's model uses, as response metadata
 * (`cost_usd`, `cost_estimated: true`), or {} when a model has no price or
 * no tokens were reported: a guess for part of the run would understate it.
 */
export function estimateCost(vendor: string, config: VendorConfig, uses: ReadonlyArray<{ model: string | null | undefined } & TokenUse>): { cost_usd?: number; cost_estimated?: true } {
  if (uses.length === 0) return {};
  const table = priceTable(vendor, config);
  let total = 0;
  for (const use of uses) {
    const price = findPrice(table, use.model);
    if (!price || (use.input === undefined && use.output === undefined)) return {};
    total += costOf(price, use);
  }
  return { cost_usd: Math.round(total * 1e6) / 1e6, cost_estimated: true };
}

/** A `{input, cached_input, output}` mapping (USD per million tokens) -> ModelPrice; undefined if malformed. */
export function toPrice(value: unknown): ModelPrice | undefined {
  const record = obj(value);
  if (!record) return undefined;
  const input = num(record.input);
  const output = num(record.output);
  const cachedInput = num(record.cached_input) ?? num(record.cachedInput) ?? input;
  if (input === undefined || output === undefined || cachedInput === undefined || input < 0 || output < 0 || cachedInput < 0) return undefined;
  return { input, cachedInput, output };
}
