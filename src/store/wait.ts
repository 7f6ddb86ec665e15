// waitForResponse's loop, the same for every store: look for the response,
// give up on a task that failed without one, else sleep until the notifier
// reports a change or the safety poll (`pollMs`) comes round.

import { TransitionError } from "./errors.js";
import type { ChangeNotifier, Task, TaskResponse, WaitOptions } from "./types.js";

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
    const response = await sources.getResponse(taskId);
    if (response) return response;
    const task = await sources.get(taskId);
    if (task.state === "failed") {
      throw new TransitionError("invalid_state", `task ${taskId} failed without a response: ${task.failure_reason ?? "no reason recorded"}`, { taskId });
    }
    const left = deadline - Date.now();
    if (left <= 0 || opts.signal?.aborted) return null;
    await n.wait(Math.min(sources.pollMs, left), since, opts.signal);
  }
}
