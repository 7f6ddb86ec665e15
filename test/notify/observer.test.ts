// The dispatcher's observer hook, in-process: what it reports (task ends,
// pauses, an unexpected stop), and that an observer cannot hurt the dispatcher.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ChangeNotifier, Store } from "../../src/store/types.js";
import type { DispatcherEvent } from "../../src/supervisor/observer.js";
import { setPause } from "../../src/supervisor/pauses.js";
import { startDispatcher, type Dispatcher, type DispatcherDeps } from "../../src/supervisor/supervisor.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";
import { fakeAdapter, logSink, waitFor } from "../supervisor/helpers.js";

let ws: TestWorkspace;
const running: Dispatcher[] = [];

beforeEach(async () => {
  ws = await makeWorkspace();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((d) => d.forceStop("test over")));
  await ws.cleanup();
});

async function start(deps: Partial<DispatcherDeps> = {}): Promise<Dispatcher> {
  const d = await startDispatcher(
    { vendor: "fake", queueRoot: ws.queue, leaseSeconds: 3, pollSeconds: 0.2, killGraceSeconds: 0.3, graceSeconds: 1, maxAttempts: 1 },
    { adapter: await fakeAdapter(), logger: logSink().logger, sweep: false, ...deps },
  );
  running.push(d);
  return d;
}

describe("dispatcher observer", () => {
  it("reports each finished task once, completed or failed, and a vendor pause when it is first read", async () => {
    const seen: DispatcherEvent[] = [];
    const ok = await ws.submit({ metadata: { agent: "echo" } });
    const bad = await ws.submit({ metadata: { agent: "crash" } });
    const d = await start({ observer: { observe: (e) => void seen.push(e) } });
    await waitFor("both tasks reported", () => seen.filter((e) => e.type.startsWith("task.")).length === 2);
    await setPause(ws.queue, "fake", { until: new Date(Date.now() + 3600_000), reason: "limit (test)", kind: "usage-limit", owner: "t", jitter: false });
    await ws.submit({ metadata: { agent: "echo" } }); // a change, so the loop looks at the pause now
    await waitFor("the pause reported", () => seen.some((e) => e.type === "vendor.paused"));
    await d.stop();
    const summary = seen.map((e) => (e.type === "vendor.paused" ? [e.type, e.vendor, e.kind, e.reason] : "task" in e ? [e.type, e.task.id] : [e.type]));
    expect(summary).toEqual(expect.arrayContaining([["task.completed", ok.id], ["task.failed", bad.id], ["vendor.paused", "fake", "usage-limit", "limit (test)"]]));
    expect(summary).toHaveLength(3);
    // Task events carry the answer the dispatcher wrote and the finished task: an observer reads nothing back.
    for (const e of seen) {
      if (e.type !== "task.completed" && e.type !== "task.failed") continue;
      const stored = await ws.store.getResponse(e.task.id);
      expect(e.response).toEqual(stored);
      expect(e.task.state).toBe(e.type === "task.completed" ? "completed" : "failed");
    }
  });

  it("reports an unexpected stop (the loop crashed) with the reason and exit code", async () => {
    const seen: DispatcherEvent[] = [];
    const store = ws.store;
    const broken: Store = {
      ...store,
      async changes(): Promise<ChangeNotifier> {
        const real = await store.changes();
        return { ...real, generation: real.generation, wait: () => Promise.reject(new Error("watcher broke")) };
      },
    };
    const d = await start({ store: broken, observer: { observe: (e) => void seen.push(e) } });
    expect(await d.done).toBe(1);
    expect(seen).toEqual([{ type: "dispatcher.stopped", vendor: "fake", owner: d.options.owner, reason: "loop crashed: watcher broke", exitCode: 1 }]);
  });

  it("a throwing observer changes nothing for the dispatcher", async () => {
    const t = await ws.submit({ metadata: { agent: "echo" } });
    const d = await start({
      observer: {
        observe() {
          throw new Error("observer bug");
        },
      },
    });
    await waitFor("the task answered", async () => (await ws.store.get(t.id)).state === "completed");
    const t2 = await ws.submit({ metadata: { agent: "echo" } });
    await waitFor("the next task answered", async () => (await ws.store.get(t2.id)).state === "completed");
    // The count is taken when the run settles, just after the task's answer is written.
    await waitFor("both runs counted", () => d.stats().completed === 2);
    expect(d.stats()).toMatchObject({ completed: 2, failed: 0 });
  });
});
