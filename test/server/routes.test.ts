// Every route of PROTOCOL.md §8 and its error statuses, over real HTTP.

import { afterEach, describe, expect, it } from "vitest";
import type { Task, TaskResponse } from "../../src/store/types.js";
import { startServer, type Harness } from "./helpers.js";

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

/** A valid POST /tasks body over the harness workspace. */
async function taskBody(extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const request = await h.ws.file("requests/review.md", "please review\n");
  return {
    workspace_id: "ws",
    correlation_id: "review-1",
    lane: "default",
    workspace_root: h.ws.root,
    request_path: request,
    response_path: "responses/review.md",
    ...extra,
  };
}

async function created(extra: Record<string, unknown> = {}): Promise<Task> {
  const reply = await h.api("POST", "/tasks", await taskBody(extra));
  expect(reply.status).toBe(201);
  return reply.body.task as Task;
}

describe("the task flow", () => {
  it("create → next → claim → event → respond → response, and the store agrees", async () => {
    h = await startServer();
    const task = await created({ prompt: "look closely", metadata: { effort: "high" }, source_agent: "orch" });
    expect(task).toMatchObject({ lane: "default", state: "queued", prompt: "look closely", metadata: { effort: "high" }, source_agent: "orch" });

    const next = await h.api("GET", "/tasks/next?lane=default");
    expect(next.status).toBe(200);
    expect((next.body.task as Task).id).toBe(task.id);

    const claim = await h.api("POST", `/tasks/${task.id}/claim`, { owner: "reviewer-7", lease_seconds: 60 });
    expect(claim.status).toBe(200);
    const claimed = claim.body.task as Task;
    expect(claimed).toMatchObject({ state: "claimed", claim_owner: "reviewer-7" });
    expect(claimed.claim_token).toMatch(/^[0-9a-f]{32}$/);

    const event = await h.api("POST", `/tasks/${task.id}/events`, { type: "progress", message: "half way", data: { pct: 50 } });
    expect(event).toMatchObject({ status: 200, body: { ok: true } });

    const respond = await h.api("POST", `/tasks/${task.id}/response`, {
      claim_token: claimed.claim_token,
      body: "looks good\n",
      reviewer: "reviewer-7",
      verdict: "accept-with-follow-ups",
      nonblocking_count: 2,
      follow_up_required: true,
      expect_sha256: task.request_sha256,
      metadata: { model_used: "x" },
    });
    expect(respond.status).toBe(200);
    expect(respond.body.response).toMatchObject({ task_id: task.id, status: "completed", body: "looks good\n", verdict: "accept-with-follow-ups" });

    const response = await h.api("GET", `/tasks/${task.id}/response`);
    expect(response.status).toBe(200);
    expect((response.body.response as TaskResponse).body).toBe("looks good\n");

    const after = await h.api("GET", `/tasks/${task.id}`);
    expect((after.body.task as Task).state).toBe("completed");

    // The queue on disk, read through a store, says the same.
    const stored = await h.ws.store.get(task.id);
    expect(stored).toMatchObject({ state: "completed", claim_owner: "reviewer-7" });
    const onDisk = await h.ws.store.getResponse(task.id);
    expect(onDisk).toMatchObject({ reviewer: "reviewer-7", nonblocking_count: 2, follow_up_required: true, metadata: { model_used: "x" } });
    const events = await h.ws.store.readEvents(task.id);
    expect(events.map((e) => e.type)).toEqual(["created", "claimed", "progress", "response"]);
    expect(events[2]).toMatchObject({ message: "half way", data: { pct: 50 } });
    expect((await h.api("GET", "/tasks/next?lane=default")).body).toEqual({ task: null });
  });

  it("release hands a claimed task back to the queue", async () => {
    h = await startServer();
    const task = await created();
    const claimed = (await h.api("POST", `/tasks/${task.id}/claim`, {})).body.task as Task;
    expect(claimed.claim_owner).toBe("worker");
    const wrong = await h.api("POST", `/tasks/${task.id}/release`, { claim_token: "nope" });
    expect(wrong).toMatchObject({ status: 400, body: { error: "claim token does not match active lease" } });
    const released = await h.api("POST", `/tasks/${task.id}/release`, { claim_token: claimed.claim_token, reason: "not mine" });
    expect(released.status).toBe(200);
    expect(released.body.task).toMatchObject({ state: "queued", claim_token: null });
    expect((await h.ws.store.readEvents(task.id)).at(-1)).toMatchObject({ type: "released", data: { reason: "not mine" } });
  });

  it("GET /health answers ok", async () => {
    h = await startServer();
    expect(await h.api("GET", "/health")).toMatchObject({ status: 200, body: { status: "ok", long_polls: 0 } });
  });
});

describe("400: bad input and broken rules", () => {
  it("names a missing field", async () => {
    h = await startServer();
    const body = await taskBody();
    delete body.lane;
    expect(await h.api("POST", "/tasks", body)).toMatchObject({ status: 400, body: { error: "missing field: lane" } });
    expect(await h.api("POST", "/tasks", {})).toMatchObject({ status: 400, body: { error: "missing field: workspace_id" } });
    expect((await h.api("POST", "/tasks/x/response", {})).body).toEqual({ error: "missing field: body" });
    expect((await h.api("POST", "/tasks/x/release", {})).body).toEqual({ error: "missing field: claim_token" });
    expect((await h.api("GET", "/tasks/next")).body.error).toContain("missing field: lane");
  });

  it.each([
    ["lane", 5],
    ["metadata", ["a"]],
    ["supporting_paths", "one.md"],
    ["prompt", { text: "x" }],
    ["worktree_path", false],
  ])("names the field of a wrong type: %s", async (field, value) => {
    h = await startServer();
    const reply = await h.api("POST", "/tasks", await taskBody({ [field]: value }));
    expect(reply.status).toBe(400);
    expect(reply.body.error).toContain(`\`${field}\``);
    expect(await h.ws.store.list()).toEqual([]);
  });

  it("names the field of a wrong type in claim, events and respond bodies", async () => {
    h = await startServer();
    const task = await created();
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ["claim", { lease_seconds: "60" }, "lease_seconds"],
      ["claim", { owner: 7 }, "owner"],
      ["events", { data: [1] }, "data"],
      ["events", { type: 1 }, "type"],
      ["response", { body: "x", blocking_count: "1" }, "blocking_count"],
      ["response", { body: "x", follow_up_required: "yes" }, "follow_up_required"],
      ["response", { body: 42 }, "body"],
    ];
    for (const [route, body, field] of cases) {
      const reply = await h.api("POST", `/tasks/${task.id}/${route}`, body);
      expect(reply.status, `${route} ${JSON.stringify(body)}`).toBe(400);
      expect(reply.body.error).toContain(`\`${field}\``);
    }
    expect((await h.ws.store.get(task.id)).state).toBe("queued");
  });

  it("names the supporting path entry that is not a path", async () => {
    h = await startServer();
    const reply = await h.api("POST", "/tasks", await taskBody({ supporting_paths: ["a.md", 3] }));
    expect(reply.body.error).toContain("`supporting_paths[1]`");
  });

  it("refuses invalid JSON and bodies that are not objects", async () => {
    h = await startServer();
    expect(await h.api("POST", "/tasks", "{not json")).toMatchObject({ status: 400 });
    expect((await h.api("POST", "/tasks", "{not json")).body.error).toMatch(/^invalid JSON body/);
    for (const [text, kind] of [["[1,2]", "array"], ['"text"', "string"], ["null", "null"], ["12", "number"]]) {
      const reply = await h.api("POST", "/tasks", text);
      expect(reply.status).toBe(400);
      expect(reply.body.error).toBe(`request body must be a JSON object, got ${kind}`);
    }
  });

  it("says `invalid task_id` for a malformed id and `unknown task: <id>` for a missing one", async () => {
    h = await startServer();
    for (const [method, path] of [
      ["GET", "/tasks/bad..id"],
      ["GET", "/tasks/..%2F..%2Fetc"],
      ["GET", "/tasks/-leading-dash/response"],
      ["POST", "/tasks/a%20b/claim"],
      ["POST", "/tasks/%E0%A4%A/events"],
    ] as const) {
      const reply = await h.api(method, path, method === "POST" ? {} : undefined);
      expect(reply.status, path).toBe(400);
      expect(reply.body.error, path).toContain("invalid task_id");
    }
    for (const [method, path] of [
      ["GET", "/tasks/20260101T000000000000Z-gone-000000000000"],
      ["POST", "/tasks/20260101T000000000000Z-gone-000000000000/claim"],
      ["POST", "/tasks/20260101T000000000000Z-gone-000000000000/events"],
      ["POST", "/tasks/20260101T000000000000Z-gone-000000000000/response"],
      ["GET", "/tasks/20260101T000000000000Z-gone-000000000000/response"],
    ] as const) {
      const reply = await h.api(method, path, method === "POST" ? { body: "x", claim_token: "t" } : undefined);
      expect(reply.status, path).toBe(400);
      expect(reply.body.error, path).toBe("unknown task: 20260101T000000000000Z-gone-000000000000");
    }
  });

  it("passes the store's rule messages through", async () => {
    h = await startServer();
    const outside = await h.api("POST", "/tasks", await taskBody({ response_path: "/etc/passwd" }));
    expect(outside.status).toBe(400);
    expect(outside.body.error).toContain("is outside workspace_root");

    const task = await created();
    expect((await h.api("POST", `/tasks/${task.id}/claim`, { owner: "a" })).status).toBe(200);
    const taken = await h.api("POST", `/tasks/${task.id}/claim`, { owner: "b" });
    expect(taken).toMatchObject({ status: 400, body: { error: `cannot claim ${task.id}; active lease held by a` } });
    const noToken = await h.api("POST", `/tasks/${task.id}/response`, { body: "x" });
    expect(noToken.body.error).toBe("claim token does not match active lease");
    const verdict = await h.api("POST", `/tasks/${task.id}/response`, { body: "x", verdict: "maybe" });
    expect(verdict.status).toBe(400);
    expect(verdict.body.error).toContain("verdict");
  });

  it("validates wait_seconds", async () => {
    h = await startServer();
    const task = await created();
    for (const path of ["/tasks/next?lane=default&wait_seconds=soon", `/tasks/${task.id}/response?wait_seconds=-1`]) {
      const reply = await h.api("GET", path);
      expect(reply.status, path).toBe(400);
      expect(reply.body.error).toContain("`wait_seconds`");
    }
  });
});

describe("404, 405, 408, 413 and 500", () => {
  it("404 for an unknown route, 405 with Allow for a wrong method", async () => {
    h = await startServer();
    for (const path of ["/nowhere", "/task", "/tasks/", "/tasks/x/claim/more", "/tasks/x/renew"]) {
      const reply = await h.api("GET", path);
      expect(reply.status, path).toBe(404);
      expect(reply.body.error).toContain("no such route");
    }
    const cases: Array<[string, string, string]> = [
      ["DELETE", "/tasks", "GET, POST"],
      ["DELETE", "/tasks/x", "GET"],
      ["GET", "/tasks/x/claim", "POST"],
      ["PUT", "/tasks/x/response", "GET, POST"],
      ["POST", "/tasks/next", "GET"],
      ["POST", "/health", "GET"],
    ];
    for (const [method, path, allow] of cases) {
      const reply = await h.api(method, path);
      expect(reply.status, `${method} ${path}`).toBe(405);
      expect(reply.headers.get("allow")).toBe(allow);
    }
  });

  it("408 when there is no response (yet)", async () => {
    h = await startServer();
    const task = await created();
    const reply = await h.api("GET", `/tasks/${task.id}/response`);
    expect(reply).toMatchObject({ status: 408, body: { error: `no response for task ${task.id} within 0 s` } });
  });

  it("413 for a body over 1 MiB; a body of exactly 1 MiB is read", async () => {
    h = await startServer();
    const task = await created();
    const envelope = JSON.stringify({ type: "note", message: "" });
    const exact = JSON.stringify({ type: "note", message: "m".repeat(1024 * 1024 - envelope.length) });
    expect(Buffer.byteLength(exact)).toBe(1024 * 1024);
    expect((await h.api("POST", `/tasks/${task.id}/events`, exact)).status).toBe(200);
    const over = `${exact} `;
    const reply = await h.api("POST", `/tasks/${task.id}/events`, over);
    expect(reply).toMatchObject({ status: 413, body: { error: "request body is larger than 1048576 bytes" } });
    expect((await h.ws.store.readEvents(task.id)).length).toBe(2);
    // The connection that carried the oversized body is still good for the next request.
    expect((await h.api("GET", "/health")).status).toBe(200);
  });

  it("413 and a closed connection for a body declared far over the limit", async () => {
    h = await startServer({ maxBodyBytes: 100, maxDrainBytes: 1000 });
    const reply = await h.api("POST", "/tasks", JSON.stringify({ pad: "x".repeat(2000) }));
    expect(reply.status).toBe(413);
    expect(reply.headers.get("connection")).toBe("close");
  });

  it("500 with a generic message for an unexpected failure, logged with its cause", async () => {
    const failing = await startServer();
    await failing.stop();
    h = await startServer({
      store: { ...failing.ws.store, get: () => Promise.reject(new Error("disk on fire")) },
    });
    const reply = await h.api("GET", "/tasks/some-id");
    expect(reply.status).toBe(500);
    expect(reply.body.error).not.toContain("disk on fire");
    expect(h.logs.some((line) => line.level === 50 && JSON.stringify(line).includes("disk on fire"))).toBe(true);
  });
});

describe("request logging", () => {
  it("logs method, url, status and duration of each request at debug level", async () => {
    h = await startServer();
    await h.api("GET", "/health");
    await h.api("GET", "/nowhere");
    await new Promise((resolve) => setImmediate(resolve));
    const lines = h.logs.filter((line) => line.msg === "request");
    expect(lines).toEqual([
      expect.objectContaining({ level: 20, method: "GET", url: "/health", status: 200, ms: expect.any(Number) }),
      expect.objectContaining({ level: 20, method: "GET", url: "/nowhere", status: 404 }),
    ]);
  });
});

describe("the Python server's words and the task list", () => {
  it("takes the legacy checkpoint_id as the correlation id, as the Python server does", async () => {
    h = await startServer();
    const body = await taskBody({ checkpoint_id: "legacy-7" });
    delete body.correlation_id;
    const reply = await h.api("POST", "/tasks", body);
    expect(reply.status).toBe(201);
    expect(reply.body.task).toMatchObject({ correlation_id: "legacy-7" });
    // correlation_id wins when both are given.
    const both = await h.api("POST", "/tasks", await taskBody({ correlation_id: "new-name", checkpoint_id: "old-name" }));
    expect(both.body.task).toMatchObject({ correlation_id: "new-name" });
    const neither = await taskBody();
    delete neither.correlation_id;
    expect(await h.api("POST", "/tasks", neither)).toMatchObject({ status: 400, body: { error: "missing field: correlation_id" } });
  });

  it("GET /tasks lists newest first, filtered by state and lane, a page at a time with a cursor", async () => {
    h = await startServer();
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await h.ws.submit({ correlation_id: `list-${i}`, lane: i % 2 === 0 ? "even" : "odd" })).id);
    await h.ws.store.claim(ids[4] as string, { owner: "w" });
    const all = await h.api("GET", "/tasks");
    expect((all.body.tasks as Task[]).map((t) => t.id)).toEqual([...ids].reverse());
    expect(all.body.next_cursor).toBeNull();
    const even = await h.api("GET", "/tasks?lane=even&state=queued");
    expect((even.body.tasks as Task[]).map((t) => t.id)).toEqual([ids[2], ids[0]]);
    const pages: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<Harness["api"]>> = await h.api("GET", `/tasks?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect((page.body.tasks as Task[]).length).toBeLessThanOrEqual(2);
      pages.push(...(page.body.tasks as Task[]).map((t) => t.id));
      cursor = page.body.next_cursor as string | null;
    } while (cursor);
    expect(pages).toEqual([...ids].reverse());
    for (const bad of ["state=done", "limit=0", "limit=abc", "limit=0x10", "cursor=%%%"]) {
      const reply = await h.api("GET", `/tasks?${bad}`);
      expect(reply.status, bad).toBe(400);
    }
  });
});
