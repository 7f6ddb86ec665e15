#!/usr/bin/env node
// What notifications cost the dispatcher: tasks/s of `agent-lanes dispatch`
// with an agent that answers at once, without notifications and with a JSON
// webhook receiving every transition (a local HTTP sink, rate limit raised so
// nothing is folded into a digest). Runs alternate off/on to share the
// machine's noise; the table gives the median of each and their ratio.
// Needs `npm run build` (npm run bench does it).
import { spawn } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { openStore } from "../dist/src/index.js";
import { machine, median, table, tempWorkspace } from "./lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, "..", "dist", "src", "cli", "main.js");
const INSTANT = path.join(here, "agents", "instant.mjs");

const BENCH = {
  tasks: Number(process.env.NOTIFY_BENCH_TASKS ?? 150),
  pairs: Number(process.env.NOTIFY_BENCH_PAIRS ?? 3),
  concurrency: 4,
  runTimeoutMs: 180_000,
  pollMs: 10,
};

function startSink() {
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received += 1;
      res.end("ok");
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ url: `http://127.0.0.1:${server.address().port}/hook`, received: () => received, close: () => new Promise((r) => server.close(r)) }),
    ),
  );
}

function startSupervisor(config, notifyUrl) {
  const args = [CLI, "--config", config, "dispatch", "--vendor", "command", "--command", `${JSON.stringify(process.execPath)} ${JSON.stringify(INSTANT)}`,
    "--concurrency", String(BENCH.concurrency), "--log-format", "json", ...(notifyUrl ? ["--notify", notifyUrl] : [])];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  const tail = [];
  createInterface({ input: child.stderr }).on("line", (line) => {
    tail.push(line);
    if (tail.length > 10) tail.shift();
  });
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, why: () => tail.join("\n"), stop: async () => (child.kill("SIGTERM"), exited) };
}

async function allAnswered(queue, ids, supervisor) {
  const pending = [...ids];
  const deadline = Date.now() + BENCH.runTimeoutMs;
  while (pending.length > 0) {
    while (pending.length > 0 && existsSync(path.join(queue, "tasks", pending[0], "response.json"))) pending.shift();
    if (pending.length === 0) break;
    if (supervisor.child.exitCode !== null || Date.now() > deadline) throw new Error(`${pending.length} tasks unanswered:\n${supervisor.why()}`);
    await new Promise((resolve) => setTimeout(resolve, BENCH.pollMs));
  }
  return performance.now();
}

async function run(sink) {
  const ws = tempWorkspace("agent-lanes-bench-notify-");
  const config = path.join(ws.root, "handoff.yaml");
  writeFileSync(config, "workspace_id: bench\nworkspace_root: .\nqueue_root: state\nnotify:\n  rate_limit: { max: 100000, per_seconds: 60 }\n");
  const store = openStore(ws.queue);
  const supervisor = startSupervisor(config, sink?.url ?? null);
  const input = (i) => ({ workspace_id: "bench", correlation_id: `t${i}`, lane: "default", workspace_root: ws.root, request_path: ws.request, response_path: path.join(ws.root, "out", `${i}.md`) });
  try {
    const warm = await store.create(input("warm"));
    await allAnswered(ws.queue, [warm.id], supervisor);
    const before = sink?.received() ?? 0;
    const started = performance.now();
    const ids = [];
    for (let i = 0; i < BENCH.tasks; i++) ids.push((await store.create(input(i))).id);
    const finished = await allAnswered(ws.queue, ids, supervisor);
    await supervisor.stop();
    return { tasksPerSecond: BENCH.tasks / ((finished - started) / 1000), notified: (sink?.received() ?? 0) - before };
  } finally {
    supervisor.child.kill("SIGKILL");
    await store.close();
    rmSync(ws.root, { recursive: true, force: true });
  }
}

const sink = await startSink();
const off = [];
const on = [];
let notified = 0;
for (let pair = 0; pair < BENCH.pairs; pair++) {
  process.stderr.write(`notify bench: pair ${pair + 1}/${BENCH.pairs}\n`);
  off.push((await run(null)).tasksPerSecond);
  const withSink = await run(sink);
  on.push(withSink.tasksPerSecond);
  notified += withSink.notified;
}
await sink.close();
const [mOff, mOn] = [median(off), median(on)];
console.log(
  table(`Dispatcher throughput with notifications (${BENCH.tasks} tasks, concurrency ${BENCH.concurrency}, ${BENCH.pairs} runs each; ${machine()})`, [
    ["tasks/s, notifications off (median)", mOff.toFixed(1)],
    ["tasks/s, a webhook per transition (median)", mOn.toFixed(1)],
    ["on / off", `${((mOn / mOff) * 100).toFixed(1)} %`],
    ["runs off", off.map((v) => v.toFixed(1)).join(", ")],
    ["runs on", on.map((v) => v.toFixed(1)).join(", ")],
    ["notifications received (runs on)", `${notified} of ${BENCH.tasks * BENCH.pairs} transitions`],
  ]),
);
