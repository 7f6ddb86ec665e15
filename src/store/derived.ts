// The reads every store derives the same way from its own summaries() and
// available(): list (summaries without the facts) and next (the first available).

import type { AvailableOptions, ListOptions, Store, Task, TaskSummary } from "./types.js";

export function derivedReads(
  summaries: (opts: ListOptions, withFacts: boolean) => Promise<TaskSummary[]>,
  available: (opts?: AvailableOptions) => Promise<Task[]>,
): Pick<Store, "list" | "summaries" | "next"> {
  return {
    async list(opts: ListOptions = {}) {
      return (await summaries(opts, false)).map((s) => s.task);
    },
    summaries: (opts: ListOptions = {}) => summaries(opts, true),
    async next(lane, opts = {}) {
      const [first] = await available({ ...opts, lanes: [lane] });
      return first ?? null;
    },
  };
}
