#!/usr/bin/env node
// The dashboard on a long-lived queue: how long the page's reads take and how
// soon a new task reaches an open `GET /events` stream, with N finished tasks
// (default 50,000; BENCH_DASHBOARD_TASKS to change). Prints a markdown table.
import http from "node:http";
import { rmSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { openStore } from "../dist/src/index.js";
import { createServer } from "../dist/src/server/index.js";
import { machine, median, table, tempWorkspace, writeFinishedTasks } from "./lib.mjs";

const N = Number(process.env.BENCH_DASHBOARD_TASKS ?? 50_000);
const ws = tempWorkspace("agent-lanes-bench-dash-");
process.stderr.write(`bench dashboard: writing ${N.toLocaleString("en")} finished tasks ...\n`);
writeFinishedTasks(ws.queue, ws.root, ws.request, N);

const store = openStore(ws.queue);
const server = createServer({ store, allowedRoots: [ws.root], logger: { debug() {}, error() {} } });
const { url } = await server.listen(0, "127.0.0.1");

async function timed(path) {
  const started = performance.now();
  const res = await fetch(`${url}${path}`);
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return performance.now() - started;
}

const rows = [];
// The fixtures finished in January 2026, before the charts' 14 days: /api/stats shows the cost of filtering them out.
for (const path of ["/api/summary", "/api/stats", "/tasks?limit=100"]) {
  const cold = await timed(path);
  const warm = [];
  for (let i = 0; i < 5; i++) warm.push(await timed(path));
  rows.push([`GET ${path}: first / median of 5 after`, `${cold.toFixed(0)} ms / ${median(warm).toFixed(0)} ms`]);
}

// A new task, from another store (as another process would write it), to an open event stream.
const seen = new Promise((resolve, reject) => {
  const req = http.get(`${url}/events`, (res) => {
    let buffer = "";
    res.setEncoding("utf8");
    res.on("data", (chunk) => {
      buffer += chunk;
      if (buffer.includes('"correlation_id":"bench-live"')) {
        resolve(performance.now());
        req.destroy();
      }
    });
  });
  req.on("error", () => undefined);
  setTimeout(() => reject(new Error("no event within 60 s")), 60_000).unref();
});
await new Promise((resolve) => setTimeout(resolve, 3000)); // the feed's first pass (its baseline)
const other = openStore(ws.queue);
const started = performance.now();
await other.create({ workspace_id: "bench", correlation_id: "bench-live", lane: "default", workspace_root: ws.root, request_path: ws.request, response_path: "out-live.md" });
const latency = (await seen) - started;
rows.push([`new task → its \`task\` event on GET /events`, `${latency.toFixed(0)} ms`]);

await other.close();
await server.close();
await store.close();
rmSync(ws.root, { recursive: true, force: true });
console.log(table(`Dashboard on ${N.toLocaleString("en")} finished tasks (${machine()})`, rows));
