#!/usr/bin/env node
// What notifications cost the dispatcher (issue 15: "throughput with
// notifications on is within 5 % of without"). `agent-lanes dispatch` runs as
// users run it, with the instant /bin/sh agent of bench/dispatch.mjs at
// concurrency 4, over a queue of N tasks created before it starts:
//   off: no notifications;
//   on:  --notify <a JSON webhook on 127.0.0.1> receiving every transition
//        (rate limit raised so nothing is folded into a digest: the worst case).
// Runs are paired and interleaved on the same queue sizes: each pair runs off
// and on back to back, the order alternating (off/on, on/off, …) so drift in
// the machine's load falls on both sides. Throughput is timed from the first
// answer to the last (start-up excluded); the dispatcher's own CPU per task
// (its /proc ticks over the same span) is the figure least moved by other
// load. The table gives medians, the on/off ratio beside the 5 % target, and
// the notifications the sink received. Linux only (/proc). Needs `npm run
// build` (npm run bench does it). NOTIFY_BENCH_SIZES=100,300 and
// NOTIFY_BENCH_PAIRS=7 override the defaults.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openStore } from "../dist/src/index.js";
import { machine, median, startNodeProcess, table, tempWorkspace } from "./lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, "..", "dist", "src", "cli", "main.js");
const INSTANT = path.join(here, "agents", "instant.sh");

const BENCH = {
  sizes: (process.env.NOTIFY_BENCH_SIZES ?? "100,300").split(",").map(Number),
  pairs: Number(process.env.NOTIFY_BENCH_PAIRS ?? 7),
  concurrency: 4,
  /** The target: on ≥ 95 % of off. */
  targetRatio: 0.95,
  runTimeoutMs: 300_000,
  pollMs: 5,
  stopTimeoutMs: 15_000,
};
const CLK_TCK = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in these ticks

/** The webhook sink: counts POSTs, answers 204. */
function startSink() {
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received += 1;
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ url: `http://127.0.0.1:${server.address().port}/hook`, received: () => received, close: () => new Promise((r) => server.close(r)) }),
    ),
  );
}

/** utime + stime of a live process, in ms. */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

function startSupervisor(config, notifyUrl) {
  const args = [CLI, "--config", config, "dispatch", "--vendor", "command", "--command", INSTANT,
    "--concurrency", String(BENCH.concurrency), "--log-format", "json", ...(notifyUrl ? ["--notify", notifyUrl] : [])];
  return startNodeProcess(args, BENCH.stopTimeoutMs);
}

/** Resolves when every task has its response.json: the time and CPU at the first answer (oldest task) and at the last. */
async function answered(queue, ids, supervisor) {
  const pending = [...ids];
  const deadline = Date.now() + BENCH.runTimeoutMs;
  let first = null;
  for (;;) {
    // Tasks are claimed oldest first: looking at the head is enough (one stat a poll).
    while (pending.length > 0 && existsSync(path.join(queue, "tasks", pending[0], "response.json"))) pending.shift();
    if (first === null && pending.length < ids.length) first = { at: performance.now(), cpu: cpuMs(supervisor.child.pid), done: ids.length - pending.length };
    if (pending.length === 0) return { first, last: { at: performance.now(), cpu: cpuMs(supervisor.child.pid) } };
    if (supervisor.child.exitCode !== null || Date.now() > deadline) throw new Error(`${pending.length} tasks unanswered:\n${supervisor.why()}`);
    await new Promise((resolve) => setTimeout(resolve, BENCH.pollMs));
  }
}

async function run(size, sink) {
  const ws = tempWorkspace("agent-lanes-bench-notify-");
  const config = path.join(ws.root, "handoff.yaml");
  writeFileSync(config, `workspace_id: bench\nworkspace_root: ${ws.root}\nqueue_root: ${ws.queue}\nlanes:\n  default:\n    description: bench\nnotify:\n  rate_limit: { max: 100000, per_seconds: 60 }\n`);
  const store = openStore(ws.queue);
  const ids = [];
  for (let i = 0; i < size; i++) {
    const task = await store.create({ workspace_id: "bench", correlation_id: `t${i}`, lane: "default", workspace_root: ws.root, request_path: ws.request, response_path: path.join(ws.root, "out", `${i}.md`) });
    ids.push(task.id);
  }
  await store.close();
  const before = sink?.received() ?? 0;
  const supervisor = startSupervisor(config, sink?.url ?? null);
  try {
    const { first, last } = await answered(ws.queue, ids, supervisor);
    // A clean stop: the notifier delivers what it still holds before the process ends.
    await supervisor.stop();
    const counted = size - first.done;
    return {
      tasksPerSecond: counted / ((last.at - first.at) / 1000),
      cpuMsPerTask: (last.cpu - first.cpu) / counted,
      notified: (sink?.received() ?? 0) - before,
    };
  } finally {
    supervisor.child.kill("SIGKILL");
    rmSync(ws.root, { recursive: true, force: true });
  }
}

const pct = (ratio) => `${(ratio * 100).toFixed(1)} %`;
const sink = await startSink();
const rows = [];
let allWithin = true;
for (const size of BENCH.sizes) {
  const off = [];
  const on = [];
  const ratios = [];
  let notified = 0;
  for (let pair = 0; pair < BENCH.pairs; pair++) {
    process.stderr.write(`notify bench: ${size} tasks, pair ${pair + 1}/${BENCH.pairs}\n`);
    const order = pair % 2 === 0 ? [null, sink] : [sink, null];
    const result = {};
    for (const which of order) result[which ? "on" : "off"] = await run(size, which);
    off.push(result.off);
    on.push(result.on);
    ratios.push(result.on.tasksPerSecond / result.off.tasksPerSecond);
    notified += result.on.notified;
  }
  const mOff = median(off.map((r) => r.tasksPerSecond));
  const mOn = median(on.map((r) => r.tasksPerSecond));
  const ratio = median(ratios);
  const within = ratio >= BENCH.targetRatio;
  allWithin &&= within;
  const cpuOff = median(off.map((r) => r.cpuMsPerTask));
  const cpuOn = median(on.map((r) => r.cpuMsPerTask));
  rows.push(
    [`${size} tasks: tasks/s off / on (medians)`, `${mOff.toFixed(1)} / ${mOn.toFixed(1)}`],
    [`${size} tasks: on / off, median of the ${BENCH.pairs} pairs (target ≥ ${pct(BENCH.targetRatio)})`, `**${pct(ratio)}** ${within ? "within" : "NOT within"} 5 % (pairs: ${ratios.map(pct).join(", ")})`],
    [`${size} tasks: dispatcher CPU ms per task off / on (medians)`, `${cpuOff.toFixed(2)} / ${cpuOn.toFixed(2)} (+${(cpuOn - cpuOff).toFixed(2)} ms)`],
    [`${size} tasks: notifications received`, `${notified} of ${size * BENCH.pairs} transitions`],
  );
}
await sink.close();
console.log(
  table(`Dispatcher throughput with notifications on vs off (instant /bin/sh agent, concurrency ${BENCH.concurrency}, a JSON webhook on 127.0.0.1 per transition; ${BENCH.pairs} interleaved pairs per size; ${machine()})`, rows),
);
console.log(`\nnotifications cost within 5 %: ${allWithin ? "yes" : "no"} (every queue size's median on/off ratio ≥ ${pct(BENCH.targetRatio)})`);
