// Long-polls: event-driven wake-ups, timeouts, disconnects, shutdown, and a
// hundred open at once without holding anything else up.

import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";
import type { Task, TaskResponse } from "../../src/store/types.js";
import { activeTimers, openGet, startServer, until, type Harness } from "./helpers.js";

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

/** Baseline of live timers once the store's watcher runs and nothing waits. */
async function timerBaseline(): Promise<number> {
  await h.ws.store.changes();
  await new Promise((resolve) => setTimeout(resolve, 20));
  return activeTimers();
}

describe("GET /tasks/next long-poll", () => {
  it("wakes on a task created by another process in its lane, through the file watcher, not the safety poll", async () => {
    // A safety poll longer than the test: only a file-system event can answer in time.
    h = await startServer({ safetyPollMs: 600_000 });
    const poll = openGet(`${h.url}/tasks/next?lane=x&wait_seconds=25`);
    await until(() => h.server.activeLongPolls() === 1, "the long-poll to register");
    const other = openStore(h.ws.queue);
    try {
      const request = await h.ws.file("requests/other.md");
      const elsewhere = { workspace_id: "ws", workspace_root: h.ws.root, request_path: request, response_path: "out.md" };
      await other.create({ ...elsewhere, correlation_id: "y", lane: "y" });
      const wanted = await other.create({ ...elsewhere, correlation_id: "x", lane: "x" });
      const { status, body } = await poll.done;
      expect(status).toBe(200);
      expect((body.task as Task).id).toBe(wanted.id);
    } finally {
      await other.close();
    }
    expect(h.server.activeLongPolls()).toBe(0);
  });

  it("answers at once when a task is already queued", async () => {
    h = await startServer({ safetyPollMs: 600_000 });
    const task = await h.ws.submit({ lane: "x" });
    const reply = await h.api("GET", "/tasks/next?lane=x&wait_seconds=25");
    expect((reply.body.task as Task).id).toBe(task.id);
  });

  it("answers {task: null} when time runs out, and caps wait_seconds", async () => {
    h = await startServer({ maxWaitSeconds: 0.05 });
    await h.ws.submit({ lane: "other" });
    const reply = await h.api("GET", "/tasks/next?lane=x&wait_seconds=999999");
    expect(reply).toMatchObject({ status: 200, body: { task: null } });
    expect(h.server.activeLongPolls()).toBe(0);
  });
});

describe("GET /tasks/<id>/response long-poll", () => {
  it("returns the response as soon as it is written", async () => {
    h = await startServer();
    const task = await h.ws.submit();
    const poll = openGet(`${h.url}/tasks/${task.id}/response?wait_seconds=25`);
    await until(() => h.server.activeLongPolls() === 1, "the long-poll to register");
    expect((await h.api("POST", `/tasks/${task.id}/response`, { body: "done" })).status).toBe(200);
    const { status, body } = await poll.done;
    expect(status).toBe(200);
    expect((body.response as TaskResponse).body).toBe("done");
  });

  it("408 when time runs out", async () => {
    h = await startServer();
    const task = await h.ws.submit();
    const reply = await h.api("GET", `/tasks/${task.id}/response?wait_seconds=0.05`);
    expect(reply).toMatchObject({ status: 408, body: { error: `no response for task ${task.id} within 0.05 s` } });
  });
});

describe("ending long-polls", () => {
  it("a client that disconnects ends its long-poll, leaving no timer behind", async () => {
    h = await startServer();
    const task = await h.ws.submit({ lane: "busy" });
    const baseline = await timerBaseline();
    const polls = [
      openGet(`${h.url}/tasks/next?lane=idle&wait_seconds=25`),
      openGet(`${h.url}/tasks/next?lane=idle&wait_seconds=25`),
      openGet(`${h.url}/tasks/${task.id}/response?wait_seconds=25`),
    ];
    await until(() => h.server.activeLongPolls() === 3, "three long-polls to register");
    expect(activeTimers()).toBeGreaterThan(baseline);
    for (const poll of polls) poll.abort();
    for (const poll of polls) await expect(poll.done).rejects.toThrow();
    await until(() => h.server.activeLongPolls() === 0, "the long-polls to end");
    await until(() => activeTimers() <= baseline, `timers back to the baseline of ${baseline}`);
  });

  it("close() ends pending long-polls with 503 and resolves", async () => {
    h = await startServer();
    const task = await h.ws.submit();
    const polls = [
      openGet(`${h.url}/tasks/next?lane=idle&wait_seconds=25`),
      openGet(`${h.url}/tasks/${task.id}/response?wait_seconds=25`),
    ];
    await until(() => h.server.activeLongPolls() === 2, "two long-polls to register");
    await h.server.close();
    for (const poll of polls) expect(await poll.done).toEqual({ status: 503, body: { error: "server is shutting down" } });
    expect(h.server.activeLongPolls()).toBe(0);
    await expect(h.api("GET", "/health")).rejects.toThrow();
  });

  it("a hundred open long-polls hold up nothing, and disconnecting them leaves nothing running", async () => {
    h = await startServer();
    const baseline = await timerBaseline();
    const polls = Array.from({ length: 100 }, () => openGet(`${h.url}/tasks/next?lane=x&wait_seconds=30`));
    await until(() => h.server.activeLongPolls() === 100, "a hundred long-polls to register");
    const settled = polls.map(() => false);
    polls.forEach((poll, i) => poll.done.then(() => (settled[i] = true), () => (settled[i] = true)));

    // A whole trip on another lane completes while all hundred still wait.
    const request = await h.ws.file("requests/y.md");
    const create = await h.api("POST", "/tasks", {
      workspace_id: "ws", correlation_id: "y", lane: "y", workspace_root: h.ws.root, request_path: request, response_path: "y.md",
    });
    expect(create.status).toBe(201);
    const id = (create.body.task as Task).id;
    expect(((await h.api("GET", "/tasks/next?lane=y&wait_seconds=5")).body.task as Task).id).toBe(id);
    const claim = await h.api("POST", `/tasks/${id}/claim`, { owner: "w" });
    const token = (claim.body.task as Task).claim_token;
    expect((await h.api("POST", `/tasks/${id}/response`, { claim_token: token, body: "ok" })).status).toBe(200);
    expect((await h.api("GET", `/tasks/${id}/response?wait_seconds=5`)).status).toBe(200);
    expect((await h.ws.store.get(id)).state).toBe("completed");

    expect(h.server.activeLongPolls()).toBe(100);
    expect(settled.every((done) => !done)).toBe(true);

    for (const poll of polls) poll.abort();
    await Promise.allSettled(polls.map((poll) => poll.done));
    await until(() => h.server.activeLongPolls() === 0, "the hundred long-polls to end");
    await until(() => activeTimers() <= baseline, `timers back to the baseline of ${baseline}`);
    expect((await h.api("GET", "/health")).body).toEqual({ status: "ok", long_polls: 0 });
  });
});
