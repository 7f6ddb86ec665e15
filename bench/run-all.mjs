#!/usr/bin/env node
// Runs every bench script in this folder in turn (store, cli, dispatch first,
// then any others) and prints their markdown tables. `npm run bench` builds
// first. A bench that fails is reported and the rest still run; the exit
// code says whether all passed.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const NOT_BENCHES = new Set(["lib.mjs", "run-all.mjs"]);
const FIRST = ["store.mjs", "cli.mjs", "dispatch.mjs"];

const found = readdirSync(here).filter((name) => name.endsWith(".mjs") && !NOT_BENCHES.has(name));
const order = [...FIRST.filter((name) => found.includes(name)), ...found.filter((name) => !FIRST.includes(name)).sort()];

const failed = [];
for (const name of order) {
  const started = Date.now();
  process.stderr.write(`bench: running ${name} ...\n`);
  // Tables go straight to our stdout; progress and errors to stderr.
  const result = spawnSync(process.execPath, [path.join(here, name)], { stdio: ["ignore", "inherit", "inherit"] });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status === 0) {
    process.stderr.write(`bench: ${name} done in ${seconds} s\n`);
    process.stdout.write("\n");
  } else {
    failed.push(name);
    process.stderr.write(`bench: ${name} FAILED (${result.signal ?? `exit ${result.status}`}) after ${seconds} s\n`);
  }
}
if (failed.length > 0) {
  process.stderr.write(`bench: ${failed.length} of ${order.length} failed: ${failed.join(", ")}\n`);
  process.exitCode = 1;
}
