// Long-running commands keep V8's young generation at its start size while
// they start, then give back what start-up left committed and let it grow
// again (src/process-memory.ts). V8's flags are per process, so each case
// runs in a fresh Node process that loads the built module (npm run build).

import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "./cli-helpers.js";

const MODULE = path.join(REPO, "dist/src/process-memory.js");

// A burst of allocations whose objects survive a few scavenges: what makes V8
// grow its young generation (start-up's module loading and schema building do the same).
const SCRIPT = `
import { getHeapSpaceStatistics } from "node:v8";
const { holdYoungGeneration, releaseMemory } = await import(${JSON.stringify(MODULE)});
const youngMiB = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size / 1048576;
const burst = () => {
  let keep = [];
  for (let i = 0; i < 300000; i++) {
    keep.push({ a: i, b: "x" + i });
    if (keep.length > 100000) keep = keep.slice(50000);
  }
  return keep.length;
};
const hold = process.argv.includes("hold") || process.argv.includes("hold-for-life");
if (hold) holdYoungGeneration({ forLife: process.argv.includes("hold-for-life") });
burst();
const duringStart = youngMiB();
const released = hold ? releaseMemory() : null;
burst();
console.log(JSON.stringify({ duringStart, released, afterwards: youngMiB() }));
`;

function run(args: string[], env: NodeJS.ProcessEnv = {}): { duringStart: number; released: boolean | null; afterwards: number } {
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", SCRIPT, "--", ...args], { env: { ...process.env, NODE_OPTIONS: "", ...env }, encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").at(-1) as string);
}

describe("start-up memory of long-running commands", () => {
  it("without the hold, a burst grows the young generation (the effect being held back)", () => {
    expect(run([]).duringStart).toBeGreaterThanOrEqual(16);
  });

  it("held: start-up's burst leaves the young generation small; released: a forced collection ran and it grows again with real load", () => {
    const r = run(["hold"]);
    // Node 20 keeps it at its start size (1-2 MiB); Node 24 sizes it on survival and may let it reach a few MiB.
    expect(r.duringStart).toBeLessThanOrEqual(8);
    expect(r.released).toBe(true);
    expect(r.afterwards).toBeGreaterThanOrEqual(16);
  });

  it("held for life (serve): a burst after the release still leaves the young generation small", () => {
    const r = run(["hold-for-life"]);
    expect(r.duringStart).toBeLessThanOrEqual(8);
    expect(r.released).toBe(true);
    expect(r.afterwards).toBeLessThanOrEqual(8);
  });

  it("leaves a young generation the user sized (NODE_OPTIONS) alone", () => {
    const r = run(["hold"], { NODE_OPTIONS: "--max-semi-space-size=32" });
    expect(r.duringStart).toBeGreaterThanOrEqual(16);
  });
});
