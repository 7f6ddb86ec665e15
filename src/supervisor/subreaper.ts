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
// group is killed — the guard's watcher is still alive then, and that look
// leaves the run's group alone (the group kill that follows ends it), so the
// watcher outlives every kill of the look: a supervisor SIGKILLed in the
// middle of it leaves the watcher to end the escapees not reached yet. Then
// once more shortly after, batched over the runs that ended meanwhile
// (orphans of the groups' other members, zombies to reap), and a full look
// every 30 s. What is left uncovered: an escapee that a member of the group
// starts in the instant between that look and the group kill, or that an
// escapee starts just before its own kill, if the supervisor dies before the
// batched look (the watcher is gone with the group by then).
//
// What it costs: reading /proc/<pid>/stat is ~10 µs a process and listing
// /proc ~100 µs, too much for every run on a busy host. Pids are handed out
// in increasing order, wrapping at pid_max, so a run's descendants all got
// their pids after its guard's: each look reads only the pids handed out
// since the oldest pid still of interest (live guards, runs ended since,
// orphans seen) up to the kernel's last one (ns_last_pid), wrap-around
// included. Long-lived processes with higher pids from before a wrap are
// never read; a short window is read pid by pid without listing /proc at all.
// The 30 s full look covers what a window cannot (more than pid_max pids
// handed out during one run).
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

/** A window at most this many pids long is read pid by pid; a longer one lists /proc (one listing costs about as much). */
const DIRECT_WINDOW_PIDS = 64;

const statBuffer = Buffer.allocUnsafe(512);

/** One small /proc file's first bytes (a single read), or null when it cannot be read. */
function readProcFile(file: string): string | null {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    return statBuffer.toString("latin1", 0, readSync(fd, statBuffer, 0, statBuffer.length, 0));
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The pid space: the kernel's last pid handed out in our namespace and
 * pid_max (read once), or null where /proc does not say (then every look
 * lists /proc).
 */
let pidMax: number | undefined;
function pidSpace(): { last: number; max: number } | null {
  pidMax ??= Number(readProcFile("/proc/sys/kernel/pid_max")) || 0;
  const last = Number(readProcFile("/proc/sys/kernel/ns_last_pid"));
  return pidMax > 0 && Number.isInteger(last) && last > 0 && last < pidMax ? { last, max: pidMax } : null;
}

/** How many pids were handed out after `pid` up to `space.last` (0 for the last one itself), wrap-around included. */
function ageOf(pid: number, space: { last: number; max: number }): number {
  return (space.last - pid + space.max) % space.max;
}

/** Of `pids`, the one handed out first (the start of a window that holds them all), or null for none. */
function oldestOf(pids: Iterable<number>, space: { last: number; max: number } | null): number | null {
  let oldest: number | null = null;
  for (const pid of pids) {
    if (oldest === null) oldest = pid;
    else if (space ? ageOf(pid, space) > ageOf(oldest, space) : pid < oldest) oldest = pid;
  }
  return oldest;
}

/**
 * The pids to look at: those handed out since `from` (itself included), or
 * every process when `from` is null. Pid by pid for a short window, else
 * from a listing of /proc; without a known pid space, every pid >= `from`.
 */
function candidatePids(from: number | null, space: { last: number; max: number } | null): number[] {
  if (from !== null && space) {
    const age = ageOf(from, space);
    if (age < DIRECT_WINDOW_PIDS) {
      const pids: number[] = [];
      for (let i = age; i >= 0; i -= 1) pids.push((space.last - i + space.max) % space.max);
      return pids;
    }
  }
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue; // not a process
    if (from === null || (space ? ageOf(pid, space) <= ageOf(from, space) : pid >= from)) pids.push(pid);
  }
  return pids;
}

/** This process's session (it never changes: the dispatcher never calls setsid). */
let ownSessionId: number | undefined;

/** state, ppid, pgrp and session from /proc/<pid>/stat ("pid (comm) state ppid pgrp session ..."), or null when gone. */
function procStat(pid: number | "self"): { state: string; ppid: number; pgrp: number; session: number } | null {
  const text = readProcFile(`/proc/${pid}/stat`);
  if (text === null) return null;
  const fields = text.slice(text.lastIndexOf(")") + 2, text.length).split(" ", 5);
  return { state: fields[0] ?? "", ppid: Number(fields[1]), pgrp: Number(fields[2]), session: Number(fields[3]) };
}

/** The run id in a process's environment, or null (gone, unreadable, or cleared). */
function runIdOf(pid: number): string | null {
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
  /** Orphans left alone: their run is still live, they carry no marker, or they are in the spared group. */
  left: number[];
}

/**
 * One look at our re-parented children among the pids handed out since
 * `fromPid` (every process when it is null or 0): kill those of ended runs,
 * reap the dead. Members of `spareGroup` are left alone: that is the group
 * of the run that just ended, killed whole right after, and its guard's
 * watcher is among them.
 */
export function sweepOrphans(
  fromPid: number | null = null,
  space: { last: number; max: number } | null = pidSpace(),
  spareGroup: number | null = null,
): OrphanSweep {
  const result: OrphanSweep = { killed: [], escaped: [], reaped: [], left: [] };
  const lib = libc();
  if (!lib) return result;
  const self = process.pid;
  ownSessionId ??= procStat("self")?.session;
  const ownSession = ownSessionId;
  const live = liveRunIds();
  for (const pid of candidatePids(fromPid || null, space)) {
    if (pid === self || live.guards.has(pid)) continue;
    const stat = procStat(pid);
    if (!stat || stat.ppid !== self || stat.session === ownSession) continue;
    if (stat.state === "Z") {
      // While a guard is being spawned its pid is not known yet: a zombie may be that guard, whose status its own waiter needs.
      if (live.spawning === 0 && lib.waitpid(pid, null, WNOHANG) === pid) result.reaped.push(pid);
      continue;
    }
    const runId = runIdOf(pid);
    // The watcher must not die before the escapees: were we SIGKILLed right after, it is what ends them.
    if (runId === null || live.runs.has(runId) || stat.pgrp === spareGroup) {
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
/** The oldest pid still of interest besides live guards (ended runs' guards, orphans seen), or null. */
let floorPid: number | null = null;
const observers = new Set<(sweep: OrphanSweep) => void>();

/** One look at the pids handed out since `from` (all when null); observers hear of what it did. */
function lookFrom(from: number | null, space: { last: number; max: number } | null, spareGroup: number | null = null): OrphanSweep {
  const sweep = sweepOrphans(from, space, spareGroup);
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
  const space = pidSpace();
  const from = oldestOf([...(floorPid === null ? [] : [floorPid]), ...liveRunIds().guards], space);
  if (!full && from === null) return; // nothing of interest: no run, no orphan
  const sweep = lookFrom(full ? null : from, space);
  // Orphans seen stay of interest (killed ones are zombies to reap next); their children came later.
  floorPid = oldestOf([...sweep.killed, ...sweep.left], space);
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
  // Now, only what this run can have left (pids handed out since its guard's): the rest waits for the batched look.
  const space = pidSpace();
  // The guard's pid is its group's: the group (the watcher in it) is SIGKILLed right after this.
  const sweep = lookFrom(guardPid, space, guardPid);
  // Its members' orphans and zombies are ours then.
  floorPid = oldestOf([...(floorPid === null ? [] : [floorPid]), guardPid, ...sweep.left], space);
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
      floorPid = null;
    },
  };
}
