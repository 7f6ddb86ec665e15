#!/usr/bin/env node
// The dispatcher supervisor's own cost, each figure beside its floor measured
// in the same run, and beside the Python tool's bash dispatcher:
//   - tasks/s with an agent that answers at once (bench/agents/instant.sh, a
//     few lines of /bin/sh) at concurrency 1 and 4; floor: the same agent run
//     by a shell loop (xargs -P) at the same concurrency, same input;
//   - the supervisor's CPU per task (its /proc ticks over the run); floor: the
//     agent's own CPU per run in the shell loop;
//   - submit→claim latency of a task submitted to an idle supervisor; floor:
//     a raw rename into a watched folder until the inotify event arrives;
//   - idle RSS and CPU with 10,000 finished tasks; floor: the same supervisor
//     on an empty queue.
// Every task keeps its five fsyncs (the store is used as users use it). Each
// throughput run times two batches of tasks: the first after start-up (V8
// still compiling the dispatcher's hot code) and the next (its pace once it
// has run a while); both are printed, the targets judged on the second.
// The supervisor runs as users run it: `agent-lanes dispatch --vendor command
// --command bench/agents/instant.sh`. Tasks are created in-process through the
// store (a CLI process per submit would measure node's start-up). Linux only
// (/proc). Prints a markdown table; about three minutes on 2 cores.
// While iterating: BENCH_DISPATCH_QUICK=1 runs only the throughput rows (and
// their shell-loop floors); BENCH_DISPATCH_CONCURRENCY=4 (or "1,4") picks the
// concurrencies; BENCH_DISPATCH_TASKS=N the tasks per timed batch;
// BENCH_DISPATCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" adds node flags to
// the dispatcher; BENCH_DISPATCH_THREADS=1 prints the second batch's CPU per
// thread (main, libuv pool, V8 workers); BENCH_DISPATCH_ATTACH="strace -c -f
// -o FILE -p {pid}" attaches a tool (strace, perf record) to the dispatcher
// over the second batch, ended by SIGINT.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, watch, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openStore } from "../dist/src/index.js";
import { machine, percentile, pythonToolPath, startNodeProcess, tempWorkspace, writeFinishedTasks } from "./lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, "..", "dist", "src", "cli", "main.js");
const INSTANT = path.join(here, "agents", "instant.sh");

const BENCH = {
  /** Tasks per throughput run. */
  tasks: Number(process.env.BENCH_DISPATCH_TASKS) || 300,
  concurrencies: process.env.BENCH_DISPATCH_CONCURRENCY ? process.env.BENCH_DISPATCH_CONCURRENCY.split(",").map(Number) : [1, 4],
  /** Only the throughput rows (BENCH_DISPATCH_QUICK=1). */
  quick: process.env.BENCH_DISPATCH_QUICK === "1",
  /** Tasks submitted one at a time to an idle supervisor (pure pickup latency). */
  sequentialTasks: 30,
  renameSamples: 100,
  finishedTasks: 10_000,
  idleMeasureMs: 10_000,
  /** Let the supervisor finish its first scan before the idle measurement. */
  idleSettleMs: 3_000,
  /** Tasks through the Python tool's bash dispatcher (about one a second). */
  pythonTasks: 15,
  runTimeoutMs: 180_000,
  /** After the warm-up task, before the dispatcher is stopped for the submission. */
  idleBeforeStopMs: 500,
  /** How often the bench looks for new response.json files. */
  pollMs: 5,
  stopTimeoutMs: 15_000,
};

/** Issue 13 item 4's targets, printed beside the figures: tasks/s at concurrency 4, and the dispatcher's own CPU per task. */
const TARGETS = { tasksPerSecondAt4: 100, cpuMsPerTask: 5 };

const CLK_TCK = 100; // USER_HZ on Linux: /proc/<pid>/stat counts CPU time in these ticks
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function queueConfig(ws) {
  const file = path.join(ws.root, "handoff.yaml");
  writeFileSync(file, `workspace_id: bench\nworkspace_root: ${ws.root}\nqueue_root: ${ws.queue}\nlanes:\n  default:\n    description: bench\n`);
  return file;
}

/** Starts `agent-lanes dispatch` on a queue. */
function startSupervisor(config, concurrency) {
  const args = [...(process.env.BENCH_DISPATCH_NODE_ARGS?.split(" ").filter(Boolean) ?? []), CLI, "--config", config, "dispatch", "--vendor", "command", "--command", INSTANT, "--concurrency", String(concurrency), "--log-format", "json"];
  return startNodeProcess(args, BENCH.stopTimeoutMs);
}

function taskInput(ws, i, metadata = {}) {
  return {
    workspace_id: "bench", correlation_id: `t${i}`, lane: "default", workspace_root: ws.root,
    request_path: ws.request, response_path: path.join(ws.root, "out", `${i}.md`), metadata,
  };
}

/** Resolves when every task has a response.json; tasks finish roughly oldest first, so each check stops at the first unanswered one. */
async function allAnswered(queue, ids, supervisor) {
  const pending = [...ids];
  const deadline = Date.now() + BENCH.runTimeoutMs;
  let died = null;
  supervisor.exited.then((result) => (died = result));
  while (pending.length > 0) {
    while (pending.length > 0 && existsSync(path.join(queue, "tasks", pending[0], "response.json"))) pending.shift();
    if (pending.length === 0) break;
    if (died) throw new Error(`dispatcher exited (${JSON.stringify(died)}) with ${pending.length} tasks unanswered:\n${supervisor.why()}`);
    if (Date.now() > deadline) throw new Error(`${pending.length} tasks still unanswered after ${BENCH.runTimeoutMs / 1000} s:\n${supervisor.why()}`);
    await sleep(BENCH.pollMs);
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
  return out.sort((a, b) => a - b);
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

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

/** CPU ticks of a process's threads, by thread (the main thread, then name:tid). */
function threadTicks(pid) {
  const out = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = Number(tid) === pid ? "main" : `${stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))}:${tid}`;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(name, (out.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]));
    } catch {
      // the thread ended
    }
  }
  return out;
}

function rssMiB(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : NaN;
}

/**
 * BENCH.tasks tasks submitted up front while the dispatcher is stopped
 * (SIGSTOP, once it is idle and holds no lock), then timed from SIGCONT until
 * the last answer: the dispatcher's pace over all the tasks, none of them run
 * while the submitter was still writing, and its CPU over them.
 */
async function measuredBatch(ws, store, supervisor, label) {
  await sleep(BENCH.idleBeforeStopMs);
  supervisor.child.kill("SIGSTOP");
  const ids = [];
  try {
    for (let i = 0; i < BENCH.tasks; i++) ids.push((await store.create(taskInput(ws, `${label}${i}`))).id);
  } catch (error) {
    supervisor.child.kill("SIGCONT");
    throw error;
  }
  // BENCH_DISPATCH_ATTACH="strace -c -f -o FILE -p {pid}" (or a perf record): a tool attached to the dispatcher over the second batch, ended by SIGINT.
  const attach = process.env.BENCH_DISPATCH_ATTACH;
  const tracer = attach && label === "next"
    ? spawn("sh", ["-c", `exec ${attach.replaceAll("{pid}", String(supervisor.child.pid))}`], { stdio: "ignore" })
    : null;
  if (tracer) {
    await sleep(1000);
    process.stderr.write(`bench/dispatch: dispatcher threads ${readdirSync(`/proc/${supervisor.child.pid}/task`).join(" ")}\n`);
  }
  const ticksBefore = cpuTicks(supervisor.child.pid);
  const threadsBefore = process.env.BENCH_DISPATCH_THREADS === "1" ? threadTicks(supervisor.child.pid) : null;
  const started = performance.now();
  supervisor.child.kill("SIGCONT");
  const finished = await allAnswered(ws.queue, ids, supervisor);
  const ticks = cpuTicks(supervisor.child.pid) - ticksBefore;
  if (tracer) {
    tracer.kill("SIGINT");
    await new Promise((resolve) => tracer.on("exit", resolve));
  }
  if (process.env.BENCH_DISPATCH_THREADS === "1") {
    const after = threadTicks(supervisor.child.pid);
    const parts = [...after].map(([name, t]) => [name, ((t - (threadsBefore.get(name) ?? 0)) * (1000 / CLK_TCK)) / BENCH.tasks]).filter(([, ms]) => ms > 0).map(([name, ms]) => `${name} ${ms.toFixed(2)}`);
    process.stderr.write(`bench/dispatch: ${label} batch, ms of CPU a task by thread: ${parts.join(", ")}\n`);
  }
  await checkAllCompleted(store, ids);
  const seconds = (finished - started) / 1000;
  return { tasksPerSecond: BENCH.tasks / seconds, seconds, cpuMsPerTask: (ticks * (1000 / CLK_TCK)) / BENCH.tasks };
}

async function throughputRun(concurrency) {
  const ws = tempWorkspace("agent-lanes-bench-dispatch-");
  const config = queueConfig(ws);
  const store = openStore(ws.queue);
  const supervisor = startSupervisor(config, concurrency);
  try {
    // One task through first, so start-up is not counted.
    const warm = await store.create(taskInput(ws, "warm-up"));
    await allAnswered(ws.queue, [warm.id], supervisor);
    // The first batch after start-up pays for V8 compiling the dispatcher's hot
    // code (TurboFan, on V8's worker threads: ~1 ms of CPU a task over the first
    // few hundred); the second is the pace of a dispatcher that has run a while.
    const first = await measuredBatch(ws, store, supervisor, "first");
    const batch = await measuredBatch(ws, store, supervisor, "next");

    let sequential = [];
    if (concurrency === 1 && !BENCH.quick) {
      const seq = [];
      for (let i = 0; i < BENCH.sequentialTasks; i++) {
        await sleep(20 + Math.random() * 30);
        const task = await store.create(taskInput(ws, `seq${i}`));
        await allAnswered(ws.queue, [task.id], supervisor);
        seq.push(task.id);
      }
      sequential = await claimLatencies(store, seq);
    }
    const stopped = await supervisor.stop();
    return { concurrency, ...batch, firstCpuMsPerTask: first.cpuMsPerTask, firstTasksPerSecond: first.tasksPerSecond, sequential, stopped };
  } finally {
    supervisor.child.kill("SIGKILL");
    await store.close();
    removeLater(ws.root);
  }
}

/**
 * A throughput run's queue is removed when the bench ends, not between runs:
 * on ext4 without a journal (this machine's) a file made in the minutes after
 * thousands of files were removed near it costs up to ~1 ms of CPU (ext4
 * skips recently freed inodes), so removing one run's 600 task folders right
 * before the next run charged that run's dispatcher for the bench's cleanup.
 */
const leftovers = [];
function removeLater(dir) {
  leftovers.push(dir);
}
process.on("exit", () => {
  for (const dir of leftovers) rmSync(dir, { recursive: true, force: true });
});

/** The floor: the instant agent run by a shell loop at the same concurrency, fed the same input; tasks/s and CPU per run. */
function shellLoopFloor(concurrency) {
  const ws = tempWorkspace("agent-lanes-bench-floor-");
  try {
    const input = path.join(ws.root, "input.txt");
    writeFileSync(input, `${"x".repeat(600)}\n`);
    const script = `TIMEFORMAT='%R %U %S'; time (seq ${BENCH.tasks} | xargs -P ${concurrency} -I{} sh -c '${INSTANT} <${input} >/dev/null')`;
    const result = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    const [real, user, sys] = result.stderr.trim().split("\n").pop().split(" ").map(Number);
    return { tasksPerSecond: BENCH.tasks / real, cpuMsPerRun: ((user + sys) * 1000) / BENCH.tasks };
  } finally {
    rmSync(ws.root, { recursive: true, force: true });
  }
}

/** The floor of pickup latency: a file renamed into a watched folder until fs.watch (inotify) reports it. */
async function renameInotifyFloor() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "agent-lanes-bench-rename-"));
  const watched = path.join(dir, "watched");
  mkdirSync(watched);
  const samples = [];
  try {
    for (let i = 0; i < BENCH.renameSamples; i++) {
      const source = path.join(dir, `f${i}`);
      writeFileSync(source, "x");
      await sleep(5);
      const seen = new Promise((resolve) => {
        const watcher = watch(watched, () => {
          watcher.close();
          resolve(performance.now());
        });
      });
      const at = performance.now();
      renameSync(source, path.join(watched, `f${i}`));
      samples.push((await seen) - at);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return samples.sort((a, b) => a - b);
}

async function idleRun(finishedTasks) {
  const ws = tempWorkspace("agent-lanes-bench-idle-");
  const config = queueConfig(ws);
  if (finishedTasks > 0) writeFinishedTasks(ws.queue, ws.root, ws.request, finishedTasks);
  const supervisor = startSupervisor(config, 4);
  try {
    await sleep(BENCH.idleSettleMs);
    const pid = supervisor.child.pid;
    if (supervisor.child.exitCode !== null) throw new Error(`dispatcher exited during start-up:\n${supervisor.why()}`);
    const before = cpuTicks(pid);
    const t = performance.now();
    await sleep(BENCH.idleMeasureMs);
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

/**
 * The Python tool's bash dispatcher (templates/workspace/dispatcher.sh) on the
 * same instant agent, with its own CLI (`python3 -m agent_lanes`). It only
 * survives tasks that carry thread_id metadata (set -e meets an unset thread
 * in build_input), so these tasks carry one. Null when Python, jq or the
 * package are missing.
 */
async function pythonDispatcherRun() {
  const PYTHON_PACKAGE = pythonToolPath();
  if (PYTHON_PACKAGE === null) return { skipped: "the Python package was not found (set AGENT_LANES_PY or put it in shared/agent-lanes-py above the repository)" };
  const script = path.join(PYTHON_PACKAGE, "agent_lanes", "templates", "workspace", "dispatcher.sh");
  const missing = [["python3", "--version"], ["jq", "--version"]].find(([cmd, arg]) => spawnSync(cmd, [arg]).status !== 0);
  if (!existsSync(script) || missing) return { skipped: !existsSync(script) ? `${script} not found` : `${missing[0]} not on PATH` };
  const ws = tempWorkspace("agent-lanes-bench-py-");
  const bin = path.join(ws.root, "bin");
  mkdirSync(bin);
  const wrapper = path.join(bin, "agent-lanes");
  writeFileSync(wrapper, `#!/bin/sh\nPYTHONPATH=${JSON.stringify(PYTHON_PACKAGE)} exec python3 -m agent_lanes "$@"\n`, { mode: 0o755 });
  const queue = path.join(ws.root, "state");
  const config = queueConfig({ root: ws.root, queue });
  const store = openStore(queue);
  // Its runs' temp folders (mktemp -d) go inside the workspace; its answers go to /tmp/agent-lanes-resp-<task>.txt
  // whatever TMPDIR says, and the one it is writing when it is killed stays: removed below by name.
  const runTmp = path.join(ws.root, "tmp");
  mkdirSync(runTmp);
  const made = [];
  const child = spawn("bash", [script], {
    stdio: ["ignore", "ignore", "ignore"],
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, VENDOR: "claude", QUEUE_ROOT: queue, CONFIG: config, HEADLESS_AGENT_CMD: INSTANT, HEARTBEAT_SECONDS: "0", WAIT_TIMEOUT: "60", TMPDIR: runTmp },
    detached: true,
  });
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const supervisor = { exited, why: () => "(the bash dispatcher logs nothing useful here)" };
  try {
    const meta = (i) => ({ thread_id: `bench-${i}`, parent_task_id: "none" });
    const warm = await store.create(taskInput({ root: ws.root, request: ws.request }, "warm-up", meta("w")));
    await allAnswered(queue, [warm.id], supervisor);
    made.push(warm.id);
    const ids = [];
    for (let i = 0; i < BENCH.pythonTasks; i++) ids.push((await store.create(taskInput({ root: ws.root, request: ws.request }, i, meta(i)))).id);
    made.push(...ids);
    const started = performance.now();
    const finished = await allAnswered(queue, ids, supervisor);
    await checkAllCompleted(store, ids);
    return { tasksPerSecond: BENCH.pythonTasks / ((finished - started) / 1000) };
  } finally {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // gone
    }
    await store.close();
    rmSync(ws.root, { recursive: true, force: true });
    for (const id of made) rmSync(`/tmp/agent-lanes-resp-${id}.txt`, { force: true });
  }
}

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
if (process.platform !== "linux") throw new Error("bench/dispatch reads CPU and RSS from /proc: Linux only");

const loadBefore = os.loadavg()[0];
const progress = (text) => process.stderr.write(`bench/dispatch: ${text} ...\n`);
const rows = [];
for (const concurrency of BENCH.concurrencies) {
  progress(`${BENCH.tasks} tasks at concurrency ${concurrency}, then the same agent in a shell loop`);
  const run = await throughputRun(concurrency);
  const floor = shellLoopFloor(concurrency);
  rows.push({ run, floor });
}
if (BENCH.quick) {
  const loadAfter = os.loadavg()[0];
  for (const { run, floor } of rows) {
    console.log(
      `concurrency ${run.concurrency}: ${run.cpuMsPerTask.toFixed(2)} ms CPU/task, ${run.tasksPerSecond.toFixed(1)} tasks/s (first batch ${run.firstCpuMsPerTask.toFixed(2)} ms, ${run.firstTasksPerSecond.toFixed(1)} tasks/s; floor ${floor.tasksPerSecond.toFixed(1)} tasks/s, ${floor.cpuMsPerRun.toFixed(2)} ms/run)`,
    );
  }
  console.log(`1-min load average before / after: ${loadBefore.toFixed(2)} / ${loadAfter.toFixed(2)}`);
  process.exit(0);
}
progress(`raw rename + inotify latency (${BENCH.renameSamples} samples)`);
const rename = await renameInotifyFloor();
progress(`idle dispatcher on an empty queue, then on ${BENCH.finishedTasks.toLocaleString("en")} finished tasks`);
const idleEmpty = await idleRun(0);
const idleFull = await idleRun(BENCH.finishedTasks);
progress(`the Python tool's bash dispatcher, ${BENCH.pythonTasks} tasks`);
let python;
try {
  python = await pythonDispatcherRun();
} catch (error) {
  python = { skipped: `failed: ${error.message.split("\n")[0]}` };
}

const ms = (value) => `${value.toFixed(value < 1 ? 2 : 1)} ms`;
const verdict = (met) => (met ? "met" : "not met");
const throughputCell = (run) =>
  run.concurrency === 4
    ? `${run.tasksPerSecond.toFixed(1)} (target ≥ ${TARGETS.tasksPerSecondAt4}: ${verdict(run.tasksPerSecond >= TARGETS.tasksPerSecondAt4)})`
    : run.tasksPerSecond.toFixed(1);
const cpuCell = (run) => `${ms(run.cpuMsPerTask)} (target ≤ ${TARGETS.cpuMsPerTask} ms: ${verdict(run.cpuMsPerTask <= TARGETS.cpuMsPerTask)})`;
const sequential = rows.flatMap(({ run }) => run.sequential);
const exits = [...rows.map(({ run }) => run.stopped), idleEmpty.stopped, idleFull.stopped].map((s) => (s.signal ? s.signal : `exit ${s.code}`));
const py = python.skipped ? `not run (${python.skipped})` : `${python.tasksPerSecond.toFixed(2)}`;
const lines = [
  `### bench/dispatch — ${machine()}`,
  "",
  "| measure | agent-lanes dispatch | floor, same run | Python bash dispatcher |",
  "| --- | --- | --- | --- |",
  ...rows.map(({ run, floor }) =>
    `| tasks/s, instant /bin/sh agent, ${BENCH.tasks} tasks, concurrency ${run.concurrency} (5 fsyncs each; the second ${BENCH.tasks} after start) | ${throughputCell(run)} | ${floor.tasksPerSecond.toFixed(1)} (agent in a shell loop, xargs -P ${run.concurrency}) | ${run.concurrency === 1 ? py : "—"} |`),
  ...rows.map(({ run, floor }) =>
    `| CPU per task, concurrency ${run.concurrency}: the dispatcher's own (the second ${BENCH.tasks} tasks after start) / the agent's | ${cpuCell(run)} | ${ms(floor.cpuMsPerRun)} (agent run by the loop) | — |`),
  ...rows.map(({ run }) =>
    `| CPU per task and tasks/s, concurrency ${run.concurrency}, the first ${BENCH.tasks} tasks after start (V8 still compiling the dispatcher's code) | ${ms(run.firstCpuMsPerTask)}, ${run.firstTasksPerSecond.toFixed(1)} tasks/s | | — |`),
  `| submit→claim latency p50 / p99, one task at a time to an idle dispatcher (${sequential.length} tasks) | ${ms(percentile(sequential, 50))} / ${ms(percentile(sequential, 99))} | ${ms(percentile(rename, 50))} / ${ms(percentile(rename, 99))} (raw rename → inotify event) | — |`,
  `| idle RSS, ${BENCH.finishedTasks.toLocaleString("en")} finished tasks | ${idleFull.rss.toFixed(0)} MiB | ${idleEmpty.rss.toFixed(0)} MiB (empty queue) | — |`,
  `| idle CPU over ${BENCH.idleMeasureMs / 1000} s, ${BENCH.finishedTasks.toLocaleString("en")} finished tasks | ${idleFull.cpuPercent.toFixed(2)} % of a core | ${idleEmpty.cpuPercent.toFixed(2)} % (empty queue) | — |`,
  `| dispatcher exit on SIGTERM (each run) | ${exits.join(", ")} | | |`,
  `| 1-min load average before / after (other work on the machine skews every figure) | ${loadBefore.toFixed(2)} / ${os.loadavg()[0].toFixed(2)} | | |`,
];
console.log(lines.join("\n"));
