// The run guard: how every agent CLI is started so that it never outlives the
// supervisor, at the cost of one /bin/sh fork per run (no second Node).
//
//   supervisor ──fd 3 (socketpair)──▶ sh guard (new session = new process group)
//                                      ├─ watcher subshell: blocks reading fd 3
//                                      └─ exec agent (same pid: it leads the group)
//
// 1. The guard is spawned detached (setsid) with a fourth pipe, fd 3, whose
//    other end only the supervisor holds. The supervisor writes the handshake
//    line `go` right after the spawn returns.
// 2. The guard reads the handshake first. End of file instead means the
//    supervisor died before the guard was armed: the agent is never started.
// 3. It forks the watcher, which ignores SIGTERM and blocks on fd 3. The
//    kernel closes the supervisor's end when the supervisor dies by any
//    signal, so the watcher's read returns: it sends SIGTERM to the group and
//    to every process carrying the run's marker (descendants that left the
//    group with setsid), waits the grace (at most 0.5 s), then SIGKILL to both.
// 4. The guard execs the agent with fd 3 closed: the agent's pid, exit code
//    and signal are the guard's, as the supervisor sees them.
//
// Race-free by construction: the watcher exists before the agent does, and a
// supervisor death at any moment after the spawn closes fd 3. While the
// supervisor lives, it ends the group itself (timeouts, shutdown, and a
// SIGKILL of whatever is left once the agent exits; the watcher goes with it).

import { spawn, type SpawnOptions } from "node:child_process";
import { closeSync, writeSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import type { Invocation } from "../../vendors/types.js";
import { ffiSpawn, type FfiChild } from "./ffi-spawn.js";
import { libc, type Libc } from "./libc.js";

/** Exit code of a guard whose agent cannot be started (not found / not executable). */
export const GUARD_CANNOT_RUN_EXIT = 127;
/** Exit code of a guard that saw no handshake: the supervisor was gone before it was armed. */
export const GUARD_NO_HANDSHAKE_EXIT = 125;
/**
 * Longest wait between SIGTERM and SIGKILL once the supervisor is gone: well
 * under the promised second, so the marker search and the kills around it
 * fit in it on a loaded host too.
 */
export const ORPHAN_GRACE_CAP_MS = 500;

const CANNOT_RUN = "agent-lanes guard: cannot run";

// $0 names the run (seen in `ps` by the start-up sweep on systems without
// /proc); $1 is the orphan grace in seconds; the rest is the agent's argv.
// The watcher's escapee search reads /proc/*/environ with one grep (Linux; a
// no-op elsewhere, where only the group is ended); it skips the watcher's own
// pid ($w, from /proc/self/stat: $$ is the guard's), which carries the marker
// too and would otherwise SIGKILL itself before the rest.
const GUARD_SCRIPT = `g=$1; shift
IFS= read -r h <&3 && [ "$h" = go ] || exit ${GUARD_NO_HANDSHAKE_EXIT}
{ trap '' TERM INT HUP
read -r h <&3
m="AGENT_LANES_RUN_ID=$AGENT_LANES_RUN_ID"; w=; read -r w _ </proc/self/stat
e() { for f in $(grep -lzxF "$m" /proc/[0-9]*/environ 2>/dev/null); do f=\${f#/proc/}; f=\${f%/environ}; [ "$f" = "$w" ] || kill -$1 "$f"; done; }
kill -TERM 0; e TERM; sleep "$g"; e KILL; kill -KILL 0
} </dev/null >/dev/null 2>&1 &
case $1 in */*) [ -f "$1" ] && [ -x "$1" ] ;; *) command -v -- "$1" >/dev/null ;; esac || { echo "${CANNOT_RUN} $1: not found or not executable" >&2; exit ${GUARD_CANNOT_RUN_EXIT}; }
exec "$@" 3<&-`;

export interface GuardOptions {
  /** Marks every process of the run (AGENT_LANES_RUN_ID in the environment, and the guard's $0). */
  runId: string;
  /** Between SIGTERM and SIGKILL when the supervisor is gone; capped at ORPHAN_GRACE_CAP_MS. */
  killGraceMs: number;
  /**
   * The environment the agent inherits, under invocation.env: a dispatcher
   * passes the copy it took when it started (reading process.env whole costs
   * ~0.1 ms, a fair part of what a run costs it). @default process.env, read at each spawn
   */
  baseEnv?: NodeJS.ProcessEnv;
}

/** Guards spawned and not yet reaped (pid → run id): the orphan reaper never touches them. */
const liveGuards = new Map<number, string>();
const runEndListeners = new Set<(guardPid: number, runId: string) => void>();

/** Runs whose guard is being spawned (its pid not known yet): run id → spawns in flight. */
const spawning = new Map<string, number>();

/**
 * Guards (= agents) this process started that have not exited yet, and their
 * run ids (those of guards still being spawned included); `spawning` counts
 * the spawns in flight, whose guards may already be zombies nobody may reap
 * but their own waiter.
 */
export function liveRunIds(): { guards: ReadonlySet<number>; runs: ReadonlySet<string>; spawning: number } {
  return { guards: new Set(liveGuards.keys()), runs: new Set([...liveGuards.values(), ...spawning.keys()]), spawning: spawning.size };
}

/**
 * Call `listener` with the guard's pid and run id whenever a guard exits
 * (its run is over), synchronously, before the run's own exit handlers end
 * its group.
 */
export function onRunEnded(listener: (guardPid: number, runId: string) => void): () => void {
  runEndListeners.add(listener);
  return () => runEndListeners.delete(listener);
}

/** A run whose agent exited, its group not ended yet. */
export interface EndedGroup {
  runId: string;
  /** The process group's id: the guard's pid. */
  group: number;
  /**
   * Close the lifeline, after SIGKILLing the group (the guard's watcher with
   * it) when `killGroup`: pass false when the group may be empty by now, its
   * id free for another process's group. Once only.
   */
  end(killGroup: boolean): void;
}

let groupKeeper: ((run: EndedGroup) => void) | null = null;

/**
 * Hand every ended run's group to `keeper` instead of ending it at once (null:
 * end it at once again). The orphan reaper keeps them until nothing else of
 * the run is left, so the watcher stays armed while the run's descendants are
 * being ended: were the supervisor killed meanwhile, the watcher ends the rest.
 */
export function keepEndedGroups(keeper: ((run: EndedGroup) => void) | null): void {
  groupKeeper = keeper;
}

/** `endGroup` for a guard: hand the group to the keeper, or end it now. */
function groupEnder(runId: string, group: number, disarm: () => void): () => void {
  let ended = false;
  const end = (killGroup: boolean): void => {
    if (ended) return;
    ended = true;
    try {
      if (killGroup) process.kill(-group, "SIGKILL");
    } catch {
      // the group is empty already
    }
    disarm();
  };
  return () => {
    // Right after the agent's exit the watcher is still in the group (we hold its lifeline), so the group id is still taken.
    if (groupKeeper) groupKeeper({ runId, group, end });
    else end(true);
  };
}

/** The guard's $0, which its watcher keeps: `ps` and the orphan reaper tell a run's watcher by it. */
export function guardName(runId: string): string {
  return `agent-lanes-guard:${runId}`;
}

/** The guard's command line and spawn options for `invocation` (spawnGuarded arms it). */
export function guardCommand(invocation: Invocation, options: GuardOptions): { file: string; args: string[]; options: SpawnOptions & { cwd: string; env: NodeJS.ProcessEnv } } {
  const graceSeconds = (Math.max(0, Math.min(options.killGraceMs, ORPHAN_GRACE_CAP_MS)) / 1000).toFixed(3);
  return {
    file: "/bin/sh",
    args: ["-c", GUARD_SCRIPT, guardName(options.runId), graceSeconds, invocation.file, ...invocation.args],
    options: {
      cwd: invocation.cwd,
      env: { ...(options.baseEnv ?? process.env), ...(invocation.env ?? {}), AGENT_LANES_RUN_ID: options.runId },
      // setsid(): the guard, then the agent it execs, leads a new process group.
      detached: true,
      stdio: ["pipe", "pipe", "pipe", "pipe"],
    },
  };
}

export interface GuardEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A guarded run as the caller sees it, whichever way it was spawned. */
export interface GuardedProcess {
  /** The guard's pid, which is the agent's and the process group's; undefined when it could not be spawned. */
  readonly pid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Resolves when the guard (the agent) exits, after the orphan reaper had its look; never when it was not spawned. */
  readonly exited: Promise<GuardEnd>;
  /** Resolves once it exited and stdout and stderr closed, or with the error that kept it from starting. */
  readonly ended: Promise<GuardEnd & { error?: Error }>;
  /** Close the supervisor's end of the lifeline (the guard could not start). */
  disarm(): void;
  /**
   * The agent exited: SIGKILL what is left in its group and close the
   * lifeline, now or (with an orphan reaper) once nothing else of the run is
   * left. Leftovers holding stdout open would otherwise keep the run from
   * ending.
   */
  endGroup(): void;
}

/** Bookkeeping every guard gets when it exits: it is no longer live, and the orphan reaper looks. */
function noteExit(pid: number, runId: string): void {
  liveGuards.delete(pid);
  for (const listener of runEndListeners) listener(pid, runId);
}

function closed(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed) resolve();
    else stream.once("close", () => resolve());
  });
}

/**
 * Run `spawn` counted as a spawn in flight of `runId`: until it settles, the
 * guard's pid is not known, and the orphan reaper must neither kill a child
 * carrying that run's marker nor reap a zombie that may be that guard.
 */
async function whileSpawning<T>(runId: string, spawn: () => Promise<T>): Promise<T> {
  spawning.set(runId, (spawning.get(runId) ?? 0) + 1);
  try {
    return await spawn();
  } finally {
    const left = (spawning.get(runId) ?? 1) - 1;
    if (left > 0) spawning.set(runId, left);
    else spawning.delete(runId);
  }
}

/** A guard that could not be started: `ended` says why, `exited` never resolves. */
function notStarted(error: Error): GuardedProcess {
  const failed = Promise.resolve({ code: null, signal: null, error });
  return { pid: undefined, stdin: null, stdout: null, stderr: null, exited: new Promise(() => undefined), ended: failed, disarm: () => undefined, endGroup: () => undefined };
}

/** Write the handshake on the lifeline (fd 3's other end); returns what closes it, once. */
function armLifeline(fd: number): () => void {
  try {
    // Written once the guard exists and holds its end of fd 3.
    writeSync(fd, "go\n");
  } catch {
    // EPIPE: the guard is already gone; its exit says the rest.
  }
  let open = true;
  return () => {
    if (!open) return;
    open = false;
    closeSync(fd);
  };
}

/** posix_spawn through koffi (Linux): no fork of the supervisor's memory. */
async function spawnWithLibc(lib: Libc, invocation: Invocation, options: GuardOptions): Promise<GuardedProcess> {
  const command = guardCommand(invocation, options);
  let child: FfiChild;
  try {
    child = await whileSpawning(options.runId, async () => {
      const started = await ffiSpawn(lib, command.file, command.args, { cwd: command.options.cwd, env: command.options.env });
      // Live before it stops counting as in flight: the reaper never sees it as nobody's.
      liveGuards.set(started.pid, options.runId);
      return started;
    });
  } catch (error) {
    return notStarted(error as Error);
  }
  const disarm = armLifeline(child.fd3);
  const exited = child.exited.then((end) => {
    noteExit(child.pid, options.runId);
    return end;
  });
  const ended = Promise.all([exited, closed(child.stdout), closed(child.stderr)]).then(([end]) => end);
  const endGroup = groupEnder(options.runId, child.pid, disarm);
  return { pid: child.pid, stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, exited, ended, disarm, endGroup };
}

/** child_process.spawn (other systems, or no libc through koffi). Not execa: its per-spawn work cost ~2 ms of CPU a run. */
function spawnWithNode(invocation: Invocation, options: GuardOptions): GuardedProcess {
  const command = guardCommand(invocation, options);
  const child = spawn(command.file, command.args, command.options);
  const ended = new Promise<GuardEnd & { error?: Error }>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal }));
    child.once("error", (error) => resolve({ code: null, signal: null, error }));
  });
  const exited = new Promise<GuardEnd>((resolve) => {
    child.once("exit", (code, signal) => {
      if (child.pid !== undefined) noteExit(child.pid, options.runId);
      resolve({ code, signal });
    });
  });
  const lifeline = child.stdio[3] as Writable | undefined;
  if (child.pid !== undefined && lifeline) {
    liveGuards.set(child.pid, options.runId);
    // A write error only means the guard is already gone; its exit says the rest.
    lifeline.on("error", () => undefined);
    lifeline.write("go\n");
  }
  const disarm = (): void => {
    lifeline?.destroy();
  };
  const endGroup = child.pid === undefined ? () => undefined : groupEnder(options.runId, child.pid, disarm);
  return { pid: child.pid, stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, exited, ended, disarm, endGroup };
}

/**
 * Start `invocation` under the guard, leading a new process group, and arm
 * it. stdin/stdout/stderr are pipes; the caller writes the input and reads
 * the output. Resolves once the guard exists (never rejects: a guard that
 * cannot start says so through `ended`).
 */
export async function spawnGuarded(invocation: Invocation, options: GuardOptions): Promise<GuardedProcess> {
  const lib = process.env.AGENT_LANES_SPAWN === "node" ? null : libc();
  return lib ? spawnWithLibc(lib, invocation, options) : spawnWithNode(invocation, options);
}

/** The guard's own report that the agent's executable is missing, as an ENOENT spawn error; else null. */
export function guardSpawnError(exitCode: number | null, stderr: string): NodeJS.ErrnoException | null {
  if (exitCode !== GUARD_CANNOT_RUN_EXIT || !stderr.startsWith(CANNOT_RUN)) return null;
  const error = new Error(stderr.slice("agent-lanes guard: ".length).trim()) as NodeJS.ErrnoException;
  error.code = "ENOENT";
  return error;
}
