// "Something in the queue may have changed" notifications, so waiters sleep
// until a file-system event instead of re-reading the queue in a tight loop.
// The tasks folder (new task folders) is watched with one raw fs.watch:
// chokidar diffs a folder's whole listing on every event, which takes hundreds
// of milliseconds once it holds ten thousand tasks, while inotify/FSEvents name
// the new entry at once. chokidar watches the small folders of the tasks a
// caller tracks (claims, releases, responses of live tasks); terminal tasks are
// never watched, so ten thousand finished tasks cost nothing.
// Waiters pass a safety-poll timeout: events are an accelerator, never the
// only way to notice a change (e.g. on file systems without inotify).

import { watch as watchRaw, type FSWatcher as RawWatcher } from "node:fs";
import path from "node:path";
import type { FSWatcher } from "chokidar";
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
  const { watch } = await import("chokidar");
  const generations = createGenerations();
  let closed = false;
  const bump = (): void => generations.bump();

  const watchFolder = (dir: string): FSWatcher => {
    const w = watch(dir, {
      depth: 0,
      ignoreInitial: true,
      persistent: true,
      // Our writers rename temp files into place; there is no editor save dance to debounce.
      atomic: false,
      ignored: (p: string) => path.basename(p).startsWith("."),
    });
    w.on("all", bump);
    w.on("error", (error) => options.onError?.(error instanceof Error ? error : new Error(String(error))));
    return w;
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
  // tracked. chokidar's unwatch() instead keeps every path it ever dropped in an
  // ignore list that each later event is matched against (and re-reading the
  // tasks folder matches every entry against it): a long-running dispatcher
  // slowed down with every task it finished.
  const taskWatchers = new Map<string, FSWatcher>();
  // Watched folders = the latest scan's live tasks ∪ folders pinned by waiters.
  let tracked = new Set<string>();
  const pins = new Map<string, number>();

  const sync = (): void => {
    if (closed) return;
    const wanted = new Set([...tracked, ...pins.keys()]);
    for (const [dir, w] of taskWatchers) {
      if (!wanted.has(dir)) {
        taskWatchers.delete(dir);
        void w.close().catch(() => undefined);
      }
    }
    for (const dir of wanted) if (!taskWatchers.has(dir)) taskWatchers.set(dir, watchFolder(dir));
  };

  // Folders of tasks being created: a raw watch (armed synchronously, unlike
  // chokidar's) that wakes waiters when task.json lands.
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
    async close() {
      if (closed) return;
      closed = true;
      generations.close();
      tasksWatcher?.close();
      for (const w of pendingWatchers.values()) w.close();
      pendingWatchers.clear();
      const all = [...taskWatchers.values()];
      taskWatchers.clear();
      await Promise.all(all.map((w) => w.close().catch(() => undefined)));
    },
  };
}
