// The feed behind `GET /events`: one loop per server, running only while a
// client listens, woken by the store's change notifier (the safety poll
// catches what no watcher reports, such as pause files). Each pass compares
// the live tasks (queued, claimed), the pauses and the live runs with the
// previous pass and broadcasts what changed: `task` (a transition), `pause`
// (set, changed or cleared) and `dispatcher` (runs started or ended).
//
// A pass never lists finished tasks: a queue's history (fifty thousand
// finished tasks) costs it nothing. A task that left the live set is read on
// its own (`store.get`) to learn where it went — completed, failed, or gone.
// When the store's count of finished tasks grew by more than that (a task
// created and finished between two looks), the finished tasks created since
// the previous look are listed — a listing cut by time before any is read —
// and the ones never reported are sent as new tasks in their final state.

import { promises as fs } from "node:fs";
import { toError, UnknownTaskError } from "../store/errors.js";
import type { Store, Task } from "../store/types.js";
import { listPauses } from "../supervisor/pauses.js";
import { runRecordsDir } from "../supervisor/sweep.js";

export interface FeedEvent {
  type: "task" | "pause" | "dispatcher";
  data: Record<string, unknown>;
}

export interface EventFeed {
  /** Receive every event from now on; returns the unsubscribe function. */
  subscribe(listener: (event: FeedEvent) => void): () => void;
  /** Listeners now. */
  size(): number;
  /** Stop the loop and drop every listener. */
  close(): void;
}

export interface EventFeedOptions {
  /** Look again at least this often when no watcher fires. */
  safetyPollMs: number;
  onError(error: Error): void;
}

/** How far before the previous look a task never seen live is looked for (clocks of writers differ a little). */
const UNSEEN_MARGIN_MS = 60_000;

/** How long a finished task's report is remembered, so it is never sent twice. */
const REPORTED_MS = 10 * 60_000;

interface Snapshot {
  /** The live tasks only. */
  tasks: Map<string, { state: string; updated_at: string }>;
  /** The store's count of finished tasks (null without finishedCount). */
  finished: number | null;
  /** When the look started (ms). */
  at: number;
  pauses: Map<string, string>;
  runs: Set<string>;
}

async function runIds(queueRoot: string): Promise<Set<string>> {
  try {
    return new Set((await fs.readdir(runRecordsDir(queueRoot))).filter((name) => name.endsWith(".json") && !name.startsWith(".")));
  } catch {
    return new Set();
  }
}

const taskEvent = (task: Task, from: string | null): FeedEvent => ({
  type: "task",
  data: { id: task.id, correlation_id: task.correlation_id, lane: task.lane, state: task.state, from, updated_at: task.updated_at },
});

export function createEventFeed(store: Store, options: EventFeedOptions): EventFeed {
  const listeners = new Set<(event: FeedEvent) => void>();
  let previous: Snapshot | null = null;
  let running = false;
  let sleeping: AbortController | null = null;
  let closed = false;

  const emit = (event: FeedEvent): void => {
    for (const listener of [...listeners]) listener(event);
  };

  /** The task as it is now, or null when it no longer exists. */
  async function departed(id: string): Promise<Task | null> {
    try {
      return await store.get(id);
    } catch (error) {
      if (error instanceof UnknownTaskError) return null;
      throw error;
    }
  }

  /** Finished tasks already reported (id -> when), so a task found twice is sent once. */
  const reported = new Map<string, number>();

  async function pass(): Promise<void> {
    const at = Date.now();
    const tasks = await store.list({ activeOnly: true });
    const finished = store.finishedCount ? await store.finishedCount() : null;
    const { pauses } = await listPauses(store);
    const runs = await runIds(store.root);
    const next: Snapshot = {
      finished,
      at,
      tasks: new Map(tasks.map((t) => [t.id, { state: t.state, updated_at: t.updated_at }])),
      pauses: new Map(pauses.filter((p) => p.active).map((p) => [p.vendor, JSON.stringify([p.until, p.reason, p.kind])])),
      runs,
    };
    if (previous) {
      for (const task of tasks) {
        const before = previous.tasks.get(task.id);
        if (!before || before.state !== task.state || before.updated_at !== task.updated_at) emit(taskEvent(task, before?.state ?? null));
      }
      let finishedSeen = 0;
      for (const [id, before] of previous.tasks) {
        if (next.tasks.has(id)) continue;
        // Left the live set: answered, cancelled, or removed.
        const now = await departed(id);
        emit(now ? taskEvent(now, before.state) : { type: "task", data: { id, state: "removed", from: before.state } });
        if (now && (now.state === "completed" || now.state === "failed")) {
          finishedSeen += 1;
          reported.set(id, at);
        }
      }
      // More tasks finished than left the live set: some were created and finished between two looks. They are
      // newer than the previous look, so a listing of the finished tasks since then (cut before any is read) finds them.
      if (finished !== null && previous.finished !== null && finished > previous.finished + finishedSeen) {
        for (const task of await store.list({ states: ["completed", "failed"], since: new Date(previous.at - UNSEEN_MARGIN_MS) })) {
          if (previous.tasks.has(task.id) || reported.has(task.id)) continue;
          reported.set(task.id, at);
          emit(taskEvent(task, null));
        }
      }
      for (const [id, when] of reported) if (at - when > REPORTED_MS) reported.delete(id);
      for (const pause of pauses.filter((p) => p.active)) {
        if (previous.pauses.get(pause.vendor) !== next.pauses.get(pause.vendor)) {
          emit({ type: "pause", data: { vendor: pause.vendor, until: pause.until, reason: pause.reason, kind: pause.kind, active: true } });
        }
      }
      for (const vendor of previous.pauses.keys()) if (!next.pauses.has(vendor)) emit({ type: "pause", data: { vendor, active: false } });
      const started = [...runs].filter((id) => !previous?.runs.has(id));
      const ended = [...previous.runs].filter((id) => !runs.has(id));
      if (started.length > 0 || ended.length > 0) {
        emit({ type: "dispatcher", data: { runs: runs.size, started: started.map((n) => n.slice(0, -5)), ended: ended.map((n) => n.slice(0, -5)) } });
      }
    }
    previous = next;
  }

  async function loop(): Promise<void> {
    try {
      const notifier = await store.changes();
      while (listeners.size > 0 && !closed) {
        const since = notifier.generation;
        try {
          await pass();
        } catch (error) {
          options.onError(toError(error));
        }
        if (listeners.size === 0 || closed) break;
        sleeping = new AbortController();
        await notifier.wait(options.safetyPollMs, since, sleeping.signal);
        sleeping = null;
      }
    } catch (error) {
      options.onError(toError(error));
    } finally {
      running = false;
      sleeping = null;
      // A later subscriber starts from a fresh snapshot, not from a stale one.
      previous = null;
    }
  }

  return {
    subscribe(listener) {
      listeners.add(listener);
      if (!running && !closed) {
        running = true;
        void loop();
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) sleeping?.abort();
      };
    },
    size: () => listeners.size,
    close() {
      closed = true;
      listeners.clear();
      sleeping?.abort();
    },
  };
}
