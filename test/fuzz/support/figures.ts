// Figures of the reliability suites (cases tried, tasks, kills, failures),
// written to .tmp/reliability/<suite>.json so `npm run test:reliability` can
// print one report. Properties run through fc.check, not fc.assert, so the
// number of cases really tried is known even when one fails.

import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";

/** Where every suite drops its figures (relative to the repository root, vitest's cwd). */
export const FIGURES_DIR = path.resolve(process.cwd(), ".tmp", "reliability");

/**
 * The fuzz seed: AGENT_LANES_FUZZ_SEED replays a reported failure; otherwise
 * each run explores new cases (the seed is in every failure message).
 */
export const FUZZ_SEED = process.env.AGENT_LANES_FUZZ_SEED ? Number(process.env.AGENT_LANES_FUZZ_SEED) : Date.now() % 2 ** 31;

/** AGENT_LANES_FUZZ_SCALE multiplies every suite's case count (deep local runs); CI keeps 1. */
const FUZZ_SCALE = Math.max(0.1, Number(process.env.AGENT_LANES_FUZZ_SCALE ?? "1") || 1);

/** `runs` cases, scaled by AGENT_LANES_FUZZ_SCALE. */
export function runs(count: number): number {
  return Math.max(1, Math.round(count * FUZZ_SCALE));
}

export interface PropertyFigure {
  runs: number;
  failed: boolean;
  seed: number;
}

export interface SuiteFigures {
  suite: string;
  /** The seed of this run (fuzz cases, chaos kill moments, the Python peer's choices). */
  seed: number;
  /** Fuzz cases tried over all properties. */
  cases: number;
  /** Properties or invariants that failed in this run. */
  failures: number;
  tasks: number;
  kills: number;
  properties: Record<string, PropertyFigure>;
  notes: string[];
}

export interface Figures {
  /** Run a property with fc.check, record it, throw fast-check's report when it fails. */
  check<Ts>(name: string, property: fc.IAsyncProperty<Ts> | fc.IProperty<Ts>, params?: fc.Parameters<Ts>): Promise<void>;
  /** Add non-fuzz figures (chaos: tasks, kills; any suite: failures found by plain assertions). */
  add(figures: Partial<Pick<SuiteFigures, "tasks" | "kills" | "failures" | "cases">>): void;
  note(text: string): void;
  /** Run plain assertions; a throw counts as a failure found, then propagates. */
  guard<T>(body: () => Promise<T>): Promise<T>;
  /** Write .tmp/reliability/<suite>.json (call from afterAll). */
  write(): void;
}

export function createFigures(suite: string): Figures {
  const figures: SuiteFigures = { suite, seed: FUZZ_SEED, cases: 0, failures: 0, tasks: 0, kills: 0, properties: {}, notes: [] };
  return {
    async check(name, property, params = {}) {
      const details = await fc.check(property as fc.IAsyncProperty<unknown>, { seed: FUZZ_SEED, ...(params as fc.Parameters<unknown>) });
      figures.cases += details.numRuns;
      figures.properties[name] = { runs: details.numRuns, failed: details.failed, seed: details.seed };
      if (details.failed) {
        figures.failures += 1;
        const cause = details.errorInstance;
        const reason = cause instanceof Error ? (cause.stack ?? cause.message) : String(cause);
        throw new Error(`${name}: ${fc.defaultReportMessage(details) ?? "property failed"}\nGot: ${reason}`, { cause });
      }
    },
    add(extra) {
      figures.tasks += extra.tasks ?? 0;
      figures.kills += extra.kills ?? 0;
      figures.failures += extra.failures ?? 0;
      figures.cases += extra.cases ?? 0;
    },
    note(text) {
      figures.notes.push(text);
    },
    async guard(body) {
      try {
        return await body();
      } catch (error) {
        figures.failures += 1;
        throw error;
      }
    },
    write() {
      mkdirSync(FIGURES_DIR, { recursive: true });
      writeFileSync(path.join(FIGURES_DIR, `${suite}.json`), `${JSON.stringify(figures, null, 2)}\n`);
    },
  };
}
