// The notifier in-process, over a real HTTP webhook sink: one per transition,
// filters, the digest of a burst, dedup across notifiers (restarts), and a
// sink that fails or hangs never holding up observe().

import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createNotifier, resolveNotifyConfig, type NotifierLog } from "../../src/notify/index.js";
import type { Task, TaskResponse } from "../../src/store/types.js";
import type { DispatcherEvent } from "../../src/supervisor/observer.js";
import { startHookServer, type HookServer } from "./hook-server.js";

let queue: string;
let hook: HookServer;
let warnings: string[];
let infos: string[];
const log: NotifierLog = { warn: (m) => void warnings.push(m), info: (m) => void infos.push(m) };

beforeEach(async () => {
  queue = await mkdtemp(path.join(os.tmpdir(), "al-notify-"));
  hook = await startHookServer();
  warnings = [];
  infos = [];
});
afterEach(async () => {
  await hook.close();
  await rm(queue, { recursive: true, force: true });
});

function task(i: number, lane = "default"): Task {
  return { id: `20260101T000000000000Z-t${i}-000000000000`, lane, correlation_id: `t${i}`, response_path: `/ws/r${i}.md`, failure_reason: null } as unknown as Task;
}

/** The answers the events carry (the dispatcher passes the response it wrote). */
const responses = new Map<string, TaskResponse>();
const answer = (t: Task, status: "completed" | "failed"): TaskResponse =>
  responses.get(t.id) ?? ({ task_id: t.id, status, verdict: null, blocking_count: 0, nonblocking_count: 0, body: "" } as unknown as TaskResponse);
const ended = (type: "task.completed" | "task.failed", t: Task): DispatcherEvent => ({ type, task: t, response: answer(t, type === "task.completed" ? "completed" : "failed"), owner: "d1" });
const completed = (i: number, lane?: string): DispatcherEvent => ended("task.completed", task(i, lane));
const failedTask = (i: number, lane?: string): DispatcherEvent => ended("task.failed", task(i, lane));

function notifier(section: unknown, flags: string[] = [hookFlag()]) {
  const config = resolveNotifyConfig(section, flags);
  if (!config) throw new Error("no sinks");
  return createNotifier({ config, queueRoot: queue, log, batchMs: 20 });
}
const hookFlag = () => hook.url;
const events = () => hook.received.map((r) => r.json?.event);

describe("notifier", () => {
  it("sends one JSON notification per transition, with the verdict and counts of the answer", async () => {
    responses.set(task(1).id, { verdict: "needs-revision", blocking_count: 2, nonblocking_count: 1, body: "x" } as TaskResponse);
    responses.set(task(2).id, { verdict: null, blocking_count: 0, nonblocking_count: 0, body: "agent crashed: exit 3\nstack" } as TaskResponse);
    const n = notifier({ rate_limit: { max: 100 } });
    n.observe(completed(1));
    n.observe(failedTask(2));
    n.observe({ type: "vendor.paused", vendor: "claude", kind: "usage-limit", until: "2026-01-01T05:00:00Z", reason: "5-hour limit reached", owner: "d1" });
    n.observe({ type: "dispatcher.stopped", vendor: "claude", owner: "d1", reason: "loop crashed: EIO", exitCode: 1 });
    n.observe(completed(1)); // the same transition again: not resent
    await n.close();
    expect(hook.received).toHaveLength(4);
    const of = (event: string) => hook.received.find((r) => r.json?.event === event)?.json as Record<string, unknown>;
    const [done, failed, paused, stopped] = ["task.completed", "task.failed", "vendor.paused", "dispatcher.stopped"].map(of);
    expect(done).toMatchObject({ event: "task.completed", task_id: task(1).id, lane: "default", verdict: "needs-revision", blocking_count: 2, nonblocking_count: 1, title: "agent-lanes: t1 completed: needs-revision" });
    expect(failed).toMatchObject({ event: "task.failed", text: `Task ${task(2).id} on lane default failed: agent crashed: exit 3` });
    expect(paused).toMatchObject({ event: "vendor.paused", vendor: "claude", kind: "usage-limit", until: "2026-01-01T05:00:00Z" });
    expect(stopped).toMatchObject({ event: "dispatcher.stopped", title: "agent-lanes: dispatcher d1 stopped unexpectedly" });
    expect(hook.received[0]?.headers["content-type"]).toBe("application/json");
  });

  it("handles a burst as one batch, with no store read and nothing written to disk per task", async () => {
    const n = notifier({ rate_limit: { max: 1000 } });
    for (let i = 0; i < 200; i++) n.observe(completed(800 + i));
    await n.close();
    expect(hook.received).toHaveLength(200);
    expect(new Set(hook.received.map((r) => r.json?.task_id)).size).toBe(200);
    // One wake-up for the burst; the answer came with the event (the notifier has no store to read).
    expect(n.stats().batches).toBe(1);
    // Task transitions are unique by the store's one-response rule: no marker file per task.
    expect(await readdir(path.join(queue, "notify", "sent")).catch(() => [])).toEqual([]);
  });

  it("turns a burst of 100 completions into 10 notifications and one digest of the other 90", async () => {
    const n = notifier({ rate_limit: { max: 10, per_seconds: 1 } });
    for (let i = 0; i < 100; i++) n.observe(completed(100 + i, i % 2 ? "a" : "b"));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await n.close();
    expect(events().filter((e) => e === "task.completed")).toHaveLength(10);
    const digests = hook.received.filter((r) => r.json?.event === "digest");
    expect(digests).toHaveLength(1);
    expect(digests[0]?.json).toMatchObject({ title: "agent-lanes: 90 more events", counts: { "task.completed": 90 }, text: "90 completed (lanes: a, b)" });
    expect(n.stats().sinks[`webhook ${hook.url}`]).toEqual({ sent: 11, failed: 0, held: 90 });
  });

  it("close() sends what the rate limit still holds as a digest at once", async () => {
    const n = notifier({ rate_limit: { max: 2, per_seconds: 3600 } });
    for (let i = 0; i < 5; i++) n.observe(completed(300 + i));
    await n.close();
    expect(events().sort()).toEqual(["digest", "task.completed", "task.completed"]);
  });

  it("filters by event and by lane (lanes only filter task events)", async () => {
    const n = notifier({ events: ["task.failed", "vendor.paused"], lanes: ["review"], rate_limit: { max: 100 } });
    n.observe(failedTask(400, "review"));
    n.observe(failedTask(401, "default"));
    n.observe(completed(402, "review"));
    n.observe({ type: "vendor.paused", vendor: "codex", kind: "budget", until: "2026-01-02T00:00:00Z", reason: "daily cost", owner: "d" });
    await n.close();
    expect(hook.received.map((r) => [r.json?.event, r.json?.task_id ?? r.json?.vendor]).sort()).toEqual([
      ["task.failed", task(400).id],
      ["vendor.paused", "codex"],
    ]);
  });

  it("never sends a transition twice across notifiers on the same queue (a restart, a second dispatcher)", async () => {
    const pause: DispatcherEvent = { type: "vendor.paused", vendor: "claude", kind: "usage-limit", until: "2026-03-01T00:00:00Z", reason: "limit", owner: "d1" };
    const first = notifier({});
    first.observe(pause);
    await first.close();
    const second = notifier({});
    second.observe({ ...pause, owner: "d2" });
    second.observe({ ...pause, until: "2026-03-02T00:00:00Z" }); // a new pause is a new transition
    await second.close();
    expect(hook.received.map((r) => r.json?.until).sort()).toEqual(["2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"]);
  });

  it("shapes Slack and Discord payloads, and posts ntfy's text body with a title header", async () => {
    const n = notifier({ rate_limit: { max: 100 } }, [`slack:${hook.url}?s`, `discord:${hook.url}?d`, `ntfy:${hook.url}?n`]);
    n.observe(completed(500));
    await n.close();
    const by = (suffix: string) => hook.received.find((r) => r.path.endsWith(suffix));
    expect(by("?s")?.json).toEqual({ text: `*agent-lanes: t500 completed*\nTask ${task(500).id} on lane default completed. Answer: /ws/r500.md` });
    expect(by("?d")?.json).toEqual({ content: `**agent-lanes: t500 completed**\nTask ${task(500).id} on lane default completed. Answer: /ws/r500.md` });
    expect(by("?n")).toMatchObject({ body: `Task ${task(500).id} on lane default completed. Answer: /ws/r500.md`, headers: { title: "agent-lanes: t500 completed", tags: "white_check_mark" } });
  });

  it("a failing sink is logged once, not per notification, and once more when it works again", async () => {
    hook.mode = "error";
    const n = notifier({ rate_limit: { max: 100 } });
    for (let i = 0; i < 5; i++) n.observe(completed(600 + i));
    await new Promise((resolve) => setTimeout(resolve, 500));
    hook.mode = "ok";
    n.observe(completed(699));
    await n.close();
    expect(warnings).toEqual([`notifications: webhook ${hook.url} failed (HTTP 503 from ${hook.url}: down for maintenance); further failures are not logged until it works again`]);
    expect(infos).toEqual([`notifications: webhook ${hook.url} works again`]);
    expect(n.stats().sinks[`webhook ${hook.url}`]).toMatchObject({ sent: 1, failed: 5 });
  });

  it("a sink that never answers: observe() returns at once and the delivery times out", async () => {
    hook.mode = "hang";
    const n = notifier({ rate_limit: { max: 100 }, timeout_seconds: 0.3 });
    const started = performance.now();
    for (let i = 0; i < 50; i++) n.observe(completed(700 + i));
    expect(performance.now() - started).toBeLessThan(50);
    await n.close();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/failed \(.*(abort|timeout|Timeout).*\)/i);
  });
});

describe("resolveNotifyConfig", () => {
  it("reads sinks, filters, rate limit and timeout, and adds --notify flags", () => {
    const config = resolveNotifyConfig(
      {
        sinks: [{ webhook: "http://127.0.0.1:1/h", format: "slack", events: ["task.failed"] }, { ntfy: "https://ntfy.example/topic" }, { desktop: true, lanes: ["review"] }],
        events: ["task.completed", "task.failed"],
        lanes: ["default"],
        rate_limit: { max: 3, per_seconds: 30 },
        timeout_seconds: 2,
      },
      ["desktop", "discord:http://127.0.0.1:2/d", "http://127.0.0.1:3/j"],
    );
    expect(config).toEqual({
      sinks: [
        { spec: { type: "webhook", url: "http://127.0.0.1:1/h", format: "slack" }, events: ["task.failed"], lanes: ["default"] },
        { spec: { type: "ntfy", url: "https://ntfy.example/topic" }, events: ["task.completed", "task.failed"], lanes: ["default"] },
        { spec: { type: "desktop" }, events: ["task.completed", "task.failed"], lanes: ["review"] },
        { spec: { type: "desktop" }, events: ["task.completed", "task.failed"], lanes: ["default"] },
        { spec: { type: "webhook", url: "http://127.0.0.1:2/d", format: "discord" }, events: ["task.completed", "task.failed"], lanes: ["default"] },
        { spec: { type: "webhook", url: "http://127.0.0.1:3/j", format: "json" }, events: ["task.completed", "task.failed"], lanes: ["default"] },
      ],
      rateLimit: { max: 3, perSeconds: 30 },
      timeoutMs: 2000,
    });
    expect(resolveNotifyConfig(undefined, [])).toBeNull();
  });

  it.each([
    [{ sinks: [{ webhook: "ftp://x" }] }, [], 'handoff.yaml: notify.sinks[0].webhook: expected an http(s) URL, got "ftp://x"'],
    [{ sinks: [{ webhook: "http://x", ntfy: "http://y" }] }, [], "handoff.yaml: notify.sinks[0]: expected exactly one of webhook, ntfy or desktop, got webhook and ntfy"],
    [{ events: ["task.done"] }, ["desktop"], 'handoff.yaml: notify.events: unknown event "task.done" (events: task.completed, task.failed, vendor.paused, dispatcher.stopped)'],
    [{ rate_limit: { max: 0 } }, ["desktop"], "handoff.yaml: notify.rate_limit.max: expected a number > 0, got 0"],
    [{ sinks: [{ webhook: "http://x", format: "teams" }] }, [], 'handoff.yaml: notify.sinks[0].format: expected one of json, slack, discord, got "teams"'],
    [{ sink: [] }, [], "handoff.yaml: notify: unknown keys sink (known: sinks, events, lanes, rate_limit, timeout_seconds)"],
    [undefined, ["mailto:me"], '--notify: expected desktop, ntfy:URL, slack:URL, discord:URL or an http(s) URL, got "mailto:me"'],
  ])("refuses %j %j with one line", (section, flags, message) => {
    expect(() => resolveNotifyConfig(section, flags as string[])).toThrow(message);
  });
});
