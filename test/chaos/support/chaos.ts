// The chaos harness: real `agent-lanes dispatch` supervisors on one queue,
// SIGKILLed at seeded random moments (right after a claim, while the agent
// runs, while the supervisor writes the response, or any time) and restarted,
// until enough kills; then the queue drains and is audited.

import { watch, type FSWatcher } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { openStore, type Store } from "../../../src/store/index.js";
import { describeProcess, livePids, processesOf, type RecordedProcess } from "./audit.js";
import { CLI, start, until, type Running } from "./processes.js";

export const AGENT = path.resolve(__dirname, "../../fixtures/chaos/agent.mjs");

export type KillMoment = "after-claim" | "mid-spawn" | "child-running" | "responding" | "any-time";
const MOMENTS: readonly KillMoment[] = ["after-claim", "child-running", "responding", "any-time"];

/** mulberry32: a small seeded generator, so a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ChaosOptions {
  root: string;
  tasks: number;
  kills: number;
  supervisors: number;
  seed: number;
  /** Per supervisor. @default 2 */
  concurrency?: number;
  /** @default 3 (the supervisor's minimum) */
  leaseSeconds?: number;
  /** Longest agent run. @default 400 */
  agentMaxMs?: number;
  /** Share of agent runs that start a grandchild. @default 30 */
  grandchildPercent?: number;
  /** Give up draining after this long. @default 45_000 */
  drainTimeoutMs?: number;
  /** Share of agents that ignore SIGTERM. @default 0 */
  ignoreTermPercent?: number;
  /** Share of agents that start a descendant leaving the group with setsid (and outliving the run). @default 0 */
  setsidPercent?: number;
  /** Kill moments drawn from. @default after-claim, child-running, responding, any-time */
  moments?: readonly KillMoment[];
  /** A killed supervisor's processes still alive this long after the kill are survivors. @default 5000 */
  survivorDeadlineMs?: number;
  /** @default 10 */
  maxAttempts?: number;
}

export interface KillRecord {
  supervisor: string;
  moment: KillMoment;
  /** Whether the chosen moment was seen, or the fallback timer fired. */
  triggered: boolean;
  /** Processes of the killed supervisor (agents, grandchildren, guards, setsid descendants) still alive at the survivor deadline. */
  survivors: RecordedProcess[];
  /**
   * When there were survivors: the runs' processes just before the kill
   * (processesOf), and the supervisor's last log lines, to tell which of
   * its steps the kill interrupted.
   */
  before?: { processes: string[]; log: string };
}

export interface ChaosResult {
  queue: string;
  pidRoot: string;
  kills: KillRecord[];
  drained: boolean;
  /** stderr of every supervisor that ended with a code other than the kill's. */
  crashes: string[];
  restarts: number;
  killPhaseMs: number;
  drainMs: number;
}

interface Instance {
  name: string;
  running: Running;
  pidDir: string;
  /** True once the supervisor logged "dispatcher started" (its signal handlers are in place). */
  readonly started: boolean;
  /** Resolve on the next log line with this msg. */
  nextLog(msg: string): Promise<void>;
  /** Resolve on the next `<pid>.answering` file an agent of this instance drops. */
  nextAnswer(): Promise<void>;
  close(): void;
}

async function startInstance(name: string, queue: string, pidRoot: string, options: ChaosOptions): Promise<Instance> {
  const pidDir = path.join(pidRoot, name);
  await mkdir(pidDir, { recursive: true });
  const running = start(
    process.execPath,
    [CLI, "--store", queue, "dispatch", "--vendor", "command", "--command", `${process.execPath} ${AGENT}`,
      "--concurrency", String(options.concurrency ?? 2), "--lease-seconds", String(options.leaseSeconds ?? 3),
      "--poll-seconds", "0.5", "--max-attempts", String(options.maxAttempts ?? 10), "--kill-grace-seconds", "1", "--grace-seconds", "5",
      "--owner", name, "--log-format", "json", "--log-level", "info"],
    {
      env: {
        ...process.env,
        CHAOS_PID_DIR: pidDir,
        CHAOS_MAX_MS: String(options.agentMaxMs ?? 400),
        CHAOS_GRANDCHILD_PERCENT: String(options.grandchildPercent ?? 30),
        CHAOS_IGNORE_TERM_PERCENT: String(options.ignoreTermPercent ?? 0),
        CHAOS_SETSID_PERCENT: String(options.setsidPercent ?? 0),
      },
    },
  );
  const logWaiters = new Map<string, Array<() => void>>();
  let started = false;
  let partial = "";
  // The supervisor logs (pino, JSON lines) on stderr.
  running.child.stderr?.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      let msg: unknown;
      try {
        msg = (JSON.parse(line) as { msg?: unknown }).msg;
      } catch {
        continue;
      }
      if (msg === "dispatcher started") started = true;
      const waiting = typeof msg === "string" ? logWaiters.get(msg) : undefined;
      if (waiting) {
        logWaiters.delete(msg as string);
        for (const wake of waiting) wake();
      }
    }
  });
  const answerWaiters: Array<() => void> = [];
  const watcher: FSWatcher = watch(pidDir, (_event, file) => {
    if (typeof file === "string" && file.endsWith(".answering")) for (const wake of answerWaiters.splice(0)) wake();
  });
  return {
    name,
    running,
    pidDir,
    get started() {
      return started;
    },
    nextLog: (msg) => new Promise((resolve) => logWaiters.set(msg, [...(logWaiters.get(msg) ?? []), resolve])),
    nextAnswer: () => new Promise((resolve) => answerWaiters.push(resolve)),
    close: () => watcher.close(),
  };
}

const delay = (ms: number): Promise<"timeout"> => new Promise((resolve) => setTimeout(() => resolve("timeout"), ms));

/** Submit the tasks, run the supervisors with kills and restarts, drain, stop. */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const random = seededRandom(options.seed);
  const ws = path.join(options.root, "ws");
  const queue = path.join(ws, "handoff", "state");
  const pidRoot = path.join(options.root, "pids");
  await mkdir(pidRoot, { recursive: true });
  await mkdir(ws, { recursive: true });
  const request = path.join(ws, "request.md");
  await writeFile(request, "review this\n");
  const store: Store = openStore(queue);
  for (let i = 0; i < options.tasks; i++) {
    await store.create({
      workspace_id: "chaos",
      correlation_id: `c${i}`,
      lane: "default",
      workspace_root: ws,
      request_path: request,
      response_path: `out/c${i}.md`,
      prompt: `MARKER:c${i}`,
    });
  }

  const result: ChaosResult = { queue, pidRoot, kills: [], drained: false, crashes: [], restarts: 0, killPhaseMs: 0, drainMs: 0 };
  const began = Date.now();
  let serial = 0;
  const slots: Instance[] = [];
  for (let s = 0; s < options.supervisors; s++) slots.push(await startInstance(`s${s}-${serial++}`, queue, pidRoot, options));
  try {
    while (result.kills.length < options.kills) {
      const slot = Math.floor(random() * slots.length);
      const victim = slots[slot] as Instance;
      const moments = options.moments ?? MOMENTS;
      const moment = moments[Math.floor(random() * moments.length)] as KillMoment;
      let trigger: Promise<unknown>;
      if (moment === "after-claim") trigger = victim.nextLog("task claimed");
      // Logged just before the guard is spawned: the kill lands around the spawn and the handshake.
      else if (moment === "mid-spawn") trigger = victim.nextLog("child starting");
      else if (moment === "child-running") trigger = victim.nextLog("child starting").then(() => delay(random() * 150));
      else if (moment === "responding") trigger = victim.nextAnswer().then(() => delay(random() * 40));
      else trigger = delay(200 + random() * 1500);
      const seen = await Promise.race([trigger.then(() => true), delay(3000).then(() => false)]);
      const before = processesOf(victim.pidDir);
      victim.running.child.kill("SIGKILL");
      const end = await victim.running.exited;
      victim.close();
      if (end.signal !== "SIGKILL") result.crashes.push(`${victim.name} ended with ${end.code ?? end.signal} before the kill: ${victim.running.stderr().slice(-1500)}`);
      // The run guard ends a dead supervisor's process groups and marked descendants within 1 s.
      await until(async () => (await livePids(victim.pidDir)).length === 0, options.survivorDeadlineMs ?? 5000, 100);
      const survivors = await livePids(victim.pidDir);
      if (survivors.length > 0) {
        // A survivor fails the test; first say what it was doing, and whether it ends later on its own
        // (slow under load) or not at all (waiting on something), then end it so the run goes on.
        for (const s of survivors) s.detail = describeProcess(s.pid);
        const lateStart = Date.now();
        const late = await until(async () => (await livePids(victim.pidDir)).length === 0, 20_000, 100);
        for (const s of survivors) s.detail += late ? `; ended on its own ${Date.now() - lateStart} ms later` : "; still alive 20 s later (killed by the test)";
        for (const s of await livePids(victim.pidDir)) {
          try {
            process.kill(s.pid, "SIGKILL");
          } catch {
            // ended meanwhile
          }
        }
      }
      result.kills.push({ supervisor: victim.name, moment, triggered: seen, survivors, ...(survivors.length > 0 ? { before: { processes: before, log: victim.running.stderr().slice(-2000) } } : {}) });
      slots[slot] = await startInstance(`s${slot}-${serial++}`, queue, pidRoot, options);
      result.restarts += 1;
    }
    result.killPhaseMs = Date.now() - began;
    result.drained = await until(async () => {
      const tasks = await store.list();
      return tasks.every((t) => t.state === "completed" || t.state === "failed");
    }, options.drainTimeoutMs ?? 45_000, 250);
    result.drainMs = Date.now() - began - result.killPhaseMs;
  } finally {
    for (const instance of slots) {
      // A supervisor still loading its modules has no SIGTERM handler yet; stop it once it runs.
      await until(() => instance.started || instance.running.done, 10_000, 50);
      if (!instance.running.done) instance.running.child.kill("SIGTERM");
      const end = await instance.running.exited;
      instance.close();
      if (end.code !== 0 && end.signal !== "SIGKILL") result.crashes.push(`${instance.name} stopped with ${end.code ?? end.signal}: ${instance.running.stderr().slice(-1500)}`);
    }
    await store.close();
  }
  return result;
}
