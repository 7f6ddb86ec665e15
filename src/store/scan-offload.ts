// Work whose cost follows a queue's history — the first scan of fifty thousand
// finished tasks, the start-up sweep of their folders — is done for a
// long-running process (dispatch, serve, wait --lane) by a short-lived helper
// process (scan-helper.ts), which hands back only what the long-running one
// keeps: the finished tasks' names, the few live tasks, what the sweep
// removed. Done in the long-running process itself, that work would leave its
// heap grown for good (V8 keeps the semi-spaces and old-space pages such a
// burst of garbage made it commit, and malloc its fragments): its resident
// memory would follow the history, not the live tasks. A worker thread was
// tried first; its isolate is freed when it ends, but malloc arenas and V8
// pages of several MiB stay with the process. A process's memory goes back
// to the system whole.
//
// The helper is the compiled script beside this module; when it is not there
// (tests running the TypeScript sources) or it fails, the caller does the
// work itself, with the same result.

import { spawn } from "node:child_process";
// node:fs's promises load on first use (an import of node:fs/promises starts them in every command of the bundle).
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, promises as fsp, readSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { IdTable } from "./id-table.js";
import { NAME_TAGS, type FirstScan, type ScannerState } from "./scan.js";

/** Resolved from this module (dist/src/store/) and from the CLI bundle (dist/src/cli/) alike. */
const HELPER = fileURLToPath(new URL("../store/scan-helper.js", import.meta.url));

/** Whether the helper script is there to run. */
export function helperAvailable(): boolean {
  return existsSync(HELPER);
}

/** The helper's standard output on a clean exit; null when it could not run or failed (small outputs only). */
async function helperOutput(args: string[], signal?: AbortSignal, namesFd?: number): Promise<string | null> {
  if (!helperAvailable() || signal?.aborted) return null;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let child;
    try {
      // The names file, when given, is the helper's descriptor 3.
      child = spawn(process.execPath, [HELPER, ...args], { stdio: ["ignore", "pipe", "ignore", ...(namesFd === undefined ? [] : [namesFd])], signal });
    } catch {
      resolve(null);
      return;
    }
    child.stdout?.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.once("error", () => resolve(null));
    child.once("close", (code) => resolve(code === 0 ? Buffer.concat(chunks).toString("utf8") : null));
  });
}

/**
 * Task folders below which a first scan is made in-process: its garbage is
 * small, and a helper would cost more (a process start) than it saves.
 */
export const HELPER_MIN_TASKS = 1000;

/** Whether the tasks folder may hold HELPER_MIN_TASKS folders (a folder's link count is 2 + its subfolders, where the file system counts them). */
async function worthAHelper(tasksDir: string): Promise<boolean> {
  const st = await fsp.stat(tasksDir).catch(() => null);
  if (st === null) return false; // no queue yet: nothing to scan
  return st.nlink < 2 || st.nlink - 2 >= HELPER_MIN_TASKS;
}

/**
 * The first scan of a scanner, made by the helper: its state (on the pipe) and
 * the finished tasks' names (in a file, read into the buffer the table keeps:
 * no string per name, no copy, no pipe buffers). The file has no name by the
 * time the helper starts: it is made in a private temp folder, opened, and
 * the folder removed at once; the helper writes to the open file (its
 * descriptor 3). So nothing is left in the temp folder however the two
 * processes end, a SIGKILL of both included.
 */
export const firstScanInHelper: FirstScan = async (tasksDir, signal) => {
  if (!(await worthAHelper(tasksDir))) return null;
  let fd: number | null = null;
  try {
    const dir = mkdtempSync(path.join(os.tmpdir(), "agent-lanes-scan-"));
    try {
      fd = openSync(path.join(dir, "finished-names"), "wx+", 0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const out = await helperOutput(["scan", tasksDir, "--names-fd", "3"], signal, fd);
    if (out === null) return null;
    const state = JSON.parse(out) as ScannerState;
    // Read into a buffer with room for an eighth more names (pages not yet written cost nothing).
    const { size } = fstatSync(fd);
    const buffer = Buffer.alloc(size + (size >> 3) + 1024);
    if (readSync(fd, buffer, 0, size, 0) !== size) return null;
    return { state, finished: IdTable.fromLines(buffer, NAME_TAGS.finished, size) };
  } catch {
    return null; // the caller scans by itself
  } finally {
    if (fd !== null) closeSync(fd);
  }
};

/** The start-up sweep (sweep-temp.ts) made by the helper: the paths it removed; null when it could not run. The caller holds the queue lock. */
export async function sweepInHelper(queueRoot: string, olderThanMs: number, now: Date): Promise<string[] | null> {
  if (!(await worthAHelper(path.join(queueRoot, "tasks")))) return null;
  const out = await helperOutput(["sweep", queueRoot, String(olderThanMs), String(now.getTime())]);
  if (out === null) return null;
  try {
    const removed = JSON.parse(out) as unknown;
    return Array.isArray(removed) && removed.every((p) => typeof p === "string") ? removed : null;
  } catch {
    return null;
  }
}
