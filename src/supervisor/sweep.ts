// Run records and the start-up sweep. Each run's process group is recorded in
// <queue>/dispatchers/runs/<run-id>.json while it lives. The run guard ends a
// group whose supervisor died; the sweep is the second line for what even
// that missed (the guard's watcher killed together with its supervisor, a
// host crash mid-kill): at start it kills leftovers of dead supervisors on
// this host — only processes that carry the run's marker (AGENT_LANES_RUN_ID
// in their environment, on Linux wherever they are, so a descendant that left
// the group with setsid is found too; elsewhere the recorded group when one
// of its processes shows the guard's argv), never a stranger that reused a pid.

import { closeSync, promises as fs, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureDir, STATE_FILE_MODE } from "../store/atomic.js";
import { toJsonFile } from "../store/json.js";
import { openOwnSpare, overwrite, processExists, removeDeadSpares } from "../store/spare-files.js";

/** One live run, as written to its record file. */
export interface RunRecord {
  run_id: string;
  host: string;
  supervisor_pid: number;
  pgid: number;
  task_id: string;
  owner: string;
  started_at: string;
}

/** <queue>/dispatchers/runs */
export function runRecordsDir(queueRoot: string): string {
  return path.join(queueRoot, "dispatchers", "runs");
}

const RUN_ID = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

/**
 * Record a live run; returns the record's path. Written once, never fsynced
 * and never rewritten: a record only matters while this boot lasts, since a
 * reboot ends every process it names, and a run must not pay more
 * file-system work for it than that. Readers skip a record they catch
 * half-written (the sweep with a warning, the dashboard silently); one of a
 * supervisor that died mid-write names a run that never started. Plain
 * system calls, like the store's own small files.
 *
 * The file is a recycled one where this process has a spare (a record of an
 * ended run, renamed aside by removeRunRecord): written under its spare name,
 * then renamed to the run's, so a reader never sees it half-written. Making a
 * new file costs more than the whole record on some file systems (ext4
 * without a journal skips every inode freed in the last minutes when it picks
 * one for a new file: 0.5-0.9 ms of CPU a file on a busy machine, against
 * ~0.1 ms to rewrite a spare); a dispatcher's spares are as many as its runs
 * at once. Otherwise a new file (O_EXCL: run ids are unique).
 */
export async function writeRunRecord(queueRoot: string, record: RunRecord): Promise<string> {
  if (!RUN_ID.test(record.run_id)) throw new Error(`invalid run id ${JSON.stringify(record.run_id)}`);
  const dir = runRecordsDir(queueRoot);
  const file = path.join(dir, `${record.run_id}.json`);
  const text = toJsonFile(record);
  if (rewriteSpare(dir, file, text)) return file;
  const write = (): void => writeFileSync(file, text, { mode: STATE_FILE_MODE, flag: "wx" });
  try {
    write();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    await ensureDir(dir);
    write();
  }
  return file;
}

/** Spare record files of this process, by folder: `.spare-<pid>-<n>` (no .json: every reader of records skips them). */
const spares = new Map<string, string[]>();
let spareCount = 0;
/** More spares than this at once are removed instead (a dispatcher needs one per run it has at once). */
const MAX_SPARES = 64;

/** Write `text` into one of this process's spares in `dir` and rename it to `file`; false when there is none to use. */
function rewriteSpare(dir: string, file: string, text: string): boolean {
  const list = spares.get(dir);
  for (let spare = list?.pop(); spare !== undefined; spare = list?.pop()) {
    const opened = openOwnSpare(spare);
    if (opened) {
      let fd: number | undefined = opened.fd;
      try {
        overwrite(fd, Buffer.from(text));
        closeSync(fd);
        fd = undefined;
        renameSync(spare, file);
        return true;
      } catch {
        if (fd !== undefined) closeSync(fd);
      }
    }
    rmSync(spare, { force: true });
  }
  return false;
}

/** Forget a finished run; a missing file is fine. The file is kept aside as a spare for this process's next record. */
export async function removeRunRecord(file: string): Promise<void> {
  const dir = path.dirname(file);
  const list = spares.get(dir) ?? [];
  if (list.length < MAX_SPARES) {
    const spare = path.join(dir, `.spare-${process.pid}-${(spareCount += 1)}`);
    try {
      renameSync(file, spare);
      list.push(spare);
      spares.set(dir, list);
      return;
    } catch {
      // gone already, or cannot be renamed: removed below
    }
  }
  rmSync(file, { force: true });
}

/** Remove this process's spare record files (a dispatcher stopping). */
export function dropSpareRunRecords(): void {
  for (const list of spares.values()) for (const spare of list.splice(0)) rmSync(spare, { force: true });
  spares.clear();
}

/** True while a process with this pid exists (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  if (!processExists(pid)) return false;
  if (process.platform !== "linux") return true;
  try {
    // Sync on purpose: one tiny /proc read, used in loops that poll for an end.
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"))?.state !== "Z";
  } catch {
    return true;
  }
}

/** state, ppid, pgrp and session from the text of /proc/<pid>/stat ("pid (comm) state ppid pgrp session ..."; comm may hold spaces and parens). */
export function parseProcStat(text: string): { state: string; ppid: number; pgrp: number; session: number } | null {
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  const fields = text.slice(close + 2).split(" ", 5);
  const state = fields[0];
  const pgrp = Number(fields[2]);
  return state && Number.isInteger(pgrp) ? { state, ppid: Number(fields[1]), pgrp, session: Number(fields[3]) } : null;
}

/** Pids of live processes that carry the run's marker, in any group (Linux: /proc). */
async function markedProcessesLinux(runId: string): Promise<number[]> {
  const marker = `AGENT_LANES_RUN_ID=${runId}\0`;
  const found: number[] = [];
  for (const name of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = parseProcStat(await fs.readFile(`/proc/${name}/stat`, "utf8"));
      if (!stat || stat.state === "Z") continue;
      const environ = await fs.readFile(`/proc/${name}/environ`, "latin1");
      if (`${environ}\0`.includes(marker)) found.push(Number(name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Elsewhere (macOS): the group, when one of its processes (the guard's watcher) still shows the run id in its argv. */
async function markedMembersPs(pgid: number, runId: string): Promise<number[]> {
  const { execa } = await import("execa");
  const { stdout } = await execa("ps", ["-axo", "pid=,pgid=,command="], { reject: false });
  const rows = String(stdout ?? "")
    .split("\n")
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), pgid: Number(m[2]), command: m[3] ?? "" }));
  const group = rows.filter((r) => r.pgid === pgid);
  if (!group.some((r) => r.command.includes(`agent-lanes-guard:${runId} `))) return [];
  return group.map((r) => r.pid);
}

export interface SweepResult {
  /** Pids killed. */
  killed: number[];
  /** Records of dead supervisors removed. */
  removed: number;
  /** Records that could not be read. */
  warnings: string[];
}

/** Kill leftovers of dead supervisors on this host and remove their records. */
export async function sweepLeftovers(queueRoot: string, options: { host?: string; selfPid?: number } = {}): Promise<SweepResult> {
  const host = options.host ?? os.hostname();
  const selfPid = options.selfPid ?? process.pid;
  const dir = runRecordsDir(queueRoot);
  const result: SweepResult = { killed: [], removed: 0, warnings: [] };
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return result;
    throw error;
  }
  // Spare record files of processes that are gone (a dispatcher that died kept its spares).
  removeDeadSpares(dir, names, isAlive);
  for (const name of names.filter((n) => n.endsWith(".json") && !n.startsWith("."))) {
    const file = path.join(dir, name);
    let record: RunRecord;
    try {
      record = JSON.parse(await fs.readFile(file, "utf8")) as RunRecord;
    } catch (error) {
      result.warnings.push(`run record ${file} cannot be read (${(error as Error).message}); left alone`);
      continue;
    }
    if (record.host !== host || !Number.isInteger(record.pgid) || record.pgid <= 1 || typeof record.run_id !== "string") continue;
    // A live supervisor (or an unrelated process that reused its pid) keeps its records.
    if (record.supervisor_pid === selfPid || isAlive(record.supervisor_pid)) continue;
    const members = process.platform === "linux" ? await markedProcessesLinux(record.run_id) : await markedMembersPs(record.pgid, record.run_id);
    for (const pid of members) {
      try {
        process.kill(pid, "SIGKILL");
        result.killed.push(pid);
      } catch {
        // already gone
      }
    }
    rmSync(file, { force: true });
    result.removed += 1;
  }
  return result;
}
