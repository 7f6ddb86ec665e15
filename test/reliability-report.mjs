#!/usr/bin/env node
// `npm run test:reliability`: run the chaos, fuzz and interop suites and the
// kill storm (its own vitest config, vitest.storm.config.ts) and print their
// figures (tasks, SIGKILLs, fuzz cases tried, failures found).
// Each suite writes .tmp/reliability/<suite>.json; this script clears them,
// runs vitest, then sums them up. Exit status: vitest's, or 1 when a suite
// reported a failure or wrote no figures.
//   node test/reliability-report.mjs            run the suites, then report
//   node test/reliability-report.mjs --report   only report the last run's figures
// AGENT_LANES_FUZZ_SEED replays a run; AGENT_LANES_FUZZ_SCALE multiplies the fuzz cases.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dir = path.join(root, ".tmp", "reliability");
const SUITES = ["test/chaos", "test/fuzz", "test/interop"];
/** Every suite that writes figures; a missing one means it did not run to its end. */
const EXPECTED = ["chaos", "kill-storm", "interop", "fuzz-config", "fuzz-queue-files", "fuzz-store-inputs", "fuzz-cli", "fuzz-http"];

let status = 0;
let durationMs = null;
if (!process.argv.includes("--report")) {
  rmSync(dir, { recursive: true, force: true });
  const vitest = path.join(root, "node_modules", ".bin", "vitest");
  const started = Date.now();
  // One seed for every suite, so a failing run replays with AGENT_LANES_FUZZ_SEED=<seed>.
  const seed = process.env.AGENT_LANES_FUZZ_SEED ?? String(Date.now() % 2 ** 31);
  const env = { ...process.env, AGENT_LANES_FUZZ_SEED: seed };
  const run = spawnSync(vitest, ["run", ...SUITES], { cwd: root, stdio: "inherit", env });
  const storm = spawnSync(vitest, ["run", "--config", "vitest.storm.config.ts"], { cwd: root, stdio: "inherit", env });
  durationMs = Date.now() - started;
  status = run.status || storm.status || (run.status === null || storm.status === null ? 1 : 0);
}

const figures = existsSync(dir)
  ? readdirSync(dir)
      .filter((name) => name.endsWith(".json") && name !== "report.json")
      .map((name) => JSON.parse(readFileSync(path.join(dir, name), "utf8")))
  : [];
const bySuite = new Map(figures.map((f) => [f.suite, f]));
const sum = (key, list = figures) => list.reduce((n, f) => n + (f[key] ?? 0), 0);
const fuzz = figures.filter((f) => f.suite.startsWith("fuzz-"));
const missing = EXPECTED.filter((name) => !bySuite.has(name));
const seeds = [...new Set(figures.map((f) => f.seed).filter((seed) => seed !== undefined))];
const n = (value) => value.toLocaleString("en-US");

const report = {
  node: process.version,
  seeds,
  tasks: sum("tasks"),
  kills: sum("kills"),
  fuzz_cases: sum("cases", fuzz),
  checks: sum("cases"),
  failures: sum("failures"),
  missing_suites: missing,
  duration_ms: durationMs,
  suites: Object.fromEntries(figures.map((f) => [f.suite, { cases: f.cases, tasks: f.tasks, kills: f.kills, failures: f.failures, notes: f.notes }])),
};
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, "report.json"), `${JSON.stringify(report, null, 2)}\n`);

const lines = [
  "",
  `agent-lanes reliability report (Node ${process.version}${seeds.length ? `, fuzz seed ${seeds.join(", ")}` : ""}${durationMs ? `, ${(durationMs / 1000).toFixed(0)} s` : ""})`,
  `  tasks run through chaos and interop: ${n(report.tasks)}`,
  `  supervisor SIGKILLs:                 ${n(report.kills)}`,
  `  fuzz cases tried:                    ${n(report.fuzz_cases)} (${fuzz.map((f) => `${f.suite.slice(5)} ${n(f.cases)}`).join(", ")})`,
  `  failures found:                      ${n(report.failures)}`,
];
for (const f of figures) for (const note of f.notes ?? []) lines.push(`    - ${note}`);
if (missing.length > 0) lines.push(`  suites that wrote no figures (did not finish): ${missing.join(", ")}`);
console.log(lines.join("\n"));

if (report.failures > 0 || missing.length > 0) status = status || 1;
process.exit(status);
