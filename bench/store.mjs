#!/usr/bin/env node
// Store throughput and the cost of picking the next task in a long-lived queue.
// Prints a markdown table. Sized for a 2-core machine (about 20 s).
import { rmSync } from "node:fs";
import { openStore } from "../dist/src/index.js";
import { machine, percentile, table, tempWorkspace, writeFinishedTasks } from "./lib.mjs";

const CREATES = 500;
const FINISHED = 10_000;
const NEXT_SAMPLES = 200;

const ws = tempWorkspace();
const store = openStore(ws.queue);
const input = (i) => ({
  workspace_id: "bench", correlation_id: `c${i}`, lane: "default", workspace_root: ws.root,
  request_path: ws.request, response_path: `out/${i}.md`,
});

let t = performance.now();
const ids = [];
for (let i = 0; i < CREATES; i++) ids.push((await store.create(input(i))).id);
const createsPerSecond = CREATES / ((performance.now() - t) / 1000);

t = performance.now();
for (const id of ids) {
  const claimed = await store.claim(id, { owner: "bench", leaseSeconds: 60 });
  await store.respond(id, { claimToken: claimed.claim_token, body: "ok" });
}
const claimRespondPerSecond = CREATES / ((performance.now() - t) / 1000);
await store.close();

// A queue holding 10,000 finished tasks and one queued task.
const big = tempWorkspace();
writeFinishedTasks(big.queue, big.root, big.request, FINISHED);
const bigStore = openStore(big.queue);
const queued = await bigStore.create({ ...input(0), workspace_root: big.root, request_path: big.request });
t = performance.now();
const first = await bigStore.next("default");
const coldMs = performance.now() - t;
if (first?.id !== queued.id) throw new Error("next() did not find the queued task");
const busy = [];
for (let i = 0; i < 50; i++) {
  t = performance.now();
  await bigStore.next("default");
  busy.push(performance.now() - t);
}
busy.sort((a, b) => a - b);
// An idle queue: the tasks folder has not changed for a while.
await new Promise((resolve) => setTimeout(resolve, 2500));
const samples = [];
for (let i = 0; i < NEXT_SAMPLES; i++) {
  t = performance.now();
  await bigStore.next("default");
  samples.push(performance.now() - t);
}
samples.sort((a, b) => a - b);
await bigStore.close();
rmSync(ws.root, { recursive: true, force: true });
rmSync(big.root, { recursive: true, force: true });

console.log(
  table(`bench/store — ${machine()}`, [
    ["creates/s (each: 5 fsyncs under flock)", createsPerSecond.toFixed(0)],
    ["claim+respond/s", claimRespondPerSecond.toFixed(0)],
    [`next-task latency, first scan, ${FINISHED.toLocaleString("en")} finished tasks`, `${coldMs.toFixed(1)} ms`],
    [`next-task latency p50 / p99, folder just changed, ${FINISHED.toLocaleString("en")} finished tasks`, `${percentile(busy, 50).toFixed(2)} / ${percentile(busy, 99).toFixed(2)} ms`],
    [`next-task latency p50 / p99, idle queue, ${FINISHED.toLocaleString("en")} finished tasks`, `${percentile(samples, 50).toFixed(2)} / ${percentile(samples, 99).toFixed(2)} ms`],
  ]),
);
