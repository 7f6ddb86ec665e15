// startDispatcher in-process against a real queue folder, running the fake
// agents of test/fixtures/agents as real child processes.

import { promises as fs } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeJsonAtomic } from "../../src/store/atomic.js";
import type { ChangeNotifier, Store, Task, TaskEvent } from "../../src/store/types.js";
import { startDispatcher, type Dispatcher, type StartDispatcherOptions } from "../../src/supervisor/supervisor.js";
import type { VendorConfig } from "../../vendors/types.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";
import { allGone, fakeAdapter, logSink, waitFor, type LogSink } from "./helpers.js";

let ws: TestWorkspace;
let running: Dispatcher[] = [];

beforeEach(async () => {
  ws = await makeWorkspace();
});

afterEach(async () => {
  await Promise.all(running.map((d) => d.forceStop("test over")));
  running = [];
  await ws.cleanup();
});

async function start(options: Partial<StartDispatcherOptions> = {}, adapterConfig: VendorConfig = {}): Promise<{ d: Dispatcher; log: LogSink }> {
  const log = logSink();
  const d = await startDispatcher(
    { vendor: "fake", queueRoot: ws.queue, leaseSeconds: 3, pollSeconds: 0.2, killGraceSeconds: 0.3, graceSeconds: 1, ...options },
    { adapter: await fakeAdapter(adapterConfig), logger: log.logger, sweep: false },
  );
  running.push(d);
  return { d, log };
}

const state = async (id: string) => (await ws.store.get(id)).state;
const until = (id: string, wanted: Task["state"], timeoutMs = 20_000) => waitFor(`${id} to be ${wanted}`, async () => (await state(id)) === wanted, timeoutMs);
const events = (id: string, type?: string): Promise<TaskEvent[]> => ws.store.readEvents(id).then((all) => (type ? all.filter((e) => e.type === type) : all));

describe("startDispatcher", () => {
  it("runs N tasks at once with concurrency N, never more", async () => {
    const marker = path.join(ws.root, "overlap.log");
    const tasks = [];
    // Each run holds until three runs have started, then works 1 s: three are surely alive together,
    // and a fourth started too early would show up beside them.
    for (let i = 0; i < 7; i += 1) tasks.push(await ws.submit({ metadata: { agent: "hold", agent_args: [marker, "3", "1"] } }));
    const { d } = await start({ concurrency: 3 });
    let maxRunning = 0;
    const sampler = setInterval(() => (maxRunning = Math.max(maxRunning, d.stats().running)), 20);
    try {
      for (const t of tasks) await until(t.id, "completed", 30_000);
    } finally {
      clearInterval(sampler);
    }
    const lines = (await readFile(marker, "utf8")).trim().split("\n").map((l) => l.split(" "));
    const changes = lines.map(([kind, , at]) => ({ delta: kind === "start" ? 1 : -1, at: Number(at) })).sort((a, b) => a.at - b.at || a.delta - b.delta);
    let live = 0;
    let maxLive = 0;
    for (const c of changes) maxLive = Math.max(maxLive, (live += c.delta));
    expect(maxLive).toBe(3);
    expect(maxRunning).toBeLessThanOrEqual(3);
    expect(d.stats()).toMatchObject({ completed: 7, failed: 0, running: 0 });
  });

  it("an older task for another vendor does not delay a newer one for ours", async () => {
    const older = await ws.submit({ metadata: { required_vendor: "codex", agent: "echo" } });
    const newer = await ws.submit({ metadata: { required_vendor: "claude", agent: "echo" } });
    await start({ vendor: "claude" }, { name: "claude" });
    await until(newer.id, "completed");
    expect(await state(older.id)).toBe("queued");
    expect(await events(older.id, "claimed")).toEqual([]);
  });

  it("sees a task submitted while idle without waiting for the safety poll", async () => {
    await start({ pollSeconds: 30 });
    // Let the dispatcher fall asleep on its (30 s) wait first.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const t = await ws.submit({ metadata: { agent: "echo" } });
    await until(t.id, "completed", 10_000);
  });

  it("keeps a 3 s lease alive for a 10 s child, renewing throughout, and completes", async () => {
    const t = await ws.submit({ metadata: { agent: "sleep", agent_args: ["10"] } });
    await start({ leaseSeconds: 3 });
    await until(t.id, "completed", 30_000);
    const all = await events(t.id);
    const renewals = all.filter((e) => e.type === "renewed");
    expect(renewals.length).toBeGreaterThanOrEqual(6);
    // The lease never ran out: no gap between claim, renewals and response reached 3 s.
    const times = all.filter((e) => ["claimed", "renewed", "response"].includes(e.type)).map((e) => Date.parse(e.created_at));
    for (let i = 1; i < times.length; i += 1) expect((times[i] as number) - (times[i - 1] as number)).toBeLessThan(3000);
    const response = await ws.store.getResponse(t.id);
    expect(response?.body).toBe("slept 10 s\n");
  });

  it("kills a child whose claim is taken away and writes none of its output", async () => {
    const marker = path.join(ws.root, "marker.log");
    const t = await ws.submit({ metadata: { agent: "sleep", agent_args: ["30", marker] } });
    const { d } = await start({ leaseSeconds: 3 });
    const pid = Number((await waitFor("the agent to start", () => readFile(marker, "utf8").catch(() => ""))).split(" ")[1]);
    const claimed = await ws.store.get(t.id);
    await ws.store.release(t.id, { claimToken: claimed.claim_token as string, reason: "test takes it" });
    await ws.store.claim(t.id, { owner: "thief", leaseSeconds: 600 });
    expect(await allGone([pid], 6000)).toBe(true);
    await waitFor("the dispatcher to settle the run", () => d.stats().dropped === 1);
    expect(await ws.store.getResponse(t.id)).toBeNull();
    expect(await ws.store.get(t.id)).toMatchObject({ state: "claimed", claim_owner: "thief" });
    const failed = await events(t.id, "headless_failed");
    expect(failed.at(-1)?.data).toMatchObject({ action: "drop", killed_by: "lease-lost" });
  });

  it("logs a corrupt task.json once and runs the other tasks", async () => {
    const badDir = path.join(ws.queue, "tasks", "20261124T000000000000Z-bad-000000000000");
    await mkdir(badDir, { recursive: true });
    await writeFile(path.join(badDir, "task.json"), "{ this is not json");
    const a = await ws.submit({ metadata: { agent: "echo" } });
    const b = await ws.submit({ metadata: { agent: "echo" } });
    const { log } = await start();
    await until(a.id, "completed");
    await until(b.id, "completed");
    const c = await ws.submit({ metadata: { agent: "echo" } });
    await until(c.id, "completed");
    const warnings = log.find("skipping unreadable task");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ task_id: "20261124T000000000000Z-bad-000000000000", level: 40 });
  });

  it("gives the third task of a thread both earlier responses, oldest first", async () => {
    await start();
    const one = await ws.submit({ content: "STEP-ONE request\n", metadata: { agent: "cat-stdin", thread_id: "th-1" } });
    await until(one.id, "completed");
    const two = await ws.submit({ content: "STEP-TWO request\n", metadata: { agent: "cat-stdin", thread_id: "th-1", parent_task_id: one.id } });
    await until(two.id, "completed");
    const three = await ws.submit({ content: "STEP-THREE request\n", metadata: { agent: "cat-stdin", thread_id: "th-1", parent_task_id: two.id } });
    await until(three.id, "completed");
    const input = (await ws.store.getResponse(three.id))?.body ?? "";
    const first = input.indexOf(`----- BEGIN RESPONSE: ${one.id} -----`);
    const second = input.indexOf(`----- BEGIN RESPONSE: ${two.id} -----`);
    expect(first).toBeGreaterThan(input.indexOf("STEP-THREE request"));
    expect(second).toBeGreaterThan(first);
    expect(input.slice(first, second)).toContain("STEP-ONE request");
    expect(input.slice(second)).toContain("STEP-TWO request");
  });

  it("does not hang on a thread that loops back on itself", async () => {
    const a = await ws.submit({ metadata: { agent: "cat-stdin" } });
    const b = await ws.submit({ metadata: { agent: "cat-stdin", parent_task_id: a.id } });
    // Close the loop behind the store's back: a's parent is b.
    const raw = JSON.parse(await readFile(path.join(ws.queue, "tasks", a.id, "task.json"), "utf8")) as Task;
    await writeJsonAtomic(path.join(ws.queue, "tasks", a.id, "task.json"), { ...raw, metadata: { ...raw.metadata, parent_task_id: b.id } });
    await start();
    await until(a.id, "completed");
    await until(b.id, "completed");
    expect((await ws.store.getResponse(a.id))?.body).toMatch(/the thread loops back to/);
  });

  it("fails a child that exits 0 with no output, after releasing it for a retry, with the history", async () => {
    const t = await ws.submit({ metadata: { agent: "empty" } });
    await start({ maxAttempts: 2 });
    await until(t.id, "failed");
    expect(await events(t.id, "released")).toHaveLength(1);
    expect(await events(t.id, "claimed")).toHaveLength(2);
    const response = await ws.store.getResponse(t.id);
    expect(response?.status).toBe("failed");
    expect(response?.body).toMatch(/exited 0 without any output/);
    expect(response?.body).toMatch(/Attempt history \(2 of at most 2 counted\)/);
  });

  it("fails a crashing child at once with its exit code and stderr", async () => {
    const t = await ws.submit({ metadata: { agent: "crash" } });
    await start();
    await until(t.id, "failed");
    const response = await ws.store.getResponse(t.id);
    expect(response?.body).toMatch(/exited with 3/);
    expect(response?.body).toContain("crash agent: something broke");
    expect(response?.metadata).toMatchObject({ exit_code: 3, attempt: 1, vendor: "fake" });
    expect(await events(t.id, "claimed")).toHaveLength(1);
  });

  it("caps a child that floods stdout and still ends the task", async () => {
    const t = await ws.submit({ metadata: { agent: "flood", agent_args: ["20"] } });
    await start({ maxOutputBytes: 64 * 1024 });
    await until(t.id, "completed", 30_000);
    const response = await ws.store.getResponse(t.id);
    expect(Buffer.byteLength(response?.body ?? "")).toBe(64 * 1024);
    expect(response?.metadata).toMatchObject({ stdout_truncated: true, exit_code: 0 });
  });

  it("the task timeout kills a child that ignores SIGTERM and fails the task", async () => {
    const t = await ws.submit({ metadata: { agent: "ignore-term", agent_args: ["--chatty"] } });
    // Idle = task timeout: the task timer is armed first, so it fires first.
    await start({ taskTimeoutSeconds: 2, killGraceSeconds: 0.3 });
    await until(t.id, "failed");
    const response = await ws.store.getResponse(t.id);
    expect(response?.body).toMatch(/task-timeout/);
    expect(response?.metadata).toMatchObject({ killed_by: "task-timeout", signal: "SIGKILL" });
    const pid = Number(/ignore-term agent (\d+)/.exec(response?.body ?? "")?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(await allGone([pid], 2000)).toBe(true);
  });

  it("hands the answer back as a failed response when the request changed during the run", async () => {
    const marker = path.join(ws.root, "m.log");
    const t = await ws.submit({ metadata: { agent: "sleep", agent_args: ["1", marker] } });
    await start();
    await waitFor("the agent to start", () => readFile(marker, "utf8").catch(() => ""));
    await writeFile(t.request_path, "edited while the agent worked\n");
    await until(t.id, "failed");
    const response = await ws.store.getResponse(t.id);
    expect(response).toMatchObject({ status: "failed", request_changed_before_response: true });
    expect(response?.body).toMatch(/^The request file changed while the agent ran/);
    expect(response?.body).toContain("slept 1 s");
  });

  it("logs a status line while busy", async () => {
    const marker = path.join(ws.root, "m.log");
    const t = await ws.submit({ metadata: { agent: "sleep", agent_args: ["2.5", marker] } });
    const { log } = await start({ statusEverySeconds: 1 });
    await until(t.id, "completed");
    const status = log.find("status");
    expect(status.length).toBeGreaterThanOrEqual(1);
    expect(status[0]).toMatchObject({ running: 1, completed: 0, failed: 0 });
  });

  it("records the run's events with owner, attempt, model and duration", async () => {
    const t = await ws.submit({ metadata: { agent: "echo" } });
    const { d } = await start();
    await until(t.id, "completed");
    const types = (await events(t.id)).map((e) => e.type);
    expect(types).toEqual(["created", "claimed", "dispatcher_started", "headless_started", "headless_completed", "response"]);
    const completed = (await events(t.id, "headless_completed"))[0];
    expect(completed?.data).toMatchObject({ owner: d.options.owner, vendor: "fake", attempt: 1, exit_code: 0, model_used: "fake-model" });
    const response = await ws.store.getResponse(t.id);
    expect(response).toMatchObject({ status: "completed", reviewer: d.options.owner });
    expect(response?.metadata).toMatchObject({ model_used: "fake-model", attempt: 1, exit_code: 0, fake_adapter: true });
    expect(typeof response?.metadata.duration_ms).toBe("number");
  });

  /** The queue's store as the dispatcher sees it, with `transitionEvents` as given, noting each write it is asked for. */
  function spiedStore(transitionEvents: boolean): { store: Store; seen: string[] } {
    const seen: string[] = [];
    const store = new Proxy(ws.store, {
      get: (target, key) => {
        if (key === "transitionEvents") return transitionEvents;
        const value = Reflect.get(target, key);
        if (key === "claim" || key === "respond") {
          return (id: string, input: { events?: unknown }) => {
            seen.push(`${String(key)}:${input.events === undefined ? "plain" : "with events"}`);
            return (value as (id: string, input: unknown) => Promise<unknown>).call(target, id, input);
          };
        }
        if (key === "appendEvent") {
          return (id: string, event: { type: string }) => {
            seen.push(`event:${event.type}`);
            return (value as (id: string, event: unknown) => Promise<unknown>).call(target, id, event);
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    return { store, seen };
  }

  /** One echo task through a dispatcher on `store`: the writes it asked for and the task's event types. */
  async function oneTaskThrough(transitionEvents: boolean): Promise<{ seen: string[]; types: string[]; d: Dispatcher; id: string }> {
    const { store, seen } = spiedStore(transitionEvents);
    const t = await ws.submit({ metadata: { agent: "echo" } });
    const d = await startDispatcher(
      { vendor: "fake", queueRoot: ws.queue, leaseSeconds: 3, pollSeconds: 0.2, killGraceSeconds: 0.3, graceSeconds: 1 },
      { adapter: await fakeAdapter(), logger: logSink().logger, sweep: false, store },
    );
    running.push(d);
    await until(t.id, "completed");
    return { seen, types: (await events(t.id)).map((e) => e.type), d, id: t.id };
  }

  it("logs dispatcher_started in the claim's transition and the run's report in the respond's: one locked write for each pair", async () => {
    const { seen, types } = await oneTaskThrough(true);
    expect(seen).toEqual(["claim:with events", "event:headless_started", "respond:with events"]);
    expect(types).toEqual(["created", "claimed", "dispatcher_started", "headless_started", "headless_completed", "response"]);
  });

  it("logs the same events, one by one, through a store that cannot log them in its transitions", async () => {
    const { seen, types, d, id } = await oneTaskThrough(false);
    expect(seen).toEqual(["claim:plain", "event:dispatcher_started", "event:headless_started", "event:headless_completed", "respond:plain"]);
    expect(types).toEqual(["created", "claimed", "dispatcher_started", "headless_started", "headless_completed", "response"]);
    expect((await events(id, "dispatcher_started"))[0]?.data).toMatchObject({ owner: d.options.owner, vendor: "fake", attempt: 1, supervisor_pid: process.pid });
    expect((await events(id, "headless_completed"))[0]?.data).toMatchObject({ owner: d.options.owner, vendor: "fake", attempt: 1, exit_code: 0 });
  });

  it("a full dispatcher is not woken by file events, and what they named is claimed once a slot is free", async () => {
    // The queue's store as the dispatcher sees it, counting the loop's waits on the change notifier.
    let waits = 0;
    const counting = (n: ChangeNotifier): ChangeNotifier =>
      new Proxy(n, {
        get: (target, key) => {
          const value = Reflect.get(target, key);
          if (key === "wait") return (...args: Parameters<ChangeNotifier["wait"]>) => ((waits += 1), target.wait(...args));
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    const store = new Proxy(ws.store, {
      get: (target, key) => {
        const value = Reflect.get(target, key);
        if (key === "changes") return () => target.changes().then(counting);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const marker = path.join(ws.root, "sleep.log");
    const long = await ws.submit({ metadata: { agent: "sleep", agent_args: ["2", marker] } });
    const d = await startDispatcher(
      { vendor: "fake", queueRoot: ws.queue, concurrency: 1, leaseSeconds: 30, pollSeconds: 0.2, killGraceSeconds: 0.3, graceSeconds: 1 },
      { adapter: await fakeAdapter(), logger: logSink().logger, sweep: false, store },
    );
    running.push(d);
    await waitFor("the agent to start", () => readFile(marker, "utf8").catch(() => ""));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const before = waits;
    // Writes in the running task's folder and a new task: file events, while the only slot is taken.
    const eventsFile = path.join(ws.queue, "tasks", long.id, "events.jsonl");
    for (let i = 0; i < 10; i += 1) await fs.appendFile(eventsFile, `{"created_at": "x", "data": {}, "message": "", "type": "note"}\n`);
    const next = await ws.submit({ metadata: { agent: "echo" } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(waits - before).toBe(0);
    expect(await state(next.id)).toBe("queued");
    await until(long.id, "completed");
    await until(next.id, "completed");
  });

  it("its start-up sweep removes temp files a crashed writer left in the queue", async () => {
    const task = await ws.submit({ metadata: { agent: "echo" } });
    const stale = path.join(ws.queue, "tasks", task.id, ".task.json.0123456789abcdef.tmp");
    await fs.writeFile(stale, "partial");
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await fs.utimes(stale, old, old);
    const log = logSink();
    const d = await startDispatcher(
      { vendor: "fake", queueRoot: ws.queue, leaseSeconds: 3, pollSeconds: 0.2, killGraceSeconds: 0.3, graceSeconds: 1 },
      { adapter: await fakeAdapter(), logger: log.logger },
    );
    running.push(d);
    await expect(fs.access(stale)).rejects.toThrow();
    await until(task.id, "completed");
  });
});
