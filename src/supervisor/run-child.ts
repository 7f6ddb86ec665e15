// One agent CLI run: started as an argv array (never a shell string) under
// the run guard (run-guard.ts), leading its own process group, with the input
// written to stdin and stdin closed. Output is read as it comes into capped
// collectors, so a flood never stalls the child; the task and idle timers and
// the caller's abort signal end the whole group, SIGTERM then SIGKILL.

import { existsSync } from "node:fs";
import type { ChildResult, Invocation } from "../../vendors/types.js";
import { guardSpawnError, spawnGuarded } from "./run-guard.js";

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

/** Run `invocation` to its end and report what happened; never throws for the child's failures. */
export async function runChild(invocation: Invocation, options: RunChildOptions): Promise<ChildResult> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const stdout = createCollector(options.maxOutputBytes);
  const stderr = createCollector(options.maxOutputBytes);
  // One controller per run: every timer and listener hangs off it, aborted once in finally.
  const run = new AbortController();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, Math.max(0, ms));
    timers.add(timer);
  };
  let killedBy: KillReason | null = null;
  let pgid: number | undefined;
  let terminating = false;
  let exited = false;

  const result = (fields: Partial<ChildResult>): ChildResult => ({
    exitCode: null,
    signal: null,
    stdout: stdout.text(),
    stderr: stderr.text(),
    stdoutTruncated: stdout.truncated,
    stderrTruncated: stderr.truncated,
    durationMs: elapsed(),
    killedBy,
    spawnError: null,
    invocation,
    ...fields,
  });

  const terminate = (reason: KillReason): void => {
    // The first cause wins: a timeout that fires during a shutdown kill is not the reason.
    killedBy ??= reason;
    if (terminating || exited || pgid === undefined) return;
    terminating = true;
    const group = pgid;
    signalGroup(group, "SIGTERM");
    later(options.killGraceMs, () => signalGroup(group, "SIGKILL"));
  };

  try {
    const subprocess = await spawnGuarded(invocation, { runId: options.runId, killGraceMs: options.killGraceMs, baseEnv: options.baseEnv });
    pgid = subprocess.pid;
    if (pgid !== undefined) {
      try {
        options.onSpawn?.({ pgid });
      } catch {
        // an observer never breaks the run
      }
    }

    // An agent that never reads its input closes the pipe under us: EPIPE is its business.
    subprocess.stdin?.on("error", () => undefined);
    subprocess.stdin?.end(invocation.input ?? "");

    let lastOutputAt = performance.now();
    const onOutput = (collector: Collector) => (chunk: Buffer) => {
      lastOutputAt = performance.now();
      collector.push(chunk);
    };
    subprocess.stdout?.on("data", onOutput(stdout));
    subprocess.stderr?.on("data", onOutput(stderr));

    void subprocess.exited.then(() => {
      exited = true;
      // Whatever the agent left behind in its group dies with it; leftovers
      // holding stdout open would otherwise keep the run from ending.
      if (pgid !== undefined) signalGroup(pgid, "SIGKILL");
      subprocess.disarm();
    });

    later(options.taskTimeoutMs, () => terminate("task-timeout"));
    // Re-armed for the remaining quiet time instead of on every chunk: a flood costs no timer churn.
    const checkIdle = (): void => {
      const quietMs = performance.now() - lastOutputAt;
      if (quietMs >= options.idleTimeoutMs) terminate("idle-timeout");
      else later(options.idleTimeoutMs - quietMs, checkIdle);
    };
    later(options.idleTimeoutMs, checkIdle);

    const onAbort = (): void => {
      const reason = options.signal?.reason;
      terminate(KILL_REASONS.includes(reason as KillReason) ? (reason as KillReason) : "shutdown");
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true, signal: run.signal });

    const done = await subprocess.ended;
    if (done.error) {
      subprocess.disarm();
      if (!existsSync(invocation.cwd)) {
        const error = new Error(`working directory does not exist: ${invocation.cwd}`, { cause: done.error }) as NodeJS.ErrnoException;
        error.code = "ENOENT";
        return result({ spawnError: error });
      }
      return result({ spawnError: toError(done.error) });
    }
    const cannotRun = guardSpawnError(done.code, stderr.text());
    if (cannotRun) return result({ spawnError: cannotRun, stderr: "" });
    return result({ exitCode: done.code, signal: done.signal });
  } finally {
    run.abort();
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  }
}
