// "Something in the queue may have changed" notifications, so waiters sleep
// until a file-system event instead of re-reading the queue in a tight loop.
// chokidar watches the tasks folder (new task folders) and the folders of the
// tasks a caller tracks (claims, releases, responses of live tasks); terminal
// tasks are never watched, so ten thousand finished tasks cost nothing.
// Waiters pass a safety-poll timeout: events are an accelerator, never the
// only way to notice a change (e.g. on file systems without inotify).

import path from "node:path";
import type { FSWatcher } from "chokidar";
import type { ChangeNotifier } from "./types.js";

export type { ChangeNotifier };

export interface ChangeNotifierOptions {
  /** Called on a watcher error; watching then relies on the safety poll. */
  onError?: (error: Error) => void;
}

/** Start watching `tasksDir`; resolves once the watcher is ready (no event is missed after that). */
export async function createChangeNotifier(tasksDir: string, options: ChangeNotifierOptions = {}): Promise<ChangeNotifier> {
  const { watch } = await import("chokidar");
  let generation = 0;
  const waiters = new Set<() => void>();
  let tracked = new Set<string>();
  let closed = false;

  const bump = (): void => {
    generation += 1;
    for (const wake of [...waiters]) wake();
  };

  const watcher: FSWatcher = watch(tasksDir, {
    depth: 0,
    ignoreInitial: true,
    persistent: true,
    // Our writers rename temp files into place; there is no editor save dance to debounce.
    atomic: false,
    ignored: (p: string) => path.basename(p).startsWith("."),
  });
  watcher.on("all", bump);
  watcher.on("error", (error) => options.onError?.(error instanceof Error ? error : new Error(String(error))));
  await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));

  return {
    get generation() {
      return generation;
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
    track(taskDirs) {
      if (closed) return;
      const next = new Set(taskDirs);
      const added = [...next].filter((d) => !tracked.has(d));
      const removed = [...tracked].filter((d) => !next.has(d));
      if (removed.length > 0) watcher.unwatch(removed);
      if (added.length > 0) watcher.add(added);
      tracked = next;
    },
    bump,
    async close() {
      if (closed) return;
      closed = true;
      for (const wake of [...waiters]) wake();
      await watcher.close();
    },
  };
}
