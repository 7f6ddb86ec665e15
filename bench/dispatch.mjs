#!/usr/bin/env node
// The dispatcher supervisor's own cost: tasks/s with an agent that answers at
// once, submit->claim latency, and what an idle supervisor spends on a queue
// full of finished tasks. Prints a markdown table. Sized for a 2-core machine
// (about a minute). Needs `npm run build` (npm run bench does it).
//
// The supervisor runs as users run it: `agent-lanes dispatch --vendor command
// --command "<node> bench/agents/instant.mjs"`. Tasks are created in-process
// through the store (a CLI process per submit would measure node's start-up).
// The 10,000 finished tasks of the idle run are written straight to disk in
// the protocol's layout with the store's JSON helpers (bench/lib.mjs): going
// through the store would take about a minute of fsyncs for nothing.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { openStore } from "../dist/src/index.js";
import { machine, percentile, table, tempWorkspace, writeFinishedTasks } from "./lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, "..", "dist", "src", "cli", "main.js");
const INSTANT = path.join(here, "agents", "instant.mjs");

const BENCH = {
  /** Tasks per throughput run. */
  tasks: 200,
  concurrencies: [1, 4],
  /** Tasks submitted one at a time to an idle supervisor (pure pickup latency). */
  sequentialTasks: 30,
  finishedTasks: 10_000,
  idleMeasureMs: 10_000,
  /** Let the supervisor finish its first scan before the idle measurement. */
  idleSettleMs: 3_000,
  runTimeoutMs: 180_000,
  /** How often the bench looks for new response.json files. */
  pollMs: 10,
  stopTimeoutMs: 15_000,
};

const CLK_TCK = 100; // USER_HZ on Linux: /proc/<pid>/stat counts CPU time in these ticks

function queueConfig(ws) {
  const file = path.join(ws.root, "handoff.yaml");
  writeFileSync(file, "workspace_id: bench\nworkspace_root: .\nqueue_root: state\nlanes:\n  default:\n    description: bench\n");
  return file;
}

/** Starts `agent-lanes dispatch` on a queue; resolves once it is running. */
function startSupervisor(config, concurrency) {
  const args = [
    CLI, "--config", config, "dispatch", "--vendor", "command",
    "--command", `${JSON.stringify(process.execPath)} ${JSON.stringify(INSTANT)}`,
    "--concurrency", String(concurrency), "--log-format", "json",
  ];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const stderr = [];
  createInterface({ input: child.stdout }).on("line", () => {});
  createInterface({ input: child.stderr }).on("line", (line) => {
    stderr.push(line);
    if (stderr.length > 20) stderr.shift();
  });
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return {
    child,
    exited,
    why: () => stderr.slice(-5).join("\n"),
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), BENCH.stopTimeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

function taskInput(ws, i) {
  return {
    workspace_id: "bench", correlation_id: `t${i}`, lane: "default", workspace_root: ws.root,
    request_path: ws.request, response_path: path.join(ws.root, "out", `${i}.md`),
  };
}

/**
 * Resolves when every task has a response.json. Tasks are answered roughly
 * oldest first, so each check stops at the first unanswered one: the bench
 * must not eat the CPU the supervisor is being measured on.
 */
async function allAnswered(queue, ids, supervisor) {
  const pending = [...ids];
  const deadline = Date.now() + BENCH.runTimeoutMs;
  let died = null;
  supervisor.exited.then((result) => (died = result));
  while (pending.length > 0) {
    while (pending.length > 0 && existsSync(path.join(queue, "tasks", pending[0], "response.json"))) pending.shift();
    if (pending.length === 0) break;
    if (died) throw new Error(`supervisor exited (${JSON.stringify(died)}) with ${pending.length} tasks unanswered:\n${supervisor.why()}`);
    if (Date.now() > deadline) throw new Error(`${pending.length} tasks still unanswered after ${BENCH.runTimeoutMs / 1000} s:\n${supervisor.why()}`);
    await new Promise((resolve) => setTimeout(resolve, BENCH.pollMs));
  }
  return performance.now();
}

/** created_at -> first `claimed` event, in ms, for each task. */
async function claimLatencies(store, ids) {
  const out = [];
  for (const id of ids) {
    const task = await store.get(id);
    const claimed = (await store.readEvents(id)).find((event) => event.type === "claimed");
    if (claimed) out.push(Date.parse(claimed.created_at) - Date.parse(task.created_at));
  }
  return out;
}

async function checkAllCompleted(store, ids) {
  let failed = 0;
  let sample = "";
  for (const id of ids) {
    const response = await store.getResponse(id);
    if (response?.status !== "completed") {
      failed += 1;
      sample ||= `${id}: ${response?.body?.split("\n")[0] ?? "no response"}`;
    }
  }
  if (failed > 0) throw new Error(`${failed} of ${ids.length} tasks did not complete, e.g. ${sample}`);
}

async function throughputRun(concurrency) {
  const ws = tempWorkspace("agent-lanes-bench-dispatch-");
  const config = queueConfig(ws);
  const store = openStore(ws.queue);
  const supervisor = startSupervisor(config, concurrency);
  try {
    // One task through first, so start-up is not counted as throughput.
    const warm = await store.create({ ...taskInput(ws, "warm-up") });
    await allAnswered(ws.queue, [warm.id], supervisor);

    const started = performance.now();
    const ids = [];
    for (let i = 0; i < BENCH.tasks; i++) ids.push((await store.create(taskInput(ws, i))).id);
    const finished = await allAnswered(ws.queue, ids, supervisor);
    await checkAllCompleted(store, ids);
    const burst = await claimLatencies(store, ids);

    let sequential = [];
    if (concurrency === 1) {
      const seq = [];
      for (let i = 0; i < BENCH.sequentialTasks; i++) {
        const task = await store.create(taskInput(ws, `seq${i}`));
        await allAnswered(ws.queue, [task.id], supervisor);
        seq.push(task.id);
      }
      sequential = await claimLatencies(store, seq);
    }
    const stopped = await supervisor.stop();
    return { concurrency, tasksPerSecond: BENCH.tasks / ((finished - started) / 1000), seconds: (finished - started) / 1000, burst, sequential, stopped };
  } finally {
    supervisor.child.kill("SIGKILL");
    await store.close();
    rmSync(ws.root, { recursive: true, force: true });
  }
}

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function rssMiB(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : NaN;
}

async function idleRun() {
  const ws = tempWorkspace("agent-lanes-bench-idle-");
  const config = queueConfig(ws);
  writeFinishedTasks(ws.queue, ws.root, ws.request, BENCH.finishedTasks);
  const supervisor = startSupervisor(config, 4);
  try {
    await new Promise((resolve) => setTimeout(resolve, BENCH.idleSettleMs));
    const pid = supervisor.child.pid;
    if (supervisor.child.exitCode !== null) throw new Error(`supervisor exited during start-up:\n${supervisor.why()}`);
    const before = cpuTicks(pid);
    const t = performance.now();
    await new Promise((resolve) => setTimeout(resolve, BENCH.idleMeasureMs));
    const ticks = cpuTicks(pid) - before;
    const elapsed = (performance.now() - t) / 1000;
    const rss = rssMiB(pid);
    const stopped = await supervisor.stop();
    return { cpuPercent: (100 * ticks) / CLK_TCK / elapsed, rss, stopped };
  } finally {
    supervisor.child.kill("SIGKILL");
    rmSync(ws.root, { recursive: true, force: true });
  }
}

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
if (process.platform !== "linux") process.stderr.write("bench/dispatch: idle CPU and RSS are read from /proc and need Linux\n");

const loadBefore = os.loadavg()[0];
const runs = [];
for (const concurrency of BENCH.concurrencies) {
  process.stderr.write(`bench/dispatch: ${BENCH.tasks} tasks at concurrency ${concurrency} ...\n`);
  runs.push(await throughputRun(concurrency));
}
process.stderr.write(`bench/dispatch: idle supervisor over ${BENCH.finishedTasks.toLocaleString("en")} finished tasks for ${BENCH.idleMeasureMs / 1000} s ...\n`);
const idle = await idleRun();

const burst = runs.flatMap((run) => run.burst).sort((a, b) => a - b);
const sequential = runs.flatMap((run) => run.sequential).sort((a, b) => a - b);
const exits = [...runs.map((run) => run.stopped), idle.stopped].map((s) => (s.signal ? s.signal : `exit ${s.code}`));
const ms = (value) => `${value.toFixed(0)} ms`;

console.log(
  table(`bench/dispatch — ${machine()}`, [
    ...runs.map((run) => [
      `tasks/s, instant agent, ${BENCH.tasks} tasks, concurrency ${run.concurrency} (first submit → last response)`,
      `${run.tasksPerSecond.toFixed(1)} (${run.seconds.toFixed(1)} s)`,
    ]),
    [`submit→claim latency p50 / p99, one task at a time to an idle supervisor (${sequential.length} tasks)`, `${ms(percentile(sequential, 50))} / ${ms(percentile(sequential, 99))}`],
    [`submit→claim latency p50 / p99, ${BENCH.tasks} submitted in a burst (includes queueing; ${burst.length} tasks over both runs)`, `${ms(percentile(burst, 50))} / ${ms(percentile(burst, 99))}`],
    [`idle supervisor CPU over ${BENCH.idleMeasureMs / 1000} s, ${BENCH.finishedTasks.toLocaleString("en")} finished tasks in the queue`, `${idle.cpuPercent.toFixed(2)} % of one core`],
    [`idle supervisor RSS, same queue`, `${idle.rss.toFixed(0)} MiB`],
    ["supervisor exit on SIGTERM (each run)", exits.join(", ")],
    ["1-min load average before / after (other work on the machine skews every number above)", `${loadBefore.toFixed(2)} / ${os.loadavg()[0].toFixed(2)}`],
  ]),
);
