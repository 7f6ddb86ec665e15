// Linux: the dispatcher is a child subreaper (prctl PR_SET_CHILD_SUBREAPER),
// so a run's orphaned descendants — a grandchild whose parent exited, and one
// that left the run's process group with setsid — are re-parented to the
// dispatcher instead of init. The orphan reaper looks at those children (in
// /proc: parent = us, in another session than ours, not a live guard): it
// SIGKILLs each one whose run is over (AGENT_LANES_RUN_ID in its environment
// names a run that is no longer live) and waitpid()s the dead ones. libuv only
// waits for the children it spawned itself, so without this every
// re-parented orphan would stay a zombie of the dispatcher.
//
// When it looks: synchronously the moment a guard exits, before the run's
// group is killed — the guard's watcher is still alive then, so a supervisor
// SIGKILLed at any point leaves no window in which neither sees a setsid'd
// child of the agent — then once more shortly after, batched over the runs
// that ended meanwhile (orphans of the groups' other members, zombies to
// reap), and a full look every 30 s.
//
// What it costs: reading /proc/<pid>/stat is ~10 µs a process, too much for
// every run on a busy host. Pids are handed out in increasing order, so a
// run's descendants all have pids at or above its guard's: each look reads
// only the pids at or above the oldest pid still of interest (live guards,
// runs ended since, orphans seen). The 30 s full look covers pid wrap-around.
//
// Children in our own session are left alone: those are the dispatcher's own
// plain spawns, which libuv waits for. An orphan without a readable marker
// (it cleared its environment) cannot be tied to a run: it is reaped once
// dead, never killed.

import { closeSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { libc } from "./libc.js";
import { liveRunIds, onRunEnded } from "./run-guard.js";

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;
/** The batched look after runs end: their groups' SIGKILL has landed and their orphans are ours. */
const AFTER_RUN_MS = 200;
/** Between looks while orphans are being killed (their own orphans come to us next). */
const FOLLOW_UP_MS = 100;
/** A full look now and then: orphans that ended on their own, pid wrap-around. */
const FULL_LOOK_MS = 30_000;

const statBuffer = Buffer.allocUnsafe(512);

/** state, ppid, pgrp and session from /proc/<pid>/stat ("pid (comm) state ppid pgrp session ..."), or null when gone. */
function procStat(pid: string): { state: string; ppid: number; pgrp: number; session: number } | null {
  let fd: number | undefined;
  try {
    fd = openSync(`/proc/${pid}/stat`, "r");
    const text = statBuffer.toString("latin1", 0, readSync(fd, statBuffer, 0, statBuffer.length, 0));
    const fields = text.slice(text.lastIndexOf(")") + 2, text.length).split(" ", 5);
    return { state: fields[0] ?? "", ppid: Number(fields[1]), pgrp: Number(fields[2]), session: Number(fields[3]) };
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The run id in a process's environment, or null (gone, unreadable, or cleared). */
function runIdOf(pid: string): string | null {
  try {
    const environ = readFileSync(`/proc/${pid}/environ`, "latin1");
    const entry = environ.split("\0").find((e) => e.startsWith("AGENT_LANES_RUN_ID="));
    return entry ? entry.slice("AGENT_LANES_RUN_ID=".length) : null;
  } catch {
    return null;
  }
}

export interface OrphanSweep {
  /** Orphans of ended runs, SIGKILLed. */
  killed: number[];
  /** Those of `killed` that had left their run's process group (each leads a group of its own). */
  escaped: number[];
  /** Dead orphans waited for. */
  reaped: number[];
  /** Orphans left alone: their run is still live, or they carry no marker. */
  left: number[];
}

/** One look at our re-parented children with pids >= `fromPid`: kill those of ended runs, reap the dead. */
export function sweepOrphans(fromPid = 0): OrphanSweep {
  const result: OrphanSweep = { killed: [], escaped: [], reaped: [], left: [] };
  const lib = libc();
  if (!lib) return result;
  const self = process.pid;
  const ownSession = procStat("self")?.session;
  const live = liveRunIds();
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return result;
  }
  for (const name of names) {
    const pid = Number(name);
    if (!(pid >= fromPid) || pid === self || live.guards.has(pid)) continue; // NaN (not a pid) fails the first test
    const stat = procStat(name);
    if (!stat || stat.ppid !== self || stat.session === ownSession) continue;
    if (stat.state === "Z") {
      // While a guard is being spawned its pid is not known yet: a zombie may be that guard, whose status its own waiter needs.
      if (live.spawning === 0 && lib.waitpid(pid, null, WNOHANG) === pid) result.reaped.push(pid);
      continue;
    }
    const runId = runIdOf(name);
    if (runId === null || live.runs.has(runId)) {
      result.left.push(pid);
      continue;
    }
    try {
      process.kill(pid, "SIGKILL");
      result.killed.push(pid);
      // Still in the run's group (e.g. the guard's own watcher once the agent is gone): the group kill's business, not an escape.
      if (stat.pgrp === pid) result.escaped.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return result;
}

export interface OrphanReaper {
  /** Stop looking; a last full look reaps what is dead. Idempotent. */
  stop(): void;
}

// One reaper per process, shared by every dispatcher in it.
let holders = 0;
let timer: NodeJS.Timeout | null = null;
let fullLook: NodeJS.Timeout | null = null;
let unsubscribe: (() => void) | null = null;
/** Lowest pid still of interest besides live guards: ended runs' guards and orphans seen. */
let floorPid = Number.POSITIVE_INFINITY;
const observers = new Set<(sweep: OrphanSweep) => void>();

/** One look from `from` up; observers hear of what it did. */
function lookFrom(from: number): OrphanSweep {
  const sweep = sweepOrphans(from);
  if (sweep.killed.length > 0 || sweep.reaped.length > 0) {
    for (const observe of observers) {
      try {
        observe(sweep);
      } catch {
        // an observer never breaks the reaper
      }
    }
  }
  return sweep;
}

/** The batched look: every pid still of interest (or all of them). */
function look(full = false): void {
  let from = full ? 0 : floorPid;
  for (const pid of liveRunIds().guards) from = Math.min(from, pid);
  if (from === Number.POSITIVE_INFINITY) return; // nothing of interest: no run, no orphan
  const sweep = lookFrom(from);
  // Orphans seen stay of interest (killed ones are zombies to reap next); their children have higher pids.
  floorPid = Math.min(Number.POSITIVE_INFINITY, ...sweep.killed, ...sweep.left);
  if (sweep.killed.length > 0) schedule(FOLLOW_UP_MS);
}

function schedule(ms: number): void {
  if (holders === 0 || timer) return;
  timer = setTimeout(() => {
    timer = null;
    look();
  }, ms);
  timer.unref();
}

function onEnded(guardPid: number): void {
  // Now, only what this run can have left (pids from its guard's up): the rest waits for the batched look.
  const sweep = lookFrom(guardPid);
  // The group is SIGKILLed right after this; its members' orphans and zombies are ours then.
  floorPid = Math.min(floorPid, guardPid, ...sweep.left);
  schedule(AFTER_RUN_MS);
}

/**
 * Make this process a child subreaper and reap orphans as runs end.
 * Returns null where that is not possible (not Linux, libc not loadable).
 * Shared by every dispatcher of the process; the last stop() turns it off.
 */
export function startOrphanReaper(onSweep?: (sweep: OrphanSweep) => void): OrphanReaper | null {
  const lib = libc();
  if (!lib || lib.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) !== 0) return null;
  holders += 1;
  if (onSweep) observers.add(onSweep);
  if (holders === 1) {
    fullLook = setInterval(() => look(true), FULL_LOOK_MS);
    fullLook.unref();
    unsubscribe = onRunEnded(onEnded);
  }
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      holders -= 1;
      if (onSweep) observers.delete(onSweep);
      if (holders > 0) return;
      if (timer) clearTimeout(timer);
      if (fullLook) clearInterval(fullLook);
      unsubscribe?.();
      timer = fullLook = unsubscribe = null;
      lib.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
      sweepOrphans();
      floorPid = Number.POSITIVE_INFINITY;
    },
  };
}
