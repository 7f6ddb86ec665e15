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
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
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

/**
 * Run the helper; `onData` gets its standard output as it comes. Resolves
 * true on a clean exit, false when it could not run or failed.
 */
async function runHelper(args: string[], onData: (chunk: Buffer) => void, signal?: AbortSignal): Promise<boolean> {
  if (!helperAvailable() || signal?.aborted) return false;
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(process.execPath, [HELPER, ...args], { stdio: ["ignore", "pipe", "ignore"], signal });
    } catch {
      resolve(false);
      return;
    }
    let failed = false;
    child.stdout.on("data", (chunk: Buffer) => {
      if (failed) return;
      try {
        onData(chunk);
      } catch {
        failed = true; // not the helper's output: the caller does the work itself
        child.kill();
      }
    });
    child.once("error", () => resolve(false));
    child.once("close", (code) => resolve(code === 0 && !failed));
  });
}

/** The whole standard output of the helper on a clean exit, else null (small outputs only). */
async function helperOutput(args: string[]): Promise<string | null> {
  const chunks: Buffer[] = [];
  return (await runHelper(args, (chunk) => chunks.push(chunk))) ? Buffer.concat(chunks).toString("utf8") : null;
}

/**
 * Task folders below which a first scan is made in-process: its garbage is
 * small, and a helper would cost more (a process start) than it saves.
 */
export const HELPER_MIN_TASKS = 1000;

/** Whether the tasks folder may hold HELPER_MIN_TASKS folders (a folder's link count is 2 + its subfolders, where the file system counts them). */
async function worthAHelper(tasksDir: string): Promise<boolean> {
  const st = await stat(tasksDir).catch(() => null);
  if (st === null) return false; // no queue yet: nothing to scan
  return st.nlink < 2 || st.nlink - 2 >= HELPER_MIN_TASKS;
}

/** The first scan of a scanner, made by the helper: its state and the finished tasks' names (one a line). */
export const firstScanInHelper: FirstScan = async (tasksDir, signal) => {
  if (!(await worthAHelper(tasksDir))) return null;
  // The names go straight from the pipe into a table sized for them: no
  // string is made per name, and no buffer of them all.
  let head: Buffer[] | null = [];
  let state: ScannerState | null = null;
  let table: IdTable | null = null;
  let carry: Buffer | null = null;
  const names = (bytes: Buffer): void => {
    let start = 0;
    for (let end = bytes.indexOf(0x0a); end !== -1; end = bytes.indexOf(0x0a, start)) {
      if (end > start) (table as IdTable).setBytes(bytes, start, end, NAME_TAGS.finished);
      start = end + 1;
    }
    carry = start < bytes.length ? Buffer.from(bytes.subarray(start)) : null;
  };
  const ok = await runHelper(
    ["scan", tasksDir],
    (chunk) => {
      if (head !== null) {
        const nl = chunk.indexOf(0x0a);
        if (nl === -1) {
          head.push(chunk);
          return;
        }
        head.push(chunk.subarray(0, nl));
        state = JSON.parse(Buffer.concat(head).toString("utf8")) as ScannerState;
        head = null;
        table = new IdTable(state.finishedCount, state.finishedBytes);
        chunk = chunk.subarray(nl + 1);
      }
      names(carry ? Buffer.concat([carry, chunk]) : chunk);
    },
    signal,
  );
  if (!ok || state === null || table === null || carry !== null) return null;
  return { state, finished: table };
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
