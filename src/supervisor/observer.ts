// What a dispatcher tells an observer (notifications, dashboards): task ends,
// vendor pauses, an unexpected stop. observe() is called synchronously and
// must return at once; the dispatcher never waits on it, and a throwing
// observer is ignored (STYLE.md 6: an observer never breaks the core loop).

import type { Task, TaskResponse } from "../store/types.js";

export type DispatcherEvent =
  /** A response this dispatcher wrote: the finished task and its answer (an observer needs no store read). */
  | { type: "task.completed" | "task.failed"; task: Task; response: TaskResponse; owner: string }
  | { type: "vendor.paused"; vendor: string; kind: string; until: string; reason: string; owner: string }
  | { type: "dispatcher.stopped"; vendor: string; owner: string; reason: string; exitCode: number };

export interface DispatcherObserver {
  observe(event: DispatcherEvent): void;
}

/** `observer.observe`, made safe to call from the dispatch loop. */
export function safeObserve(observer: DispatcherObserver | undefined): (event: DispatcherEvent) => void {
  if (!observer) return () => undefined;
  return (event) => {
    try {
      observer.observe(event);
    } catch {
      // Never the dispatcher's problem.
    }
  };
}
