// One agent CLI run: started as an argv array (never a shell string) under
// the run guard (run-guard.ts), leading its own process group, with the input
// written to stdin and stdin closed. Output is read as it comes into capped
// collectors, so a flood never stalls the child; the task and idle timers and
// the caller's abort signal end the whole group, SIGTERM then SIGKILL.

import { existsSync } from "node:fs";
import type { ChildResult, Invocation } from "../../vendors/types.js";
import { guardSpawnError, spawnGuarded, type GuardedProcess } from "./run-guard.js";

/** Why the supervisor ended a run. */
export type KillReason = NonNullable<ChildResult["killedBy"]>;

const KILL_REASONS: readonly KillReason[] = ["task-timeout", "idle-timeout", "lease-lost", "shutdown"];

export interface RunChildOptions {
  /** Marks the run's processes (AGENT_LANES_RUN_ID in the env, the guard's argv) for the guard and the start-up sweep. */
  runId: string;
  /** Longest run. */
  taskTimeoutMs: number;
  /** Longest silence on stdout and stderr together. */
  idleTimeoutMs: number;
  /** Between SIGTERM and SIGKILL. */
  killGraceMs: number;
  /** Per stream; the rest is read and dropped. */
  maxOutputBytes: number;
  /** Aborting ends the run; the reason names why ("lease-lost", "shutdown"; anything else counts as shutdown). */
  signal?: AbortSignal;
  /** Called once the process group exists (its id is the agent's pid: the guard execs the agent). */
  onSpawn?(group: { pgid: number }): void;
  /** The environment the agent inherits (GuardOptions.baseEnv). @default process.env */
  baseEnv?: NodeJS.ProcessEnv;
}

/** Output of one stream, capped: bytes past the cap are counted and dropped. */
interface Collector {
  push(chunk: Buffer): void;
  text(): string;
  readonly truncated: boolean;
}

function createCollector(capBytes: number): Collector {
  const chunks: Buffer[] = [];
  let kept = 0;
  let truncated = false;
  return {
    push(chunk) {
      if (kept >= capBytes) {
        truncated = true;
        return;
      }
      const room = capBytes - kept;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      if (part.length < chunk.length) truncated = true;
      chunks.push(part);
      kept += part.length;
    },
    text: () => Buffer.concat(chunks, kept).toString("utf8"),
    get truncated() {
      return truncated;
    },
  };
}

/** Send `signal` to every process of the group; a group that is gone is fine. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ESRCH" && code !== "EPERM") throw error;
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** The run's timers, all cleared at once when the run ends. */
interface RunTimers {
  later(ms: number, fn: () => void): void;
  clear(): void;
}

function runTimers(): RunTimers {
  const timers = new Set<NodeJS.Timeout>();
  return {
    later(ms, fn) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        fn();
      }, Math.max(0, ms));
      timers.add(timer);
    },
    clear() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

/** Ends the run's process group, SIGTERM then SIGKILL after the grace, once; remembers the first reason. */
interface Terminator {
  terminate(reason: KillReason): void;
  /** The group exists (the guard was spawned). */
  started(pgid: number): void;
  /** The agent exited: nothing left to terminate. */
  exited(): void;
  readonly killedBy: KillReason | null;
}

function terminator(killGraceMs: number, timers: RunTimers): Terminator {
  let killedBy: KillReason | null = null;
  let pgid: number | undefined;
  let terminating = false;
  let gone = false;
  return {
    terminate(reason) {
      // The first cause wins: a timeout that fires during a shutdown kill is not the reason.
      killedBy ??= reason;
      if (terminating || gone || pgid === undefined) return;
      terminating = true;
      const group = pgid;
      signalGroup(group, "SIGTERM");
      timers.later(killGraceMs, () => signalGroup(group, "SIGKILL"));
    },
    started(group) {
      pgid = group;
    },
    exited() {
      gone = true;
    },
    get killedBy() {
      return killedBy;
    },
  };
}

/** The idle timer: re-armed for the remaining quiet time instead of on every chunk, so a flood costs no timer churn. */
function watchIdle(idleTimeoutMs: number, timers: RunTimers, onIdle: () => void): { heard(): void } {
  let lastOutputAt = performance.now();
  const check = (): void => {
    const quietMs = performance.now() - lastOutputAt;
    if (quietMs >= idleTimeoutMs) onIdle();
    else timers.later(idleTimeoutMs - quietMs, check);
  };
  timers.later(idleTimeoutMs, check);
  return {
    heard() {
      lastOutputAt = performance.now();
    },
  };
}

/** The caller's abort signal ends the run; its reason names why ("lease-lost", "shutdown"; anything else counts as shutdown). */
function onAbort(signal: AbortSignal | undefined, terminate: (reason: KillReason) => void, until: AbortSignal): void {
  if (!signal) return;
  const stop = (): void => {
    const reason = signal.reason;
    terminate(KILL_REASONS.includes(reason as KillReason) ? (reason as KillReason) : "shutdown");
  };
  if (signal.aborted) stop();
  else signal.addEventListener("abort", stop, { once: true, signal: until });
}

/** Feed the input to stdin (then close it), collect stdout and stderr, and note every chunk for the idle timer. */
function wireStreams(subprocess: GuardedProcess, input: string, stdout: Collector, stderr: Collector, heard: () => void): void {
  // An agent that never reads its input closes the pipe under us: EPIPE is its business.
  subprocess.stdin?.on("error", () => undefined);
  subprocess.stdin?.end(input);
  const collect = (collector: Collector) => (chunk: Buffer) => {
    heard();
    collector.push(chunk);
  };
  subprocess.stdout?.on("data", collect(stdout));
  subprocess.stderr?.on("data", collect(stderr));
}

/** A guard that could not start, as the run's spawn error (a missing working folder named as such). */
function startFailure(invocation: Invocation, error: Error): Error {
  if (existsSync(invocation.cwd)) return toError(error);
  const missing = new Error(`working directory does not exist: ${invocation.cwd}`, { cause: error }) as NodeJS.ErrnoException;
  missing.code = "ENOENT";
  return missing;
}

/** Run `invocation` to its end and report what happened; never throws for the child's failures. */
export async function runChild(invocation: Invocation, options: RunChildOptions): Promise<ChildResult> {
  const started = performance.now();
  const stdout = createCollector(options.maxOutputBytes);
  const stderr = createCollector(options.maxOutputBytes);
  const timers = runTimers();
  // Every listener of the run hangs off this controller, aborted once in finally.
  const run = new AbortController();
  const group = terminator(options.killGraceMs, timers);
  const result = (fields: Partial<ChildResult>): ChildResult => ({
    exitCode: null,
    signal: null,
    stdout: stdout.text(),
    stderr: stderr.text(),
    stdoutTruncated: stdout.truncated,
    stderrTruncated: stderr.truncated,
    durationMs: Math.round(performance.now() - started),
    killedBy: group.killedBy,
    spawnError: null,
    invocation,
    ...fields,
  });

  try {
    const subprocess = await spawnGuarded(invocation, { runId: options.runId, killGraceMs: options.killGraceMs, baseEnv: options.baseEnv });
    const pgid = subprocess.pid;
    if (pgid !== undefined) {
      group.started(pgid);
      try {
        options.onSpawn?.({ pgid });
      } catch {
        // an observer never breaks the run
      }
    }
    const idle = watchIdle(options.idleTimeoutMs, timers, () => group.terminate("idle-timeout"));
    wireStreams(subprocess, invocation.input ?? "", stdout, stderr, idle.heard);
    void subprocess.exited.then(() => {
      group.exited();
      // Whatever the agent left behind in its group dies with it.
      subprocess.endGroup();
    });
    timers.later(options.taskTimeoutMs, () => group.terminate("task-timeout"));
    onAbort(options.signal, (reason) => group.terminate(reason), run.signal);

    const done = await subprocess.ended;
    if (done.error) {
      subprocess.disarm();
      return result({ spawnError: startFailure(invocation, done.error) });
    }
    const cannotRun = guardSpawnError(done.code, stderr.text());
    if (cannotRun) return result({ spawnError: cannotRun, stderr: "" });
    return result({ exitCode: done.code, signal: done.signal });
  } finally {
    run.abort();
    timers.clear();
  }
}
