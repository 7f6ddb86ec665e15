#!/usr/bin/env node
// What a one-shot command costs an orchestrator, beside its floors: the
// median wall time of each command (a fresh process, as a shell runs it)
// beside `node -e 0` and beside the Python tool 0.1.1 doing the same on the
// same queue in the same run (the two are interleaved run by run, so machine
// load hits both alike), for 0, 10,000 and 50,000 finished tasks in the queue.
// Listing commands are timed on a warm summary cache (one untimed run first,
// for both tools). Each row shows the ratio beside its target (issue 14: every
// one-shot command <= 0.6x Python; with 50,000 finished tasks status --all
// <= 0.3x and wait --lane <= 0.2x) and each tool's peak RSS (one more run of
// each under /usr/bin/time, untimed). Each run's CPU time (user + system) is
// taken too (bench/rusage.py, wait4), and shown beside the wall time: on a
// shared machine the wall time moves with the load, the CPU time much less.
// Prints markdown tables with the load average before and after; a few
// minutes on 2 cores.
//
// BENCH_NODE=/path/to/node runs our CLI and `node -e 0` with that Node (the
// bench itself runs on this one), e.g. Node 24 beside the machine's Node 20.
// BENCH_ENV=clean runs every process (both tools, node -e 0) without
// NODE_EXTRA_CA_CERTS: Node 20 reads and parses that file at start-up, before
// any code runs, which on a machine that sets it costs each Node process some
// 30 ms of CPU (Node 24 reads it only when TLS needs it). Our bin's /bin/sh
// launcher line moves it aside for Node's start and puts it back at once
// (src/extra-ca-certs.ts), so `node -e 0` pays it and our commands do not.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openStore } from "../dist/src/index.js";
import { machine, median, pythonToolPath, tempWorkspace, writeFinishedTasks } from "./lib.mjs";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
/** The package's bin, as npm installs it. */
const CLI = path.join(ROOT, JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).bin["agent-lanes"]);
const RUSAGE = path.join(ROOT, "bench", "rusage.py");
const NODE = process.env.BENCH_NODE || process.execPath;
const HAVE_PYTHON = spawnSync("python3", ["-c", "0"]).status === 0;
/** The bin runs as a shell runs it (its /bin/sh launcher execs the `node` on PATH): that Node first on PATH. */
const BASE_ENV = { ...process.env, PATH: `${path.dirname(NODE)}${path.delimiter}${process.env.PATH ?? ""}` };
if (process.env.BENCH_ENV === "clean") delete BASE_ENV.NODE_EXTRA_CA_CERTS;
const SIZES = (process.env.BENCH_SIZES ?? "0,10000,50000").split(",").map(Number);
const PY = pythonToolPath();
const QUICK_RUNS = Number(process.env.BENCH_RUNS ?? 9);
/** Runs of the commands that read the whole queue, by queue size (Python's take seconds at 50,000). */
const heavyRuns = (size) => (size >= 50_000 ? 3 : size >= 10_000 ? 5 : QUICK_RUNS);

const ws = tempWorkspace("agent-lanes-bench-cli-");
// The workspace goes however the bench ends (a command that fails throws out of the run).
process.on("exit", () => rmSync(ws.root, { recursive: true, force: true }));
mkdirSync(path.join(ws.root, "handoff"));
const config = path.join(ws.root, "handoff", "handoff.yaml");
// One config both tools read: the queue is ws.queue (<root>/state).
writeFileSync(config, "workspace_id: bench\nworkspace_root: ..\nqueue_root: ../state\nlanes:\n  default: {description: bench}\n  idle: {description: never used}\n");
const store = openStore(ws.queue);

/** One run of `argv`: its wall and CPU milliseconds (CPU null without python3 to take it). */
function timed(argv, env) {
  const started = performance.now();
  const result = HAVE_PYTHON
    ? spawnSync("python3", [RUSAGE, ...argv], { cwd: ws.root, encoding: "utf8", env, maxBuffer: 1 << 30, stdio: ["pipe", "pipe", "pipe", "pipe"] })
    : spawnSync(argv[0], argv.slice(1), { cwd: ws.root, encoding: "utf8", env, maxBuffer: 1 << 30 });
  let ms = performance.now() - started;
  if (result.status !== 0 && result.status !== 2) throw new Error(`${argv.slice(0, 6).join(" ")} exited ${result.status}: ${result.stderr.slice(0, 500)}`);
  let cpu = null;
  const measured = HAVE_PYTHON ? /^(\d+) (\d+)/.exec(result.output[3] ?? "") : null;
  if (measured) {
    ms = Number(measured[1]) / 1000;
    cpu = Number(measured[2]) / 1000;
  }
  return { ms, cpu };
}
const ours = (args) => [CLI, "--config", config, ...args];
const python = (args) => ["python3", "-m", "agent_lanes", "--config", config, ...args];
const pyEnv = PY ? { ...BASE_ENV, PYTHONPATH: PY } : null;

/** Median wall and CPU ms of `node -e 0`. */
function baseline(runs) {
  const times = [];
  for (let i = 0; i < runs; i++) times.push(timed([NODE, "-e", "0"], BASE_ENV));
  return medians(times);
}

/** Medians of runs' wall and CPU times. */
function medians(runs) {
  const cpus = runs.map((r) => r.cpu).filter((c) => c !== null);
  return { ms: median(runs.map((r) => r.ms)), cpu: cpus.length === runs.length ? median(cpus) : null };
}

const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : null;

/** Peak RSS (MiB) of one run of `argv`, or null without /usr/bin/time. */
function peakRss(argv, env) {
  if (!TIME) return null;
  const result = spawnSync(TIME, ["-f", "@@rss %M", ...argv], { cwd: ws.root, encoding: "utf8", env, maxBuffer: 1 << 30 });
  const kb = /@@rss (\d+)/.exec(result.stderr ?? "")?.[1];
  return kb ? Number(kb) / 1024 : null;
}

/**
 * Median ms of ours and of Python's for `runs` interleaved runs (who goes
 * first alternates), and each one's peak RSS; `argsFor(i, who)` gives a
 * run's arguments (i = -1: the untimed warm-up, i = -2: the RSS run).
 */
function paired(runs, argsFor, warm = false) {
  const o = [];
  const p = [];
  if (warm) {
    timed(ours(argsFor(-1, "ours")), BASE_ENV);
    if (pyEnv) timed(python(argsFor(-1, "python")), pyEnv);
  }
  for (let i = 0; i < runs; i++) {
    const runOurs = () => o.push(timed(ours(argsFor(i, "ours")), BASE_ENV));
    const runPython = () => pyEnv && p.push(timed(python(argsFor(i, "python")), pyEnv));
    if (i % 2 === 0) {
      runOurs();
      runPython();
    } else {
      runPython();
      runOurs();
    }
  }
  return {
    ours: medians(o),
    python: pyEnv ? medians(p) : null,
    oursRss: peakRss(ours(argsFor(-2, "ours")), BASE_ENV),
    pythonRss: pyEnv ? peakRss(python(argsFor(-2, "python")), pyEnv) : null,
  };
}

/** Issue 14's target for a command's ratio at this queue size. */
function target(name, size) {
  if (size >= 50_000 && name.startsWith("`status --all")) return 0.3;
  if (size >= 50_000 && name.startsWith("`wait --lane")) return 0.2;
  return 0.6;
}
const nodeVersion = NODE === process.execPath ? process.version : spawnSync(NODE, ["--version"], { encoding: "utf8" }).stdout.trim();
const cpuText = (cpu) => (cpu === null ? "" : ` (${Math.round(cpu)} ms CPU)`);
const envNote =
  process.env.BENCH_ENV === "clean"
    ? "Run without NODE_EXTRA_CA_CERTS (BENCH_ENV=clean)."
    : process.env.NODE_EXTRA_CA_CERTS
      ? "NODE_EXTRA_CA_CERTS is set (Node 20 parses it at every start of `node -e 0`; our bin defers it to the first TLS connection; BENCH_ENV=clean runs without it)."
      : "";
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" / ");

let serial = 0;
async function queued() {
  serial += 1;
  return store.create({ workspace_id: "bench", correlation_id: `q${serial}`, lane: "default", workspace_root: ws.root, request_path: ws.request, response_path: `out/q${serial}.md` });
}

const tables = [];
let written = 0;
for (const size of SIZES) {
  process.stderr.write(`bench/cli: ${size.toLocaleString("en")} finished tasks ...\n`);
  writeFinishedTasks(ws.queue, ws.root, ws.request, size - written, written);
  written = size;
  const runs = QUICK_RUNS;
  const heavy = heavyRuns(size);
  const node = baseline(runs);
  const rows = [];
  const row = (name, r, n) => rows.push([name, n, r]);

  const loadBefore = load();
  row("`submit`", paired(runs, (i, who) => ["submit", "--lane", "default", "--request-from", ws.request, "--response-to", `out/s-${who}-${i}.md`, "--task-id", `s-${who}-${i}`]), runs);
  const one = await queued();
  row("`status TASK_ID --json`", paired(runs, () => ["status", one.id, "--json"]), runs);
  // claim and respond need a fresh task per run and tool
  // (index runs: the RSS run, i = -2, takes the last one)
  const toClaim = { ours: [], python: [] };
  for (let i = 0; i <= runs; i++) for (const who of ["ours", "python"]) toClaim[who].push((await queued()).id);
  const at = (i) => (i === -2 ? runs : i);
  row("`claim TASK_ID`", paired(runs, (i, who) => ["claim", toClaim[who][at(i)], "--owner", "bench"]), runs);
  const tokens = { ours: [], python: [] };
  for (const who of ["ours", "python"]) for (const id of toClaim[who]) tokens[who].push((await store.get(id)).claim_token);
  row("`respond TASK_ID`", paired(runs, (i, who) => ["respond", toClaim[who][at(i)], "--claim-token", tokens[who][at(i)], "--body", "ok"]), runs);
  const answered = toClaim.ours[0];
  row("`wait TASK_ID` (answered)", paired(runs, () => ["wait", answered, "--timeout", "5", "--quiet"]), runs);
  row("`wait --lane idle --timeout 0 --json`", paired(heavy, () => ["wait", "--lane", "idle", "--timeout", "0", "--json"], true), heavy);
  row("`next --lane idle --timeout 0`", paired(heavy, () => ["next", "--lane", "idle", "--timeout", "0", "--quiet"], true), heavy);
  row("`status --all --json`", paired(heavy, () => ["status", "--all", "--json"], true), heavy);
  row("`list --json`", paired(heavy, () => ["list", "--json"], true), heavy);

  const lines = [
    `#### bench/cli: one-shot commands, ${size.toLocaleString("en")} finished tasks (${machine()}${NODE === process.execPath ? "" : `; our CLI on Node ${nodeVersion}`})`,
    "",
    `\`node -e 0\`: ${Math.round(node.ms)} ms${cpuText(node.cpu)} (median of ${runs}). 1-min load average before / after: ${loadBefore.split(" / ")[0]} / ${load().split(" / ")[0]}. ${envNote}`,
    "",
    "| command | runs | ours (median) | Python 0.1.1 (median) | ours / Python | target | ours − `node -e 0` | CPU ours / Python (median) | CPU ratio | peak RSS ours / Python |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  const mib = (v) => (v === null ? "n/a" : `${Math.round(v)} MiB`);
  for (const [name, n, r] of rows) {
    const ratio = r.python ? r.ours.ms / r.python.ms : null;
    const goal = target(name, size);
    const verdict = ratio === null ? "" : ratio <= goal ? " met" : " **not met**";
    const cpu = r.ours.cpu !== null && r.python?.cpu != null ? `${Math.round(r.ours.cpu)} / ${Math.round(r.python.cpu)} ms` : "n/a";
    const cpuRatio = r.ours.cpu !== null && r.python?.cpu ? `${(r.ours.cpu / r.python.cpu).toFixed(2)}×` : "n/a";
    lines.push(
      `| ${name} | ${n} | ${Math.round(r.ours.ms)} ms | ${r.python ? `${Math.round(r.python.ms)} ms` : "n/a (no Python tool found)"} | ${ratio === null ? "n/a" : `${ratio.toFixed(2)}×`} | ≤ ${goal}×${verdict} | ${Math.round(r.ours.ms - node.ms)} ms | ${cpu} | ${cpuRatio} | ${mib(r.oursRss)} / ${mib(r.pythonRss)} |`,
    );
  }
  tables.push(lines.join("\n"));
  console.log(`${lines.join("\n")}\n`);
}
await store.close();
rmSync(ws.root, { recursive: true, force: true });
