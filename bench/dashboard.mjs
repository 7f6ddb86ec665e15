#!/usr/bin/env node
// The dashboard on a long-lived queue (issue 15: "fast on a queue of 50,000
// tasks"): a real `agent-lanes serve` (a child process) over a queue with 0
// and N finished tasks (default 50,000; BENCH_DASHBOARD_SIZES="0,50000"), all
// finished within the charts' 14 days (the worst case for /api/stats). For
// each size:
//   - `serve`'s idle RSS after start-up, and again after the page's reads;
//   - GET /api/summary and /api/stats: the first request (nothing cached:
//     every finished task is read once), the median of 5 with no change in
//     between, the median of 5 each after a new task and each after a task
//     finished (the figures updated with that task), and the first request
//     after a restart (the finished-facts cache on disk);
//   - a new task written by another process → its `task` event on an open
//     GET /events, median of 5;
// beside the floors of the same run: GET /health on the same server (a
// trivial Fastify route) and a rename seen by a raw fs.watch. The Python tool
// has no dashboard. Prints a markdown table and the load average.
import { spawn } from "node:child_process";
import http from "node:http";
import { renameSync, rmSync, watch, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { openStore } from "../dist/src/index.js";
import { machine, median, rssMiB, tempWorkspace, writeFinishedTasks } from "./lib.mjs";

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist", "src", "cli", "main.js");
const SIZES = (process.env.BENCH_DASHBOARD_SIZES ?? process.env.BENCH_DASHBOARD_TASKS ?? "0,50000").split(",").map(Number);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const DAY = 86_400_000;

/** `agent-lanes serve` on the workspace; resolves with the child and its URL. */
async function startServe(ws) {
  const child = spawn(process.execPath, [CLI, "--config", ws.config, "serve", "--port", "0", "--log-level", "warn"], {
    cwd: ws.root,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const url = await new Promise((resolve, reject) => {
    let text = "";
    child.stderr.on("data", (chunk) => {
      text += chunk;
      const m = /listening on (\S+)/.exec(text);
      if (m) resolve(m[1]);
    });
    child.once("exit", () => reject(new Error(`serve exited: ${text.slice(-500)}`)));
    setTimeout(() => reject(new Error("serve did not listen within 60 s")), 60_000).unref();
  });
  return { child, url };
}

async function stopServe({ child }) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

async function timed(url) {
  const started = performance.now();
  const res = await fetch(url);
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return performance.now() - started;
}

/** Median ms of `n` requests, each after `before()` (awaited, not timed). */
async function medianOf(n, url, before = async () => undefined) {
  const times = [];
  for (let i = 0; i < n; i++) {
    await before(i);
    times.push(await timed(url));
  }
  return median(times);
}

/** The floor of a wake-up: renames into a watched folder, each seen by one raw fs.watch. */
async function rawRenameMs(dir, samples = 20) {
  let seen = null;
  const watcher = watch(dir, (_type, name) => {
    if (name && name.startsWith("raw-") && seen) seen(performance.now());
  });
  const times = [];
  for (let i = 0; i < samples; i++) {
    const arrived = new Promise((resolve) => (seen = resolve));
    writeFileSync(path.join(dir, `.tmp-${i}`), "x");
    const t0 = performance.now();
    renameSync(path.join(dir, `.tmp-${i}`), path.join(dir, `raw-${i}`));
    times.push((await arrived) - t0);
    seen = null;
    rmSync(path.join(dir, `raw-${i}`));
  }
  watcher.close();
  return median(times);
}

/** An open GET /events; `until(text)` resolves at the first event whose data holds `text`. */
function openEvents(url) {
  let buffer = "";
  const waiting = new Map();
  const req = http.get(`${url}/events`, { agent: false }, (res) => {
    res.setEncoding("utf8");
    res.on("data", (chunk) => {
      buffer += chunk;
      for (const [text, resolve] of waiting) {
        if (buffer.includes(text)) {
          waiting.delete(text);
          resolve(performance.now());
        }
      }
    });
  });
  req.on("error", () => undefined);
  return {
    until: (text) => new Promise((resolve) => waiting.set(text, resolve)),
    close: () => req.destroy(),
  };
}

const results = {};
for (const size of SIZES) {
  process.stderr.write(`bench/dashboard: ${size.toLocaleString("en")} finished tasks ...\n`);
  const ws = tempWorkspace("agent-lanes-bench-dash-");
  ws.config = path.join(ws.root, "handoff.yaml");
  writeFileSync(ws.config, "workspace_id: bench\nworkspace_root: .\nqueue_root: state\nlanes:\n  default: {}\n");
  // Finished over the last 14 days, answered by two vendors in turn: every one is in the charts.
  const span = 13 * DAY;
  writeFinishedTasks(ws.queue, ws.root, ws.request, size, 0, { base: Date.now() - span - 3_600_000, stepMs: size > 0 ? Math.floor(span / size) : 1000, vendors: ["claude", "codex"], costUsd: 0.02 });
  const r = (results[size] = {});
  let serve = await startServe(ws);
  await sleep(3000);
  r.rssIdle = rssMiB(serve.child.pid);
  r.health = await medianOf(20, `${serve.url}/health`);
  const other = openStore(ws.queue);
  let made = 0;
  const submit = () =>
    other.create({ workspace_id: "bench", correlation_id: `live-${size}-${made++}`, lane: "default", workspace_root: ws.root, request_path: ws.request, response_path: `out-${made}.md` });
  // The first look: /api/summary reads every finished task once (and computes the charts in the same pass).
  r.summary = { first: await timed(`${serve.url}/api/summary`) };
  r.stats = { first: await timed(`${serve.url}/api/stats`) };
  for (const route of ["summary", "stats"]) {
    r[route].unchanged = await medianOf(5, `${serve.url}/api/${route}`);
    // After a change the reply is computed again (live tasks scanned, finished facts from the cache on disk).
    r[route].changed = await medianOf(5, `${serve.url}/api/${route}`, async () => {
      await submit();
      await sleep(300); // the server's watcher sees it
    });
  }
  // After a task finishes (claimed and answered by another process): the figures take that one task in.
  const queued = await other.list({ activeOnly: true });
  r.finished = await medianOf(5, `${serve.url}/api/summary`, async (i) => {
    const task = queued[i];
    const claimed = await other.claim(task.id, { owner: "bench" });
    await other.respond(task.id, { body: "ok", claimToken: claimed.claim_token, metadata: { vendor: "claude", cost_usd: 0.02 } });
    await sleep(300); // the server's watcher sees it
  });
  r.rssAfter = rssMiB(serve.child.pid);
  await sleep(3000); // idle again: a server gives back what a pass over the history left committed (src/process-memory.ts)
  r.rssSettled = rssMiB(serve.child.pid);
  // A new task from another process to an open event stream.
  const events = openEvents(serve.url);
  await sleep(2000); // the feed's first pass (its baseline)
  const latencies = [];
  for (let i = 0; i < 5; i++) {
    const name = `"correlation_id":"sse-${size}-${i}"`;
    const arrived = events.until(name);
    const t0 = performance.now();
    await other.create({ workspace_id: "bench", correlation_id: `sse-${size}-${i}`, lane: "default", workspace_root: ws.root, request_path: ws.request, response_path: `sse-${i}.md` });
    latencies.push((await arrived) - t0);
    await sleep(200);
  }
  r.sse = median(latencies);
  r.sseMax = Math.max(...latencies);
  events.close();
  await stopServe(serve);
  // A restart: the finished-facts cache is on disk.
  serve = await startServe(ws);
  await sleep(2000);
  r.statsRestart = await timed(`${serve.url}/api/stats`);
  r.summaryRestart = await timed(`${serve.url}/api/summary`);
  await stopServe(serve);
  r.raw = await rawRenameMs(ws.root);
  await other.close();
  rmSync(ws.root, { recursive: true, force: true });
}

const ms = (v) => `${v < 1 ? v.toFixed(2) : v < 10 ? v.toFixed(1) : v.toFixed(0)} ms`;
const mib = (v) => (v === null || v === undefined ? "n/a" : `${v.toFixed(1)} MiB`);
const col = (fn) => SIZES.map((s) => fn(results[s])).join(" | ");
const lines = [
  `#### bench/dashboard: serve's dashboard with a long history (${machine()}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")})`,
  "",
  `| measure | ${SIZES.map((s) => `${s.toLocaleString("en")} finished`).join(" | ")} |`,
  `| --- | ${SIZES.map(() => "---").join(" | ")} |`,
  `| first look: GET /api/summary (nothing cached: every finished task read once; the charts computed in the same pass) | ${col((r) => ms(r.summary.first))} |`,
  `| first look: GET /api/stats right after (the same pass) | ${col((r) => ms(r.stats.first))} |`,
  `| after a restart (facts cache on disk): GET /api/stats first, then /api/summary | ${col((r) => `${ms(r.statsRestart)}, ${ms(r.summaryRestart)}`)} |`,
  ...["summary", "stats"].flatMap((route) => [
    `| GET /api/${route}: median of 5, no change between (reused) | ${col((r) => ms(r[route].unchanged))} |`,
    `| GET /api/${route}: median of 5, each after a new task (computed again) | ${col((r) => ms(r[route].changed))} |`,
  ]),
  `| GET /api/summary: median of 5, each after a task finished (another process claimed and answered it) | ${col((r) => ms(r.finished))} |`,
  `| floor: GET /health on the same server, median of 20 | ${col((r) => ms(r.health))} |`,
  `| new task (another process) → its \`task\` event on GET /events, median / max of 5 | ${col((r) => `${ms(r.sse)} / ${ms(r.sseMax)}`)} |`,
  `| floor: a rename seen by a raw fs.watch, median of 20 | ${col((r) => ms(r.raw))} |`,
  `| serve RSS, idle after start-up | ${col((r) => mib(r.rssIdle))} |`,
  `| serve RSS right after the reads above | ${col((r) => mib(r.rssAfter))} |`,
  `| serve RSS 3 s later, idle | ${col((r) => mib(r.rssSettled))} |`,
];
console.log(lines.join("\n"));
