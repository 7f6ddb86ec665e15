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
//    group with setsid), waits the grace (at most 1 s), then SIGKILL to both.
// 4. The guard execs the agent with fd 3 closed: the agent's pid, exit code
//    and signal are the guard's, as the supervisor sees them.
//
// Race-free by construction: the watcher exists before the agent does, and a
// supervisor death at any moment after the spawn closes fd 3. While the
// supervisor lives, it ends the group itself (timeouts, shutdown, and a
// SIGKILL of whatever is left once the agent exits; the watcher goes with it).

import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import type { Writable } from "node:stream";
import type { Invocation } from "../../vendors/types.js";

/** Exit code of a guard whose agent cannot be started (not found / not executable). */
export const GUARD_CANNOT_RUN_EXIT = 127;
/** Exit code of a guard that saw no handshake: the supervisor was gone before it was armed. */
export const GUARD_NO_HANDSHAKE_EXIT = 125;
/** Longest wait between SIGTERM and SIGKILL once the supervisor is gone. */
export const ORPHAN_GRACE_CAP_MS = 1000;

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
}

/** Guards spawned and not yet reaped (pid → run id): the orphan reaper never touches them. */
const liveGuards = new Map<number, string>();
const runEndListeners = new Set<(guardPid: number) => void>();

/** Guards (= agents) this process started that have not exited yet, and their run ids. */
export function liveRunIds(): { guards: ReadonlySet<number>; runs: ReadonlySet<string> } {
  return { guards: new Set(liveGuards.keys()), runs: new Set(liveGuards.values()) };
}

/**
 * Call `listener` with the guard's pid whenever a guard exits (its run is
 * over), synchronously, before the run's own exit handlers end its group.
 */
export function onRunEnded(listener: (guardPid: number) => void): () => void {
  runEndListeners.add(listener);
  return () => runEndListeners.delete(listener);
}

/** The guard's command line and spawn options for `invocation` (spawnGuarded arms it). */
export function guardCommand(invocation: Invocation, options: GuardOptions): { file: string; args: string[]; options: SpawnOptions } {
  const graceSeconds = (Math.max(0, Math.min(options.killGraceMs, ORPHAN_GRACE_CAP_MS)) / 1000).toFixed(3);
  return {
    file: "/bin/sh",
    args: ["-c", GUARD_SCRIPT, `agent-lanes-guard:${options.runId}`, graceSeconds, invocation.file, ...invocation.args],
    options: {
      cwd: invocation.cwd,
      env: { ...process.env, ...(invocation.env ?? {}), AGENT_LANES_RUN_ID: options.runId },
      // setsid(): the guard, then the agent it execs, leads a new process group.
      detached: true,
      stdio: ["pipe", "pipe", "pipe", "pipe"],
    },
  };
}

/**
 * Start `invocation` under the guard, leading a new process group, and arm
 * it. stdin/stdout/stderr are pipes; the caller writes the input and reads
 * the output. Plain child_process.spawn, not execa: execa's per-spawn work
 * cost ~2 ms of CPU per run, more than the rest of the supervisor's share.
 */
export function spawnGuarded(invocation: Invocation, options: GuardOptions): ChildProcess {
  const command = guardCommand(invocation, options);
  const child = spawn(command.file, command.args, command.options);
  const lifeline = child.stdio[3];
  if (child.pid === undefined || !lifeline) return child; // the 'error' event tells why
  const pid = child.pid;
  liveGuards.set(pid, options.runId);
  child.once("exit", () => {
    liveGuards.delete(pid);
    for (const listener of runEndListeners) listener(pid);
  });
  // A write error only means the guard is already gone; its exit says the rest.
  lifeline.on("error", () => undefined);
  // The handshake: written once the guard exists and holds its end of fd 3.
  (lifeline as Writable).write("go\n");
  return child;
}

/** Close the supervisor's end of the lifeline (the run is over; the group is being ended anyway). */
export function disarmGuard(child: ChildProcess): void {
  child.stdio[3]?.destroy();
}

/** The guard's own report that the agent's executable is missing, as an ENOENT spawn error; else null. */
export function guardSpawnError(exitCode: number | null, stderr: string): NodeJS.ErrnoException | null {
  if (exitCode !== GUARD_CANNOT_RUN_EXIT || !stderr.startsWith(CANNOT_RUN)) return null;
  const error = new Error(stderr.slice("agent-lanes guard: ".length).trim()) as NodeJS.ErrnoException;
  error.code = "ENOENT";
  return error;
}
