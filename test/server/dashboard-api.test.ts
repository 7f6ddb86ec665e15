// The dashboard's HTTP side without a browser: the page and its assets, the
// read API (summary, task detail, runs, pauses, stats), the actions (release,
// retry, cancel, clear a pause) and the `GET /events` stream, over real HTTP
// on a real queue. The browser suite (test/dashboard/) drives the page itself.

import { rename, rm } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { FinishedFactsOptions } from "../../src/store/finished-facts.js";
import { openStore } from "../../src/store/index.js";
import type { ListOptions, Task } from "../../src/store/types.js";
import { setPause } from "../../src/supervisor/pauses.js";
import { writeRunRecord } from "../../src/supervisor/sweep.js";
import { makeWorkspace } from "../helpers/workspace.js";
import { startServer, type Harness } from "./helpers.js";

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

interface Sse {
  events: Array<{ type: string; data: Record<string, unknown> }>;
  status: number;
  close(): void;
}

/** Open `GET /events` and collect every event it sends. */
function openEvents(url: string, headers: Record<string, string> = {}): Promise<Sse> {
  return new Promise((resolve, reject) => {
    const events: Sse["events"] = [];
    const req = http.get(`${url}/events`, { agent: false, headers }, (res) => {
      let buffer = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (type && data) events.push({ type, data: JSON.parse(data) as Record<string, unknown> });
        }
      });
      res.on("error", () => undefined);
      resolve({ events, status: res.statusCode ?? 0, close: () => req.destroy() });
    });
    req.on("error", reject);
  });
}

async function until<T>(read: () => T | undefined, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("the page", () => {
  it("serves the page with a strict CSP and every asset it loads, without the token; data routes still need it", async () => {
    h = await startServer({ token: "t0k" });
    const res = await fetch(`${h.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const page = await res.text();
    const assets = [...page.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1] as string);
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const asset of [...assets, "/assets/vendor/htm-preact.js", "/assets/vendor/marked.js", "/assets/vendor/purify.js", "/assets/vendor/uPlot.js"]) {
      const reply = await fetch(`${h.url}${asset}`);
      expect(reply.status, asset).toBe(200);
      expect((await reply.text()).length, asset).toBeGreaterThan(50);
    }
    // Only listed files: no path from the request reaches the file system.
    for (const path of ["/assets/../package.json", "/assets/vendor/..%2F..%2Fpackage.json", "/assets/nope.js"]) {
      expect((await fetch(`${h.url}${path}`)).status, path).not.toBe(200);
    }
    for (const path of ["/api/summary", "/api/stats", "/api/runs", "/api/pauses", "/events"]) {
      expect((await fetch(`${h.url}${path}`)).status, path).toBe(401);
    }
  });
});

describe("the read API", () => {
  it("summary: counts by lane and state, and the cards of each column", async () => {
    h = await startServer();
    const a = await h.ws.submit({ lane: "review", metadata: { vendor: "claude", effort: "high" } });
    const b = await h.ws.submit({ lane: "review" });
    const c = await h.ws.submit({ lane: "build" });
    const claimed = await h.ws.store.claim(b.id, { owner: "w" });
    await h.ws.store.respond(b.id, { body: "done", claimToken: claimed.claim_token });
    await h.ws.store.claim(c.id, { owner: "w2" });
    const { body } = await h.api("GET", "/api/summary");
    expect(body).toMatchObject({
      total: 3,
      lanes: ["build", "review"],
      counts: { review: { queued: 1, claimed: 0, completed: 1, failed: 0 }, build: { queued: 0, claimed: 1, completed: 0, failed: 0 } },
    });
    const cards = body.cards as Record<string, Array<Record<string, unknown>>>;
    expect(cards.queued?.map((t) => t.id)).toEqual([a.id]);
    expect(cards.queued?.[0]).toMatchObject({ metadata: { vendor: "claude", effort: "high" } });
    expect(cards.claimed?.map((t) => t.id)).toEqual([c.id]);
    expect(cards.recent?.map((t) => t.id)).toEqual([b.id]);
  });

  it("summary and stats follow changes with only the tasks that changed, and are built again when the count of finished tasks says so", async () => {
    let builds = 0;
    h = await startServer({
      // The real store, with its full reads of finished facts counted.
      wrapStore: (store) => ({ ...store, finishedFacts: (o: FinishedFactsOptions) => ((builds += 1), (store.finishedFacts as NonNullable<typeof store.finishedFacts>)(o)) }),
    });
    const finish = async (task: Task, store = h.ws.store): Promise<void> => {
      const claimed = await store.claim(task.id, { owner: "w" });
      await store.respond(task.id, { body: "ok", claimToken: claimed.claim_token, metadata: { vendor: "codex", cost_usd: 0.5 } });
    };
    const completed = async (): Promise<{ n: number; recent: string[]; hourly: number }> => {
      const summary = (await h.api("GET", "/api/summary")).body as { counts: Record<string, { completed: number }>; cards: { recent: Array<{ id: string }> } };
      const stats = (await h.api("GET", "/api/stats")).body as { hours: Array<{ values: Record<string, number> }> };
      return {
        n: summary.counts.default?.completed ?? 0,
        recent: summary.cards.recent.map((t) => t.id),
        hourly: stats.hours.reduce((sum, row) => sum + (row.values.codex ?? 0), 0),
      };
    };
    const a = await h.ws.submit();
    await finish(a);
    expect(await completed()).toEqual({ n: 1, recent: [a.id], hourly: 1 });
    expect(builds).toBe(1);
    // Seen queued, then finished: added to the figures without reading the history again.
    const b = await h.ws.submit();
    expect((await completed()).n).toBe(1);
    await finish(b);
    expect(await completed()).toEqual({ n: 2, recent: [b.id, a.id], hourly: 2 });
    expect(builds).toBe(1);
    // Created and finished by another process between two looks (never seen live): the count is off, so built again.
    const other = openStore(h.ws.queue);
    try {
      const c = await other.create({ workspace_id: "ws", correlation_id: "c", lane: "default", workspace_root: h.ws.root, request_path: a.request_path, response_path: "responses/c.md" });
      await finish(c, other);
      // The server hears of it through its file-system watcher.
      for (let i = 0; (await completed()).n !== 3; i++) {
        if (i > 200) throw new Error("timed out waiting for the third completed task");
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(await completed()).toEqual({ n: 3, recent: [c.id, b.id, a.id], hourly: 3 });
      expect(builds).toBe(2);
    } finally {
      await other.close();
    }
    // A prune: built again, the pruned tasks gone from counts, cards and charts.
    await h.ws.store.prune({ olderThanMs: 0, keepLast: 1, force: true });
    const after = await completed();
    expect(after.n).toBe(1);
    expect(after.recent).toHaveLength(1);
    expect(after.hourly).toBe(1);
    expect(builds).toBe(3);
  });

  it("task detail: task, response, events and the request text", async () => {
    h = await startServer();
    const task = await h.ws.submit({ content: "# Plan\n\nDo the thing.\n" });
    const claimed = await h.ws.store.claim(task.id, { owner: "w" });
    await h.ws.store.respond(task.id, { body: "**ok**", claimToken: claimed.claim_token, verdict: "accept" });
    const { status, body } = await h.api("GET", `/api/tasks/${task.id}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ task: { id: task.id, state: "completed" }, response: { body: "**ok**", verdict: "accept" }, request: { text: "# Plan\n\nDo the thing.\n", truncated: false } });
    expect((body.events as Array<{ type: string }>).map((e) => e.type)).toEqual(["created", "claimed", "response"]);
    expect((await h.api("GET", "/api/tasks/bad..id")).status).toBe(400);
  });

  it("runs: each claimed task with its lease, attempt and the figures its events reported", async () => {
    h = await startServer();
    const task = await h.ws.submit();
    await h.ws.store.claim(task.id, { owner: "disp-1", leaseSeconds: 600 });
    await h.ws.store.appendEvent(task.id, { type: "progress", message: "half way", data: { tokens_in: 100, tokens_out: 20, cost_usd: 0.25 } });
    await writeRunRecord(h.ws.queue, { run_id: "run-1", host: "here", supervisor_pid: process.pid, pgid: process.pid, task_id: task.id, owner: "disp-1", started_at: new Date().toISOString() });
    const { body } = await h.api("GET", "/api/runs");
    expect(body.runs).toEqual([
      expect.objectContaining({ task_id: task.id, owner: "disp-1", attempt: 1, tokens: 120, cost_usd: 0.25, pid: process.pid, host: "here", lease_expires_at: expect.any(String) }),
    ]);
  });

  it("stats: tasks per hour and cost per day by vendor, wait and run time buckets", async () => {
    h = await startServer();
    for (const [vendor, cost] of [["claude", 0.5], ["claude", 0.25], ["codex", 1]] as const) {
      const task = await h.ws.submit();
      const claimed = await h.ws.store.claim(task.id, { owner: "w" });
      await h.ws.store.respond(task.id, { body: "x", claimToken: claimed.claim_token, metadata: { vendor, cost_usd: cost } });
    }
    const { body } = await h.api("GET", "/api/stats");
    expect(body.vendors).toEqual(["claude", "codex"]);
    const hours = body.hours as Array<{ values: Record<string, number> }>;
    const days = body.days as Array<{ values: Record<string, number> }>;
    expect(hours).toHaveLength(14 * 24);
    expect(days).toHaveLength(14);
    expect(hours.at(-1)?.values).toEqual({ claude: 2, codex: 1 });
    expect(days.at(-1)?.values).toEqual({ claude: 0.75, codex: 1 });
    expect((body.wait as Array<{ count: number }>).reduce((n, b) => n + b.count, 0)).toBe(3);
    expect((body.run as Array<{ label: string; count: number }>)[0]).toMatchObject({ label: "<10s", count: 3 });
  });
});

describe("actions", () => {
  it("release hands a stuck claim back; cancel answers a queued task failed 'cancelled by <user>'; retry submits a linked copy", async () => {
    h = await startServer({ user: "alice" });
    const stuck = await h.ws.submit();
    await h.ws.store.claim(stuck.id, { owner: "gone-worker" });
    const released = await h.api("POST", `/api/tasks/${stuck.id}/release`, {});
    expect(released).toMatchObject({ status: 200, body: { task: { state: "queued", claim_owner: null } } });
    expect((await h.ws.store.readEvents(stuck.id)).at(-1)).toMatchObject({ type: "released", data: { reason: "released by alice from the dashboard" } });
    expect((await h.api("POST", `/api/tasks/${stuck.id}/release`, {})).status).toBe(400);

    const cancelled = await h.api("POST", `/api/tasks/${stuck.id}/cancel`, {});
    expect(cancelled).toMatchObject({ status: 200, body: { task: { state: "failed", failure_reason: "cancelled by alice" } } });
    expect(await h.ws.store.getResponse(stuck.id)).toMatchObject({ status: "failed", body: "cancelled by alice" });
    expect((await h.api("POST", `/api/tasks/${stuck.id}/cancel`, {})).status).toBe(400);

    const retried = await h.api("POST", `/api/tasks/${stuck.id}/retry`, {});
    expect(retried.status).toBe(201);
    const copy = retried.body.task as Task;
    expect(copy).toMatchObject({ state: "queued", lane: stuck.lane, request_path: stuck.request_path, correlation_id: `${stuck.correlation_id}-retry-1`, metadata: { retry_of: stuck.id, retried_by: "alice" } });
    const again = await h.api("POST", `/api/tasks/${stuck.id}/retry`, {});
    expect((again.body.task as Task).correlation_id).toBe(`${stuck.correlation_id}-retry-2`);
    // Only a failed task is retried.
    expect((await h.api("POST", `/api/tasks/${copy.id}/retry`, {})).status).toBe(400);
  });

  it("clear a pause: the vendor's pause file goes; clearing none is a 400", async () => {
    h = await startServer();
    await setPause(h.ws.queue, "claude", { until: new Date(Date.now() + 3_600_000), reason: "usage limit", kind: "usage-limit", owner: "d", jitter: false });
    const listed = await h.api("GET", "/api/pauses");
    expect(listed.body.pauses).toEqual([expect.objectContaining({ vendor: "claude", kind: "usage-limit", active: true })]);
    expect(await h.api("POST", "/api/pauses/claude/clear", {})).toMatchObject({ status: 200, body: { ok: true } });
    expect((await h.api("GET", "/api/pauses")).body.pauses).toEqual([]);
    expect((await h.api("POST", "/api/pauses/claude/clear", {})).status).toBe(400);
    expect((await h.api("POST", "/api/pauses/..%2Fetc/clear", {})).status).toBe(400);
  });

  it("actions need the token when one is set, a JSON body, and the server's own origin", async () => {
    h = await startServer({ token: "t0k" });
    const task = await h.ws.submit();
    const auth = { authorization: "Bearer t0k" };
    expect((await h.api("POST", `/api/tasks/${task.id}/cancel`, {})).status).toBe(401);
    expect((await h.api("POST", `/api/tasks/${task.id}/cancel`, {}, { ...auth, origin: "http://evil.example" })).status).toBe(403);
    const form = await fetch(`${h.url}/api/tasks/${task.id}/cancel`, { method: "POST", headers: { ...auth, "content-type": "text/plain" }, body: "{}" });
    expect(form.status).toBe(415);
    expect((await h.ws.store.get(task.id)).state).toBe("queued");
    expect((await h.api("POST", `/api/tasks/${task.id}/cancel`, {}, { ...auth, origin: h.url })).status).toBe(200);
    expect((await h.ws.store.get(task.id)).state).toBe("failed");
  });
});

describe("GET /events", () => {
  it("streams task transitions, pauses and dispatcher runs as they happen", async () => {
    h = await startServer({ safetyPollMs: 200 });
    const sse = await openEvents(h.url);
    expect(sse.status).toBe(200);
    await until(() => sse.events.find((e) => e.type === "hello"), "hello");
    // The feed takes its first look before reporting changes.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const task = await h.ws.submit();
    await until(() => sse.events.find((e) => e.type === "task" && e.data.id === task.id && e.data.state === "queued"), "queued");
    const claimed = await h.ws.store.claim(task.id, { owner: "w" });
    await until(() => sse.events.find((e) => e.type === "task" && e.data.id === task.id && e.data.state === "claimed" && e.data.from === "queued"), "claimed");
    await h.ws.store.respond(task.id, { body: "x", claimToken: claimed.claim_token });
    await until(() => sse.events.find((e) => e.type === "task" && e.data.id === task.id && e.data.state === "completed"), "completed");
    await setPause(h.ws.queue, "codex", { until: new Date(Date.now() + 600_000), reason: "limit", kind: "usage-limit", owner: "d", jitter: false });
    await until(() => sse.events.find((e) => e.type === "pause" && e.data.vendor === "codex" && e.data.active === true), "pause");
    await writeRunRecord(h.ws.queue, { run_id: "run-9", host: "here", supervisor_pid: process.pid, pgid: process.pid, task_id: task.id, owner: "w", started_at: new Date().toISOString() });
    await until(() => sse.events.find((e) => e.type === "dispatcher" && (e.data.started as string[]).includes("run-9")), "dispatcher");
    sse.close();
  });

  it("looks only at live tasks: a task that leaves the live set is read alone to learn where it went", async () => {
    const listings: Array<ListOptions | undefined> = [];
    h = await startServer({
      safetyPollMs: 200,
      // The real store, with its listings recorded: the feed must never list the finished history.
      wrapStore: (store) => ({ ...store, list: (opts?: ListOptions) => (listings.push(opts), store.list(opts)) }),
    });
    const done = await h.ws.submit();
    const claimedDone = await h.ws.store.claim(done.id, { owner: "w" });
    await h.ws.store.respond(done.id, { body: "old", claimToken: claimedDone.claim_token });
    const sse = await openEvents(h.url);
    await until(() => sse.events.find((e) => e.type === "hello"), "hello");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const a = await h.ws.submit();
    const b = await h.ws.submit();
    await until(() => sse.events.find((e) => e.type === "task" && e.data.id === b.id && e.data.state === "queued"), "b queued");
    await h.ws.store.cancel(a.id, { by: "tester" });
    await until(() => sse.events.find((e) => e.type === "task" && e.data.id === a.id && e.data.state === "failed" && e.data.from === "queued"), "a failed");
    // b removed from the queue folder behind the store's back: reported as removed.
    await rm(path.join(h.ws.queue, "tasks", b.id), { recursive: true, force: true });
    await until(() => sse.events.find((e) => e.type === "task" && e.data.id === b.id && e.data.state === "removed" && e.data.from === "queued"), "b removed");
    sse.close();
    expect(listings.length).toBeGreaterThan(0);
    expect(listings.every((opts) => opts?.activeOnly === true)).toBe(true);
    // The finished task from before the stream opened was never reported.
    expect(sse.events.some((e) => e.data.id === done.id)).toBe(false);
  });

  it("reports a task created and finished between two looks (never seen live) once, as a new task in its final state", async () => {
    h = await startServer({ safetyPollMs: 200 });
    await h.ws.submit(); // the queue folder exists
    const sse = await openEvents(h.url);
    await until(() => sse.events.find((e) => e.type === "hello"), "hello");
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Finished in another queue, then moved in whole by one rename: no look can ever see it live.
    const elsewhere = await makeWorkspace();
    try {
      const t = await elsewhere.submit();
      const claimed = await elsewhere.store.claim(t.id, { owner: "w" });
      await elsewhere.store.respond(t.id, { body: "x", claimToken: claimed.claim_token });
      await rename(path.join(elsewhere.queue, "tasks", t.id), path.join(h.ws.queue, "tasks", t.id));
      await until(() => sse.events.find((e) => e.type === "task" && e.data.id === t.id && e.data.state === "completed" && e.data.from === null), "the unseen finished task");
      // Later looks do not send it again.
      const later = await h.ws.submit();
      await until(() => sse.events.find((e) => e.type === "task" && e.data.id === later.id), "a later task");
      const again = await h.ws.store.claim(later.id, { owner: "w" });
      await h.ws.store.respond(later.id, { body: "y", claimToken: again.claim_token });
      await until(() => sse.events.find((e) => e.type === "task" && e.data.id === later.id && e.data.state === "completed"), "the later task completed");
      expect(sse.events.filter((e) => e.data.id === t.id)).toHaveLength(1);
      expect(sse.events.filter((e) => e.data.id === later.id && e.data.state === "completed")).toHaveLength(1);
    } finally {
      sse.close();
      await elsewhere.cleanup();
    }
  });

  it("close() ends open streams", async () => {
    h = await startServer();
    const sse = await openEvents(h.url);
    await until(() => sse.events.find((e) => e.type === "hello"), "hello");
    await h.server.close();
    // The server is closed: a new request cannot connect.
    await expect(fetch(`${h.url}/health`)).rejects.toThrow();
  });
});
