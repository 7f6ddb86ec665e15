// Remove the temp files of atomic writes that never reached their rename: a
// writer killed between writing `.<name>.<hex>.tmp` and renaming it leaves the
// temp file behind. Readers ignore such files, so this is housekeeping, not
// repair. A live writer's temp file exists for milliseconds, so only files
// older than `olderThanMs` are removed; the caller holds the queue lock.

import type { Dirent } from "node:fs";
import { promises as fs, readdirSync } from "node:fs";
import path from "node:path";
import { isValidTaskId, type QueuePaths } from "./layout.js";

/** The name atomic.ts (and the Python tool) give a temp file: .<name>.<random hex>.tmp */
const TEMP_NAME = /^\..+\.[0-9a-f]{6,}\.tmp$/;

/** Names in a folder; [] when it cannot be read. Synchronous and names only: called for every task folder. */
function names(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Entries of a folder with their types; [] when it cannot be read. */
async function entries(dir: string): Promise<Dirent[]> {
  return fs.readdir(dir, { withFileTypes: true }).catch(() => [] as Dirent[]);
}

/**
 * Remove task folders that never got their task.json (a creator killed
 * between making the folder and writing the file) once the folder and
 * everything in it is older than `olderThanMs`; returns their paths. Only
 * real folders with a task id's name: a symlink in tasks/ is never followed.
 */
export async function sweepOrphanTaskFolders(paths: QueuePaths, olderThanMs: number, now: Date): Promise<string[]> {
  const cutoff = now.getTime() - olderThanMs;
  const removed: string[] = [];
  for (const entry of await entries(paths.tasks)) {
    if (!entry.isDirectory() || !isValidTaskId(entry.name)) continue;
    const folder = path.join(paths.tasks, entry.name);
    const inside = await entries(folder);
    if (inside.some((e) => e.name === "task.json")) continue;
    const stats = await Promise.all([folder, ...inside.map((e) => path.join(folder, e.name))].map((p) => fs.lstat(p).catch(() => null)));
    if (stats.some((s) => s === null || s.mtimeMs >= cutoff)) continue;
    await fs.rm(folder, { recursive: true, force: true });
    removed.push(folder);
  }
  return removed;
}

/**
 * Remove stale temp files from every task folder and the index and pause
 * folders; returns their paths. A queue may hold fifty thousand task folders:
 * they are read by name only, synchronously, a few hundred at a time between
 * turns of the event loop, so the sweep leaves next to no garbage behind and
 * never holds the loop for long.
 */
export async function sweepTempFiles(paths: QueuePaths, olderThanMs: number, now: Date): Promise<string[]> {
  const folders = [paths.root, paths.tasks, paths.correlations, path.join(paths.root, "pauses")];
  for (const name of names(paths.tasks)) if (!name.startsWith(".")) folders.push(path.join(paths.tasks, name));
  const removed: string[] = [];
  const cutoff = now.getTime() - olderThanMs;
  for (let i = 0; i < folders.length; i += 1) {
    if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve));
    const folder = folders[i] as string;
    for (const name of names(folder)) {
      if (!TEMP_NAME.test(name)) continue;
      const file = path.join(folder, name);
      const stat = await fs.stat(file).catch(() => null);
      if (stat?.isFile() && stat.mtimeMs < cutoff) {
        await fs.rm(file, { force: true });
        removed.push(file);
      }
    }
  }
  return removed;
}
