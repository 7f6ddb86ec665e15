// Remove the temp files of atomic writes that never reached their rename: a
// writer killed between writing `.<name>.<hex>.tmp` and renaming it leaves the
// temp file behind. Readers ignore such files, so this is housekeeping, not
// repair. A live writer's temp file exists for milliseconds, so only files
// older than `olderThanMs` are removed; the caller holds the queue lock.

import type { Dirent } from "node:fs";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { QueuePaths } from "./layout.js";

/** The name atomic.ts (and the Python tool) give a temp file: .<name>.<random hex>.tmp */
const TEMP_NAME = /^\..+\.[0-9a-f]{6,}\.tmp$/;

async function entries(dir: string): Promise<Dirent[]> {
  return fs.readdir(dir, { withFileTypes: true }).catch(() => [] as Dirent[]);
}

/** Remove stale temp files from every task folder and the index and pause folders; returns their paths. */
export async function sweepTempFiles(paths: QueuePaths, olderThanMs: number, now: Date): Promise<string[]> {
  const folders = [paths.root, paths.tasks, paths.correlations, path.join(paths.root, "pauses")];
  for (const entry of await entries(paths.tasks)) {
    if (entry.isDirectory() && !entry.name.startsWith(".")) folders.push(path.join(paths.tasks, entry.name));
  }
  const removed: string[] = [];
  const cutoff = now.getTime() - olderThanMs;
  for (const folder of folders) {
    for (const entry of await entries(folder)) {
      if (!entry.isFile() || !TEMP_NAME.test(entry.name)) continue;
      const file = path.join(folder, entry.name);
      const stat = await fs.stat(file).catch(() => null);
      if (stat && stat.mtimeMs < cutoff) {
        await fs.rm(file, { force: true });
        removed.push(file);
      }
    }
  }
  return removed;
}
