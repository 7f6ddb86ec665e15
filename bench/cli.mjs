#!/usr/bin/env node
// What the CLI costs an orchestrator: median wall time of one-shot commands
// (each a fresh `node` process, as a shell runs them), the CPU an idle
// `wait --lane` burns over 10 s in a queue of 10,000 finished tasks, and how
// fast a waiter notices a new task. Prints a markdown table (one to two minutes on 2 cores).
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openStore } from "../dist/src/index.js";
import { machine, median, table, tempWorkspace, writeFinishedTasks } from "./lib.mjs";

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist", "src", "cli", "main.js");
const RUNS = 15;
const FINISHED = 10_000;
const IDLE_SECONDS = 10;
const WAKE_SAMPLES = 5;
const CLOCK_TICKS = 100; // USER_HZ on Linux

const ws = tempWorkspace("agent-lanes-bench-cli-");
const config = path.join(ws.root, "handoff.yaml");
writeFileSync(config, "workspace_id: bench\nworkspace_root: .\nqueue_root: state\nlanes:\n  default: {}\n  idle: {}\n");
writeFinishedTasks(ws.queue, ws.root, ws.request, FINISHED);

function cli(args) {
  const started = performance.now();
  const result = spawnSync(process.execPath, [CLI, "--config", config, ...args], { cwd: ws.root, encoding: "utf8" });
  const ms = performance.now() - started;
  if (result.status !== 0) throw new Error(`agent-lanes ${args.join(" ")} exited ${result.status}: ${result.stderr}`);
  return { ms, stdout: result.stdout };
}

/** Median wall ms of `RUNS` runs; `argsFor(i)` gives each run's arguments. */
function medianMs(argsFor) {
  const times = [];
  for (let i = 0; i < RUNS; i++) times.push(cli(argsFor(i)).ms);
  return median(times);
}

const submitArgs = (i) => ["submit", "--lane", "default", "--request-from", ws.request, "--response-to", `out/${i}.md`, "--task-id", `bench-${i}`];
const baselineMs = (() => {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    spawnSync(process.execPath, ["-e", "0"]);
    times.push(performance.now() - started);
  }
  return median(times);
})();
const ids = [];
const submitMs = medianMs((i) => submitArgs(i));
for (let i = 0; i < RUNS; i++) ids.push(cli(submitArgs(RUNS + i)).stdout.trim());
const statusMs = medianMs((i) => ["status", ids[i]]);
const claimMs = medianMs((i) => ["claim", ids[i], "--owner", "bench"]);

/** utime + stime of a live process in seconds (Linux /proc), or null elsewhere. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Wait until a waiter has started, scanned the 10,000 tasks once and set up
 * its watchers: its CPU time stops growing. Returns the CPU seconds used so far.
 */
async function settled(pid) {
  let last = cpuSeconds(pid);
  if (last === null) {
    await sleep(8000);
    return null;
  }
  for (let i = 0; i < 60; i++) {
    await sleep(500);
    const now = cpuSeconds(pid);
    if (now - last < 0.02) return now;
    last = now;
  }
  return last;
}

/** Start `agent-lanes wait --lane <lane>` with a long timeout. */
function startWaiter(lane, env = process.env) {
  return spawn(process.execPath, [CLI, "--config", config, "wait", "--lane", lane, "--timeout", "120", "--quiet", "--json"], {
    cwd: ws.root,
    stdio: ["ignore", "pipe", "inherit"],
    env,
  });
}

// Idle wait: a lane with no task, in the queue of 10,000 finished tasks.
const idle = startWaiter("idle");
const startupCpu = await settled(idle.pid);
await sleep(IDLE_SECONDS * 1000);
const idleCpu = startupCpu === null ? null : cpuSeconds(idle.pid) - startupCpu;
idle.kill("SIGTERM");
await new Promise((resolve) => idle.once("exit", resolve));

// Wake-up: a waiter already idle on its lane (one at a time, so waiters do not
// compete for the CPU); a task is created by another process (this one). Only a
// file-system event can wake it in time: the safety poll is pushed out of the way.
const store = openStore(ws.queue);
const wakes = [];
for (let i = 0; i < WAKE_SAMPLES; i++) {
  const lane = `wake-${i}`;
  const waiter = startWaiter(lane, { ...process.env, AGENT_LANES_POLL_MS: "600000" });
  const printed = new Promise((resolve) => waiter.stdout.once("data", () => resolve(performance.now())));
  await settled(waiter.pid);
  await store.create({ workspace_id: "bench", correlation_id: lane, lane, workspace_root: ws.root, request_path: ws.request, response_path: `out/${lane}.md` });
  const created = performance.now();
  wakes.push((await printed) - created);
  await new Promise((resolve) => waiter.once("exit", resolve));
}
await store.close();
rmSync(ws.root, { recursive: true, force: true });

const ms = (value) => `${Math.round(value)} ms`;
console.log(
  table(`CLI (${machine()})`, [
    [`\`node -e 0\` (baseline), median of ${RUNS}`, ms(baselineMs)],
    [`\`submit\` wall time, median of ${RUNS}`, ms(submitMs)],
    [`\`status TASK_ID\` wall time, median of ${RUNS}`, ms(statusMs)],
    [`\`claim\` wall time, median of ${RUNS}`, ms(claimMs)],
    [
      `idle \`wait --lane\` CPU over ${IDLE_SECONDS} s, ${FINISHED.toLocaleString("en")} finished tasks in the queue`,
      idleCpu === null ? "n/a (needs /proc)" : `${idleCpu.toFixed(2)} s (${((idleCpu / IDLE_SECONDS) * 100).toFixed(1)} % of a core)`,
    ],
    [`\`wait --lane\` start-up CPU (process start, first scan of ${FINISHED.toLocaleString("en")} tasks, watchers)`, startupCpu === null ? "n/a" : `${startupCpu.toFixed(2)} s`],
    [`new task → idle \`wait --lane\` prints it (file-system event), median of ${WAKE_SAMPLES}`, ms(median(wakes))],
  ]),
);
