// waitForResponse's loop, the same for every store: look for the response,
// give up on a task that failed without one, else sleep until the notifier
// reports a change or the safety poll (`pollMs`) comes round. A database that
// cannot be reached for a while (a restart, a severed network) is waited out
// like a quiet queue, looking again every second, until the deadline.

import { StoreError, TransitionError } from "./errors.js";
import type { ChangeNotifier, Task, TaskResponse, WaitOptions } from "./types.js";

/** How often an unreachable database is tried again while waiting. */
const UNREACHABLE_RETRY_MS = 1000;

export interface WaitSources {
  get(taskId: string): Promise<Task>;
  getResponse(taskId: string): Promise<TaskResponse | null>;
  notifier: ChangeNotifier;
  pollMs: number;
}

/** The response as soon as there is one; null after opts.timeoutMs or an abort. */
export async function waitLoop(taskId: string, opts: WaitOptions, sources: WaitSources): Promise<TaskResponse | null> {
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  const n = sources.notifier;
  for (;;) {
    const since = n.generation;
    let sleepMs = sources.pollMs;
    try {
      const response = await sources.getResponse(taskId);
      if (response) return response;
      const task = await sources.get(taskId);
      if (task.state === "failed") {
        throw new TransitionError("invalid_state", `task ${taskId} failed without a response: ${task.failure_reason ?? "no reason recorded"}`, { taskId });
      }
    } catch (error) {
      if (!(error instanceof StoreError && error.code === "store_unavailable") || Date.now() >= deadline) throw error;
      sleepMs = Math.min(sleepMs, UNREACHABLE_RETRY_MS);
    }
    const left = deadline - Date.now();
    if (left <= 0 || opts.signal?.aborted) return null;
    await n.wait(Math.min(sleepMs, left), since, opts.signal);
  }
}
