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
// group is ended. That look kills the group's members whoever their parent
// (SIGKILL: they fork no more) and the run's marked orphans, but not the
// guard's watcher: were the supervisor killed in the middle of it, the
// watcher ends what the look had not reached. When it found nothing else of
// the run (the common case), the group, watcher included, is SIGKILLed at
// once; else the group is kept, the watcher armed, and looked at again every
// 100 ms (the killed ones' own orphans come to us as they die) until a look
// finds nothing else of the run, 2 s at most. Besides, a look shortly after
// runs end, batched over the runs that ended meanwhile (zombies to reap), and
// a full look every 30 s.
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
// plain spawns, which libuv waits for. An orphan outside its run's group and
// without a readable marker (it cleared its environment) cannot be tied to a
// run: it is reaped once dead, never killed.

import { closeSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { libc } from "./libc.js";
import { guardName, keepEndedGroups, liveRunIds, onRunEnded, type EndedGroup } from "./run-guard.js";
import { parseProcStat } from "./sweep.js";

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;
/** The batched look after runs end: their groups' SIGKILL has landed and their orphans are ours. */
const AFTER_RUN_MS = 200;
/** Between looks while orphans are being killed (their own orphans come to us next). */
const FOLLOW_UP_MS = 100;
/** A full look now and then: orphans that ended on their own, pid wrap-around. */
const FULL_LOOK_MS = 30_000;
/** The longest an ended run's group (its watcher) is kept while its leftovers are being ended. */
const KEEP_GROUP_MAX_MS = 2000;

/** A window at most this many pids long is read pid by pid; a longer one lists /proc (one listing costs about as much). */
const DIRECT_WINDOW_PIDS = 64;

const statBuffer = Buffer.allocUnsafe(512);
/** A guard's command line: its script, then $0 (guardName), within 4 KiB. */
const cmdlineBuffer = Buffer.allocUnsafe(4096);

/** One small /proc file's first bytes (a single read into `buffer`), or null when it cannot be read. */
function readProcFile(file: string, buffer = statBuffer): string | null {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    return buffer.toString("latin1", 0, readSync(fd, buffer, 0, buffer.length, 0));
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
  return text === null ? null : parseProcStat(text);
}

/** Whether `pid` is the watcher of run `runId`'s guard: the guard's fork, with the guard's command line ($0 names the run). */
function isWatcherOf(pid: number, runId: string): boolean {
  const text = readProcFile(`/proc/${pid}/cmdline`, cmdlineBuffer);
  return text !== null && text.startsWith("/bin/sh\0") && text.includes(`\0${guardName(runId)}\0`);
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
  /** Orphans left alone: their run is still live, they carry no marker, or they are an ended run's watcher. */
  left: number[];
  /** Of the ended runs looked at: those of which something besides the watcher was found (and killed). */
  busy: Set<string>;
  /** Of the ended runs looked at: their watchers found alive (run id → pid). */
  watchers: Map<string, number>;
}

/**
 * One look at our re-parented children among the pids handed out since
 * `fromPid` (every process when it is null or 0): kill those of ended runs,
 * reap the dead. `ended` names the groups of runs whose agent exited (group
 * → run id): their members die whoever their parent is, except the guard's
 * watcher, which must outlive them (were we SIGKILLed now, it is what ends
 * the rest); it goes with the group once nothing else of the run is left.
 */
export function sweepOrphans(
  fromPid: number | null = null,
  space: { last: number; max: number } | null = pidSpace(),
  ended: ReadonlyMap<number, string> = new Map(),
): OrphanSweep {
  const result: OrphanSweep = { killed: [], escaped: [], reaped: [], left: [], busy: new Set(), watchers: new Map() };
  const endedRuns = new Set(ended.values());
  const lib = libc();
  if (!lib) return result;
  const self = process.pid;
  ownSessionId ??= procStat("self")?.session;
  const ownSession = ownSessionId;
  const live = liveRunIds();
  for (const pid of candidatePids(fromPid || null, space)) {
    if (pid === self || live.guards.has(pid)) continue;
    const stat = procStat(pid);
    if (!stat) continue;
    const endedRun = stat.state === "Z" ? undefined : ended.get(stat.pgrp);
    if (endedRun !== undefined) {
      if (isWatcherOf(pid, endedRun)) {
        result.left.push(pid);
        result.watchers.set(endedRun, pid);
      } else if (kill(pid)) {
        result.killed.push(pid);
        result.busy.add(endedRun);
      }
      continue;
    }
    if (stat.ppid !== self || stat.session === ownSession) continue;
    if (stat.state === "Z") {
      // While a guard is being spawned its pid is not known yet: a zombie may be that guard, whose status its own waiter needs.
      if (live.spawning === 0 && lib.waitpid(pid, null, WNOHANG) === pid) result.reaped.push(pid);
      continue;
    }
    const runId = runIdOf(pid);
    if (runId === null || live.runs.has(runId)) {
      result.left.push(pid);
      continue;
    }
    if (kill(pid)) {
      result.killed.push(pid);
      if (endedRuns.has(runId)) result.busy.add(runId);
      // Still in a run's group (e.g. the guard's own watcher once the agent is gone): the group kill's business, not an escape.
      if (stat.pgrp === pid) result.escaped.push(pid);
    }
  }
  return result;
}

/** SIGKILL `pid`; false when it is gone already. */
function kill(pid: number): boolean {
  try {
    process.kill(pid, "SIGKILL");
    return true;
  } catch {
    return false;
  }
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

/** Ended runs whose group (the watcher in it) is kept while their leftovers are being ended: run id → the group, since when. */
const keptGroups = new Map<string, { run: EndedGroup; since: number }>();
/** What the look at a run's end found, until its group is handed over a moment later (run id → busy, watcher seen). */
const endLooks = new Map<string, { busy: boolean; watcher: boolean }>();

/** The kept groups as sweepOrphans takes them: group → run id. */
function keptGroupIds(): Map<number, string> {
  return new Map([...keptGroups.values()].map(({ run }) => [run.group, run.runId]));
}

/** One look at the pids handed out since `from` (all when null); observers hear of what it did. */
function lookFrom(from: number | null, space: { last: number; max: number } | null, ended: ReadonlyMap<number, string> = new Map()): OrphanSweep {
  const sweep = sweepOrphans(from, space, ended);
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
  // A run's end look is consumed by its hand-over a microtask later; any left were never handed over.
  endLooks.clear();
  const space = pidSpace();
  const kept = keptGroupIds();
  const from = oldestOf([...(floorPid === null ? [] : [floorPid]), ...liveRunIds().guards, ...kept.keys()], space);
  if (!full && from === null) return; // nothing of interest: no run, no orphan
  const sweep = lookFrom(full ? null : from, space, kept);
  // A kept group ends once a look finds nothing else of its run (or it was kept long enough): its watcher is no longer needed.
  const now = Date.now();
  const ended: number[] = [];
  for (const [runId, { run, since }] of keptGroups) {
    if (sweep.busy.has(runId) && now - since < KEEP_GROUP_MAX_MS) continue;
    keptGroups.delete(runId);
    // SIGKILL the group only while its watcher was just seen in it (else it may be empty, its id free for reuse).
    run.end(sweep.watchers.has(runId));
    ended.push(run.group);
  }
  // Orphans seen stay of interest (killed ones are zombies to reap next); their children came later; so do ended groups' watchers.
  floorPid = oldestOf([...sweep.killed, ...sweep.left, ...ended], space);
  if (sweep.killed.length > 0 || ended.length > 0 || keptGroups.size > 0) schedule(FOLLOW_UP_MS);
}

function schedule(ms: number): void {
  if (holders === 0 || timer) return;
  timer = setTimeout(() => {
    timer = null;
    look();
  }, ms);
  timer.unref();
}

function onEnded(guardPid: number, runId: string): void {
  // Now, only what this run can have left (pids handed out since its guard's): the rest waits for the batched look.
  const space = pidSpace();
  // The guard's pid is its group's; the group is handed to keepGroup right after this.
  const sweep = lookFrom(guardPid, space, new Map([[guardPid, runId]]));
  endLooks.set(runId, { busy: sweep.busy.has(runId), watcher: sweep.watchers.has(runId) });
  // Its members' orphans and zombies are ours then.
  floorPid = oldestOf([...(floorPid === null ? [] : [floorPid]), guardPid, ...sweep.left], space);
  schedule(AFTER_RUN_MS);
}

/**
 * An ended run's group, handed over by its guard: end it now when the look
 * at the run's end found nothing else of the run (the common case: the same
 * as ending it at once), else keep it — the watcher armed — until a look
 * finds the run's leftovers gone.
 */
function keepGroup(run: EndedGroup): void {
  const found = endLooks.get(run.runId);
  endLooks.delete(run.runId);
  if (!found || !found.busy) {
    // No look at its end (it cannot have been: the guard exited before): the watcher is in the group, as we hold its lifeline.
    run.end(found?.watcher ?? true);
    return;
  }
  keptGroups.set(run.runId, { run, since: Date.now() });
  schedule(FOLLOW_UP_MS);
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
    keepEndedGroups(keepGroup);
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
      keepEndedGroups(null);
      // The last look at the kept groups ends them all, whatever is left.
      if (keptGroups.size > 0) {
        const sweep = sweepOrphans(null, pidSpace(), keptGroupIds());
        for (const { run } of keptGroups.values()) run.end(sweep.watchers.has(run.runId));
        keptGroups.clear();
      }
      endLooks.clear();
      lib.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
      sweepOrphans();
      floorPid = null;
    },
  };
}
