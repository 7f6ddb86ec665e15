// "Something in the queue may have changed" notifications, so waiters sleep
// until a file-system event instead of re-reading the queue in a tight loop.
// Raw fs.watch (inotify on Linux, FSEvents/kqueue elsewhere) names the entry
// that changed, so nothing is ever re-listed to find out what happened:
// - the tasks folder is watched for new and removed task folders (their names
//   keep the scanner's listing current: takeNames);
// - the folder of each task a caller tracks (the live tasks of the latest
//   scan, and folders pinned by waiters) is watched for its claims, releases
//   and responses, and the tasks whose folders changed are named too
//   (takeTouched), so a scan re-reads only those instead of every live task.
// Terminal tasks are never watched, so fifty thousand finished tasks cost nothing.
// Waiters pass a safety-poll timeout: events are an accelerator, never the
// only way to notice a change (e.g. on file systems without inotify).

import { watch as watchRaw, type FSWatcher as RawWatcher } from "node:fs";
import path from "node:path";
import type { ChangeNotifier } from "./types.js";

export type { ChangeNotifier };

export interface ChangeNotifierOptions {
  /** Called on a watcher error; watching then relies on the safety poll. */
  onError?: (error: Error) => void;
}

/** The change counter every notifier keeps: bump() counts a change and wakes the waiters of wait(). */
export interface Generations {
  readonly generation: number;
  bump(): void;
  wait(timeoutMs: number, since: number, signal?: AbortSignal): Promise<void>;
  /** Wake every waiter for good (close). */
  close(): void;
}

export function createGenerations(): Generations {
  let generation = 0;
  let closed = false;
  const waiters = new Set<() => void>();
  const wakeAll = (): void => {
    for (const wake of [...waiters]) wake();
  };
  return {
    get generation() {
      return generation;
    },
    bump() {
      generation += 1;
      wakeAll();
    },
    wait(timeoutMs, since, signal) {
      if (closed || generation > since || signal?.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(done);
          signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, timeoutMs));
        waiters.add(done);
        signal?.addEventListener("abort", done, { once: true });
      });
    },
    close() {
      closed = true;
      wakeAll();
    },
  };
}

/** Start watching `tasksDir`; resolves once the watcher is ready (no event is missed after that). */
export async function createChangeNotifier(tasksDir: string, options: ChangeNotifierOptions = {}): Promise<ChangeNotifier> {
  const generations = createGenerations();
  let closed = false;
  const bump = (): void => generations.bump();

  /** Tasks whose folders changed since the last takeTouched(); null once a change may have been missed. */
  let touched: Set<string> | null = new Set();

  /** A watch on one task folder: every change of a file in it (temp files aside) names the task. */
  const watchFolder = (dir: string): RawWatcher | null => {
    const id = path.basename(dir);
    try {
      const w = watchRaw(dir, { persistent: true }, (_event, name) => {
        if (name && String(name).startsWith(".")) return; // a temp file of an atomic write: its rename follows
        touched?.add(id);
        bump();
      });
      w.on("error", (error) => {
        // e.g. the folder was removed; the next full look at the live tasks heals the rest.
        touched = null;
        w.close();
        taskWatchers.delete(dir);
        reportError(error);
      });
      return w;
    } catch (error) {
      // Gone already, or no watch left: the safety poll and the full looks cover it.
      touched = null;
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") reportError(error);
      return null;
    }
  };

  const reportError = (error: unknown): void => options.onError?.(error instanceof Error ? error : new Error(String(error)));
  let tasksWatcher: RawWatcher | null = null;
  /** Entry names of the tasks folder reported since the last takeNames(); null once one was missed. */
  let names: Set<string> | null = new Set();
  try {
    tasksWatcher = watchRaw(tasksDir, { persistent: true }, (_event, name) => {
      if (!name) {
        names = null; // a change without a name: the next scan lists the folder in full
        bump();
      } else if (!String(name).startsWith(".")) {
        names?.add(String(name));
        bump();
      }
    });
    tasksWatcher.on("error", (error) => {
      reportError(error);
      tasksWatcher?.close();
      tasksWatcher = null;
    });
  } catch (error) {
    // No watch (e.g. the inotify limit is reached): the waiters' safety poll still sees every change.
    reportError(error);
  }
  // One watcher per tracked task folder, closed when the task is no longer
  // tracked (a watcher library that keeps dropped paths in an ignore list
  // would slow a long-running dispatcher down with every task it finished).
  const taskWatchers = new Map<string, RawWatcher>();
  // Watched folders = the latest scan's live tasks ∪ folders pinned by waiters.
  let tracked = new Set<string>();
  const pins = new Map<string, number>();
  function* wantedDirs(): Generator<string> {
    yield* tracked;
    for (const dir of pins.keys()) if (!tracked.has(dir)) yield dir;
  }

  /** Watch the folders of `dirs` not watched yet; a change is counted when one is. */
  const watchAll = (dirs: Iterable<string>): void => {
    let added = false;
    for (const dir of dirs) {
      if (taskWatchers.has(dir)) continue;
      const w = watchFolder(dir);
      if (!w) continue;
      taskWatchers.set(dir, w);
      // It may have changed between the scan that read it and this watch: read it once more.
      touched?.add(path.basename(dir));
      added = true;
    }
    if (added) bump();
  };

  /** Stop watching a folder neither tracked nor pinned. */
  const unwatch = (dir: string): void => {
    const w = taskWatchers.get(dir);
    if (!w || tracked.has(dir) || pins.has(dir)) return;
    taskWatchers.delete(dir);
    w.close();
  };

  const sync = (): void => {
    if (closed) return;
    for (const dir of [...taskWatchers.keys()]) unwatch(dir);
    watchAll(wantedDirs());
  };

  // Folders of tasks being created: a watch that wakes waiters when task.json lands.
  const pendingWatchers = new Map<string, RawWatcher>();
  const expect = (dirs: Iterable<string>): void => {
    if (closed) return;
    const wanted = new Set(dirs);
    for (const [dir, w] of pendingWatchers) {
      if (!wanted.has(dir)) {
        pendingWatchers.delete(dir);
        w.close();
      }
    }
    let added = false;
    for (const dir of wanted) {
      if (pendingWatchers.has(dir)) continue;
      try {
        const w = watchRaw(dir, { persistent: false }, () => bump());
        w.on("error", () => {
          w.close();
          pendingWatchers.delete(dir);
        });
        pendingWatchers.set(dir, w);
        added = true;
      } catch {
        // gone already, or no watch left: the safety poll covers it
      }
    }
    // The file may have landed between the scan and the watch: look again once.
    if (added) bump();
  };

  return {
    expect,
    takeTouched() {
      if (closed) return null;
      const taken = touched === null ? null : [...touched];
      touched = new Set();
      return taken;
    },
    takeNames() {
      if (tasksWatcher === null || closed) return null;
      const taken = names === null ? null : [...names];
      names = new Set();
      return taken;
    },
    get generation() {
      return generations.generation;
    },
    wait: (timeoutMs, since, signal) => generations.wait(timeoutMs, since, signal),
    track(taskDirs) {
      tracked = new Set(taskDirs);
      sync();
    },
    trackChanges(addedDirs, removed) {
      if (closed) return;
      const added = [...addedDirs];
      for (const dir of removed) {
        tracked.delete(dir);
        unwatch(dir);
      }
      for (const dir of added) tracked.add(dir);
      watchAll(added);
    },
    pin(taskDir) {
      pins.set(taskDir, (pins.get(taskDir) ?? 0) + 1);
      sync();
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (pins.get(taskDir) ?? 1) - 1;
        if (left > 0) pins.set(taskDir, left);
        else pins.delete(taskDir);
        sync();
      };
    },
    bump,
    wrote(taskId) {
      names?.add(taskId);
      touched?.add(taskId);
      bump();
    },
    async close() {
      if (closed) return;
      closed = true;
      generations.close();
      tasksWatcher?.close();
      for (const w of pendingWatchers.values()) w.close();
      pendingWatchers.clear();
      for (const w of taskWatchers.values()) w.close();
      taskWatchers.clear();
    },
  };
}
