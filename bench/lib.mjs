// Shared bench helpers: temp queues, finished-task fixtures, stats, tables.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createInterface } from "node:readline";
import { toJsonFile, toJsonLine } from "../dist/src/index.js";

export function tempWorkspace(prefix = "agent-lanes-bench-") {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  const request = path.join(root, "request.md");
  writeFileSync(request, "bench request\n");
  return { root, request, queue: path.join(root, "state") };
}

/**
 * Write `count` completed task folders straight to disk in the protocol's
 * layout (task.json, events.jsonl, response.json). Going through the store
 * would fsync ~5 times per task; a bench only needs the queue to look like a
 * long-lived one.
 */
export function writeFinishedTasks(queue, root, request, count, start = 0, options = {}) {
  const sha = createHash("sha256").update("bench request\n").digest("hex");
  const tasks = path.join(queue, "tasks");
  mkdirSync(tasks, { recursive: true, mode: 0o700 });
  // options.base / options.stepMs: when the first task was made and how far apart (default: 1 s apart from 2026-01-01);
  // options.vendors: answered by these vendors in turn, each answer reporting options.costUsd (default: no vendor, no cost).
  const base = options.base ?? Date.UTC(2026, 0, 1);
  const step = options.stepMs ?? 1000;
  for (let i = start; i < start + count; i++) {
    const stamp = new Date(base + i * step).toISOString().replace(/\.\d{3}Z$/, "Z");
    const compact = stamp.replace(/[-:]/g, "").replace("Z", "000000Z");
    const id = `${compact}-done${i}-${sha.slice(0, 12)}`;
    const dir = path.join(tasks, id);
    mkdirSync(dir, { mode: 0o700 });
    const task = {
      id, workspace_id: "bench", correlation_id: `done${i}`, source_agent: "bench", lane: "default",
      workspace_root: root, worktree_path: null, expected_branch: null, request_path: request, request_sha256: sha,
      supporting_paths: [], response_path: path.join(root, "out.md"), prompt: "", metadata: {}, state: "completed",
      created_at: stamp, updated_at: stamp, claim_owner: "bench", claim_token: "t", lease_expires_at: stamp,
      claimed_at: stamp, completed_at: stamp, failed_at: null, failure_reason: null,
    };
    writeFileSync(path.join(dir, "task.json"), toJsonFile(task), { mode: 0o600 });
    writeFileSync(path.join(dir, "events.jsonl"), `${toJsonLine({ created_at: stamp, type: "created", message: "", data: { lane: "default" } })}\n`, { mode: 0o600 });
    const metadata = options.vendors ? { vendor: options.vendors[i % options.vendors.length], cost_usd: options.costUsd ?? 0.01 } : {};
    writeFileSync(path.join(dir, "response.json"), toJsonFile({ task_id: id, status: "completed", body: "ok", reviewer: "bench", metadata }), { mode: 0o600 });
  }
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function median(values) {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export function table(title, rows) {
  const lines = [`### ${title}`, "", "| measure | value |", "| --- | --- |"];
  for (const [k, v] of rows) lines.push(`| ${k} | ${v} |`);
  return lines.join("\n");
}

export function machine() {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

/** The folder holding the Python agent_lanes package: AGENT_LANES_PY, else shared/agent-lanes-py in a folder above the repository; null if none. */
export function pythonToolPath() {
  const here = path.dirname(new URL(import.meta.url).pathname);
  const candidates = process.env.AGENT_LANES_PY ? [process.env.AGENT_LANES_PY] : [];
  for (let dir = path.resolve(here, "..", ".."); ; dir = path.dirname(dir)) {
    candidates.push(path.join(dir, "shared", "agent-lanes-py"));
    if (path.dirname(dir) === dir) break;
  }
  return candidates.find((c) => existsSync(path.join(c, "agent_lanes", "__init__.py"))) ?? null;
}

/** Resident set size of a live process in MiB (Linux /proc), or null. */
export function rssMiB(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Starts a long-running `node <args>` (a dispatcher) with stdout ignored and
 * the last lines of stderr kept for a failure message; stop() sends SIGTERM,
 * then SIGKILL after `stopTimeoutMs`, and resolves with how it ended.
 */
export function startNodeProcess(args, stopTimeoutMs) {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  const stderr = [];
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
      const timer = setTimeout(() => child.kill("SIGKILL"), stopTimeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}
