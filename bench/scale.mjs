#!/usr/bin/env node
// What a long-lived queue costs the long-running processes: resident memory of
// an idle supervisor, an idle `wait --lane` and `serve` with 0 and 50,000
// finished tasks, and how fast an idle supervisor claims a new task (from the
// moment its task.json is renamed into place to its claimed_at), beside the floor: how fast a raw fs.watch sees a rename.
// Prints markdown tables; a few minutes on 2 cores (writing 50,000 tasks is
// most of it).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, watch, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openStore, toJsonFile, toJsonLine } from "../dist/src/index.js";
import { machine, median, percentile, rssMiB, tempWorkspace, writeFinishedTasks } from "./lib.mjs";

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist", "src", "cli", "main.js");
const SIZES = (process.env.BENCH_SCALE_SIZES ?? "0,50000").split(",").map(Number);
const CLAIMS = Number(process.env.BENCH_CLAIMS ?? 40);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** The process's children (a long-running store's scan helper while it works). */
function children(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
  } catch {
    return "";
  }
}

/** Wait until a process's CPU time stops growing and it has no child at work (start-up, first scan and watchers done). */
async function settled(pid) {
  let last = cpuSeconds(pid);
  for (let i = 0; i < 240; i++) {
    await sleep(500);
    const now = cpuSeconds(pid);
    if (now === null || last === null) return;
    if (now - last < 0.01 && children(pid) === "") return;
    last = now;
  }
}

function start(args, ws, env = {}) {
  return spawn(process.execPath, [CLI, "--config", ws.config, ...args], { cwd: ws.root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
}

async function stop(child) {
  if (child.exitCode !== null) return;
  child.kill("SIGTERM");
  await new Promise((resolve) => child.once("exit", resolve));
}

/** The floor of a wake-up: a rename into a watched folder, seen by fs.watch. */
async function rawWatchMs(dir, samples = 20) {
  const times = [];
  for (let i = 0; i < samples; i++) {
    const seen = new Promise((resolve) => {
      const w = watch(dir, () => {
        w.close();
        resolve(performance.now());
      });
    });
    const tmp = path.join(dir, `.raw-${i}.tmp`);
    writeFileSync(tmp, "x");
    const t0 = performance.now();
    renameSync(tmp, path.join(dir, `raw-${i}`));
    times.push((await seen) - t0);
    rmSync(path.join(dir, `raw-${i}`));
  }
  return median(times);
}

/** Put a queued task in place the way any writer does; returns its id and the moment (ms since the epoch) task.json landed. */
function landTask(ws, i) {
  const sha = createHash("sha256").update(readFileSync(ws.request)).digest("hex");
  const now = new Date();
  const stamp = now.toISOString().replace("Z", `${String(i % 1000).padStart(3, "0")}Z`);
  const id = `${stamp.replace(/[-:.]/g, "").replace(/Z$/, "Z")}-wake${i}-${sha.slice(0, 12)}`.replace(/^(\d{8}T\d{6})(\d{6})Z/, "$1$2Z");
  const dir = path.join(ws.queue, "tasks", id);
  mkdirSync(dir, { mode: 0o700 });
  const task = {
    id, workspace_id: "bench", correlation_id: `wake${i}`, source_agent: "bench", lane: "default", workspace_root: ws.root,
    worktree_path: null, expected_branch: null, request_path: ws.request, request_sha256: sha, supporting_paths: [],
    response_path: path.join(ws.root, "out", `wake${i}.md`), prompt: "", metadata: {}, state: "queued",
    created_at: stamp, updated_at: stamp, claim_owner: null, claim_token: null, lease_expires_at: null, claimed_at: null,
    completed_at: null, failed_at: null, failure_reason: null,
  };
  writeFileSync(path.join(dir, "events.jsonl"), `${toJsonLine({ created_at: stamp, type: "created", message: "", data: { lane: "default" } })}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, ".task.json.tmp"), toJsonFile(task), { mode: 0o600 });
  renameSync(path.join(dir, ".task.json.tmp"), path.join(dir, "task.json"));
  return { id, at: Date.now() };
}

const rows = [];
const results = {};
let rawMs = null;
for (const size of SIZES) {
  process.stderr.write(`bench/scale: ${size.toLocaleString("en")} finished tasks ...\n`);
  const ws = tempWorkspace("agent-lanes-bench-scale-");
  ws.config = path.join(ws.root, "handoff.yaml");
  writeFileSync(ws.config, "workspace_id: bench\nworkspace_root: .\nqueue_root: state\nlanes:\n  default: {}\n  idle: {}\n");
  writeFinishedTasks(ws.queue, ws.root, ws.request, size);
  rawMs ??= await rawWatchMs(ws.root);

  // An idle supervisor: memory, then claim latency one task at a time.
  const sup = start(["dispatch", "--vendor", "command", "--command", "cat", "--log-format", "json", "--poll-seconds", "60", "--log-level", "warn"], ws);
  await settled(sup.pid);
  await sleep(1000);
  const supIdle = rssMiB(sup.pid);
  const store = openStore(ws.queue);
  const latencies = [];
  for (let i = 0; i < CLAIMS; i++) {
    // Written as another implementation would (folder, events, then task.json by rename): the clock starts at the rename.
    const landed = landTask(ws, i);
    await store.waitForResponse(landed.id, { timeoutMs: 30_000 });
    const done = await store.get(landed.id);
    latencies.push(Date.parse(done.claimed_at) - landed.at);
    await sleep(50); // idle again before the next one
  }
  await sleep(1000);
  const supAfter = rssMiB(sup.pid);
  await stop(sup);

  // A long wait --lane and an idle serve on the same queue.
  const waiter = start(["wait", "--lane", "idle", "--timeout", "600", "--quiet"], ws);
  await settled(waiter.pid);
  const waitRss = rssMiB(waiter.pid);
  await stop(waiter);
  const server = start(["serve", "--port", "0"], ws);
  const url = await new Promise((resolve) => {
    let text = "";
    server.stderr.on("data", (chunk) => {
      text += chunk;
      const m = /listening on (\S+)/.exec(text);
      if (m) resolve(m[1]);
    });
    setTimeout(() => resolve(null), 20_000);
  });
  if (url) await fetch(`${url}/tasks/next?lane=idle&wait=0`).catch(() => null);
  await settled(server.pid);
  const serveRss = rssMiB(server.pid);
  await stop(server);
  await store.close();
  rmSync(ws.root, { recursive: true, force: true });

  latencies.sort((a, b) => a - b);
  results[size] = { supIdle, supAfter, waitRss, serveRss, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) };
}

const mib = (v) => (v === null || v === undefined ? "n/a" : `${v.toFixed(1)} MiB`);
// Issue 13: with the largest history, RSS ≤ 80 MiB and within 15 % of the empty queue's (the floor, same run).
const floorSize = SIZES.includes(0) ? 0 : null;
const largest = Math.max(...SIZES);
function target(key) {
  if (floorSize === null || largest === floorSize) return "n/a (needs sizes 0 and more)";
  const floor = results[floorSize][key];
  const got = results[largest][key];
  if (floor === null || got === null) return "n/a";
  const bound = Math.min(80, floor * 1.15);
  return `≤ ${bound.toFixed(1)} MiB at ${largest.toLocaleString("en")} (80 MiB, floor +15 %): ${got <= bound ? "met" : "**not met**"} (${((got / floor - 1) * 100).toFixed(0)} % over the floor)`;
}
const lines = [
  `#### bench/scale: memory and wake-up with a long history (${machine()})`,
  "",
  `| measure | ${SIZES.map((s) => `${s.toLocaleString("en")} finished`).join(" | ")} | target (issue 13) |`,
  `| --- | ${SIZES.map(() => "---").join(" | ")} | --- |`,
  `| idle supervisor RSS (after start-up and its first scan) | ${SIZES.map((s) => mib(results[s].supIdle)).join(" | ")} | ${target("supIdle")} |`,
  `| supervisor RSS after ${CLAIMS} more tasks | ${SIZES.map((s) => mib(results[s].supAfter)).join(" | ")} | ${target("supAfter")} |`,
  `| idle \`wait --lane\` RSS | ${SIZES.map((s) => mib(results[s].waitRss)).join(" | ")} | ${target("waitRss")} |`,
  `| idle \`serve\` RSS (after one lane look-up) | ${SIZES.map((s) => mib(results[s].serveRss)).join(" | ")} | ${target("serveRss")} |`,
  `| new task → claimed by an idle supervisor, p50 / p99 / max of ${CLAIMS} (task.json renamed into place → claimed_at) | ${SIZES.map((s) => `${results[s].p50.toFixed(1)} / ${results[s].p99.toFixed(1)} / ${results[s].max.toFixed(1)} ms`).join(" | ")} | p50 ≤ 10, p99 ≤ 30 ms |`,
  `| floor: a rename seen by a raw fs.watch, median of 20 | ${SIZES.map(() => `${rawMs.toFixed(2)} ms`).join(" | ")} | |`,
  "",
  `1-min load average at the end: ${os.loadavg()[0].toFixed(2)} (2 cores shared: the RSS figures do not move with load, the latencies do).`,
];
console.log(lines.join("\n"));
