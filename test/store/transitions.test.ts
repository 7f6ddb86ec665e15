import { mkdir, readFile, stat, writeFile, rm, symlink, readdir } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StoreError, openStore } from "../../src/store/index.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await makeWorkspace();
});
afterEach(async () => {
  await ws.cleanup();
});

const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;

describe("create", () => {
  it("writes task.json, the created event and the correlation index with 0600 files in 0700 folders", async () => {
    const task = await ws.submit({ correlation_id: "Review API!", metadata: { effort: "high" }, prompt: "look" });
    expect(task.id).toMatch(/^\d{8}T\d{12}Z-Review-API-[0-9a-f]{12}$/);
    expect(task.state).toBe("queued");
    const dir = path.join(ws.queue, "tasks", task.id);
    expect(await mode(ws.queue)).toBe(0o700);
    expect(await mode(path.join(ws.queue, "tasks"))).toBe(0o700);
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(path.join(dir, "task.json"))).toBe(0o600);
    expect(await mode(path.join(dir, "events.jsonl"))).toBe(0o600);
    expect(await mode(path.join(ws.queue, "lock"))).toBe(0o600);
    const index = JSON.parse(await readFile(path.join(ws.queue, "indexes", "correlations", "ws--Review-API.json"), "utf8"));
    expect(index).toEqual({ workspace_id: "ws", correlation_id: "Review API!", task_id: task.id, updated_at: task.created_at });
    const events = await ws.store.readEvents(task.id);
    expect(events.map((e) => [e.type, e.data])).toEqual([["created", { lane: "default" }]]);
    expect(await readdir(dir)).toEqual(["events.jsonl", "task.json"]);
  });

  it("stores absolute resolved paths and hashes supporting files", async () => {
    const support = await ws.file("docs/spec.md", "spec\n");
    const task = await ws.submit({ supporting_paths: [support, { path: "docs/spec.md" }] });
    expect(path.isAbsolute(task.request_path)).toBe(true);
    expect(task.response_path.startsWith(ws.root)).toBe(true);
    expect(task.supporting_paths).toHaveLength(2);
    expect(task.supporting_paths[0]).toEqual({ path: support, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it.each([
    ["request_path", { request_path: "/etc/hostname" }],
    ["response_path", { response_path: "../outside.md" }],
    ["supporting_paths", { supporting_paths: ["/etc/hostname"] }],
  ])("refuses a %s outside workspace_root", async (field, overrides) => {
    await expect(ws.submit(overrides)).rejects.toThrow(new RegExp(`${field} is outside workspace_root`));
  });

  it("refuses a symlink that points out of the workspace", async () => {
    await symlink("/etc", path.join(ws.root, "escape"));
    await expect(ws.submit({ response_path: "escape/x.md" })).rejects.toThrow(/response_path is outside workspace_root/);
  });

  it("refuses a missing request file and an invalid parent_task_id", async () => {
    await expect(ws.submit({ request_path: path.join(ws.root, "nope.md") })).rejects.toThrow(/request_path does not exist/);
    await expect(ws.submit({ metadata: { parent_task_id: "../x" } })).rejects.toThrow(/invalid task_id/);
  });

  it("gives tasks created in a burst distinct, ordered ids", async () => {
    const request = await ws.file("same.md", "same\n");
    const tasks = [];
    for (let i = 0; i < 20; i++) tasks.push(await ws.submit({ request_path: request, correlation_id: "same" }));
    const ids = tasks.map((t) => t.id);
    expect(new Set(ids).size).toBe(20);
    expect([...ids].sort()).toEqual(ids);
  });
});

describe("claim", () => {
  it("sets owner, token, claimed_at and the lease, and appends a claimed event", async () => {
    const task = await ws.submit();
    const claimed = await ws.store.claim(task.id, { owner: "bot", leaseSeconds: 60 });
    expect(claimed.state).toBe("claimed");
    expect(claimed.claim_owner).toBe("bot");
    expect(claimed.claim_token).toMatch(/^[0-9a-f]{32}$/);
    const lease = Date.parse(claimed.lease_expires_at ?? "") - Date.parse(claimed.claimed_at ?? "");
    expect(lease).toBeGreaterThanOrEqual(59_000);
    expect(lease).toBeLessThanOrEqual(61_000);
    expect((await ws.store.readEvents(task.id)).at(-1)).toMatchObject({ type: "claimed", data: { owner: "bot" } });
  });

  it("refuses a live lease, naming the holder", async () => {
    const task = await ws.submit();
    await ws.store.claim(task.id, { owner: "first" });
    await expect(ws.store.claim(task.id, { owner: "second" })).rejects.toThrow(`cannot claim ${task.id}; active lease held by first`);
  });

  it("reclaims a stale lease with a new token", async () => {
    let now = new Date("2026-11-24T05:00:00Z");
    const store = openStore(ws.queue, { now: () => now });
    const task = await ws.submit();
    const first = await store.claim(task.id, { owner: "dead", leaseSeconds: 10 });
    now = new Date("2026-11-24T05:00:11Z");
    const second = await store.claim(task.id, { owner: "alive", leaseSeconds: 10 });
    expect(second.claim_owner).toBe("alive");
    expect(second.claim_token).not.toBe(first.claim_token);
    await expect(store.renew(task.id, { claimToken: first.claim_token ?? "" })).rejects.toThrow("claim token does not match active lease");
    await store.close();
  });

  it("refuses terminal tasks", async () => {
    const done = await ws.submit();
    await ws.store.respond(done.id, { body: "ok" });
    await expect(ws.store.claim(done.id, { owner: "x" })).rejects.toThrow(`cannot claim ${done.id}; task is completed`);
    const failed = await ws.submit();
    await ws.store.respond(failed.id, { body: "no", status: "failed" });
    await expect(ws.store.claim(failed.id, { owner: "x" })).rejects.toThrow(`cannot claim ${failed.id}; task is failed`);
  });

  it("refuses a request changed or removed since submit", async () => {
    const changed = await ws.submit();
    await writeFile(changed.request_path, "edited\n");
    await expect(ws.store.claim(changed.id, { owner: "x" })).rejects.toThrow(/^request hash mismatch/);
    const missing = await ws.submit();
    await rm(missing.request_path);
    await expect(ws.store.claim(missing.id, { owner: "x" })).rejects.toThrow(/^request source is missing/);
    expect((await ws.store.get(changed.id)).state).toBe("queued");
  });

  it("regression (fuzz seed 354016838): a request path that became a folder is a StoreError naming it, not a raw EISDIR", async () => {
    const task = await ws.submit();
    await rm(task.request_path);
    await mkdir(task.request_path);
    const folder = `request_path of task ${task.id} is a folder, not a file: ${task.request_path} (restore the request file or resubmit the task)`;
    const claim = await ws.store.claim(task.id, { owner: "x" }).then(() => null, (e: unknown) => e);
    expect(claim).toBeInstanceOf(StoreError);
    expect((claim as StoreError).message).toBe(folder);
    expect((await ws.store.get(task.id)).state).toBe("queued");
    // As for any unreadable request: a completion is refused naming why, a failure is recorded.
    await expect(ws.store.respond(task.id, { body: "x", claimToken: null })).rejects.toThrow(`request changed before response for ${task.id}: ${folder}`);
    const failed = await ws.store.respond(task.id, { body: "could not read it", claimToken: null, status: "failed" });
    expect(failed.task.state).toBe("failed");
  });

  it("refuses unknown and invalid ids", async () => {
    await expect(ws.store.claim("20261124T000000000000Z-none-000000000000", { owner: "x" })).rejects.toThrow(
      "unknown task: 20261124T000000000000Z-none-000000000000",
    );
    for (const bad of ["../x", "a/b", ".hidden", ""]) {
      await expect(ws.store.claim(bad, { owner: "x" })).rejects.toThrow(/invalid task_id/);
      await expect(ws.store.get(bad)).rejects.toThrow(/invalid task_id/);
    }
  });
});

describe("renew and release", () => {
  it("renew moves the lease and records the owner", async () => {
    let now = new Date("2026-11-24T05:00:00Z");
    const store = openStore(ws.queue, { now: () => now });
    const task = await ws.submit();
    const claimed = await store.claim(task.id, { owner: "bot", leaseSeconds: 10 });
    now = new Date("2026-11-24T05:00:05Z");
    const renewed = await store.renew(task.id, { claimToken: claimed.claim_token ?? "", leaseSeconds: 10 });
    expect(renewed.lease_expires_at).toBe("2026-11-24T05:00:15Z");
    expect((await store.readEvents(task.id)).at(-1)).toMatchObject({ type: "renewed", data: { owner: "bot" } });
    await store.close();
  });

  it("renew and release refuse a wrong token and a task that is not claimed", async () => {
    const task = await ws.submit();
    await expect(ws.store.renew(task.id, { claimToken: "x" })).rejects.toThrow(`cannot renew ${task.id}; task is queued`);
    await expect(ws.store.release(task.id, { claimToken: "x" })).rejects.toThrow(`cannot release ${task.id}; task is queued`);
    await ws.store.claim(task.id, { owner: "bot" });
    await expect(ws.store.renew(task.id, { claimToken: "wrong" })).rejects.toThrow("claim token does not match active lease");
    await expect(ws.store.release(task.id, { claimToken: "wrong" })).rejects.toThrow("claim token does not match active lease");
  });

  it("release puts the task back to queued with the claim fields nulled", async () => {
    const task = await ws.submit();
    const claimed = await ws.store.claim(task.id, { owner: "bot" });
    const released = await ws.store.release(task.id, { claimToken: claimed.claim_token ?? "", reason: "shutting down" });
    expect(released).toMatchObject({ state: "queued", claim_owner: null, claim_token: null, claimed_at: null, lease_expires_at: null });
    expect((await ws.store.readEvents(task.id)).at(-1)).toMatchObject({ type: "released", data: { reason: "shutting down" } });
    expect((await ws.store.next("default"))?.id).toBe(task.id);
  });
});

describe("respond", () => {
  it("answers a claimed task with a verdict and writes response.json", async () => {
    const task = await ws.submit();
    const claimed = await ws.store.claim(task.id, { owner: "bot" });
    const { task: done, response } = await ws.store.respond(task.id, {
      claimToken: claimed.claim_token,
      body: "two issues",
      reviewer: "codex",
      verdict: "needs-revision",
      blockingCount: 2,
      nonblockingCount: 1,
      followUpRequired: true,
      expectSha256: task.request_sha256,
      metadata: { model_used: "x" },
    });
    expect(done.state).toBe("completed");
    expect(done.completed_at).not.toBeNull();
    expect(response).toMatchObject({
      task_id: task.id,
      reviewer: "codex",
      status: "completed",
      verdict: "needs-revision",
      blocking_count: 2,
      nonblocking_count: 1,
      follow_up_required: true,
      reviewed_request_sha256: task.request_sha256,
      request_changed_before_response: false,
      metadata: { model_used: "x" },
    });
    expect(await mode(path.join(ws.queue, "tasks", task.id, "response.json"))).toBe(0o600);
    expect((await ws.store.readEvents(task.id)).at(-1)).toMatchObject({ type: "response", data: { reviewer: "codex" } });
  });

  it("answers a queued task without a token; a failed response records the reason", async () => {
    const task = await ws.submit();
    const { task: failed } = await ws.store.respond(task.id, { body: "could not run", status: "failed" });
    expect(failed).toMatchObject({ state: "failed", failure_reason: "could not run" });
    expect(failed.failed_at).not.toBeNull();
  });

  it("refuses what §5 refuses", async () => {
    const task = await ws.submit();
    const claimed = await ws.store.claim(task.id, { owner: "bot" });
    await expect(ws.store.respond(task.id, { body: "x" })).rejects.toThrow("claim token does not match active lease");
    await expect(ws.store.respond(task.id, { body: "x", claimToken: "nope" })).rejects.toThrow("claim token does not match active lease");
    await expect(ws.store.respond(task.id, { body: "x", claimToken: claimed.claim_token, expectSha256: "abc" })).rejects.toThrow(
      /^reviewed request hash does not match task/,
    );
    await expect(ws.store.respond(task.id, { body: "x", claimToken: claimed.claim_token, blockingCount: 1, verdict: "accept" })).rejects.toThrow(
      "blocking-count > 0 requires verdict needs-revision",
    );
    await expect(ws.store.respond(task.id, { body: "x", claimToken: claimed.claim_token, blockingCount: 1 })).rejects.toThrow(
      "blocking-count > 0 requires verdict needs-revision",
    );
    await ws.store.respond(task.id, { body: "x", claimToken: claimed.claim_token });
    await expect(ws.store.respond(task.id, { body: "again" })).rejects.toThrow(`task is already completed: ${task.id}`);
    const failed = await ws.submit();
    await ws.store.respond(failed.id, { body: "x", status: "failed" });
    await expect(ws.store.respond(failed.id, { body: "again" })).rejects.toThrow(`task is failed: ${failed.id}`);
  });

  it("a changed request blocks a completed response but is recorded on a failed one", async () => {
    const task = await ws.submit();
    await writeFile(task.request_path, "changed\n");
    await expect(ws.store.respond(task.id, { body: "x" })).rejects.toThrow(/request changed before response/);
    const { response } = await ws.store.respond(task.id, { body: "gave up", status: "failed" });
    expect(response.request_changed_before_response).toBe(true);
  });

  it("a response.json left by a writer that died before task.json is settled, never lost", async () => {
    const task = await ws.submit();
    const claimed = await ws.store.claim(task.id, { owner: "bot" });
    const responseFile = path.join(ws.queue, "tasks", task.id, "response.json");
    await writeFile(responseFile, JSON.stringify({ task_id: task.id, status: "completed", body: "done before crash", reviewer: "bot", metadata: {} }));
    await expect(ws.store.claim(task.id, { owner: "other", leaseSeconds: 1 })).rejects.toThrow(/active lease|task is completed/);
    await expect(ws.store.respond(task.id, { body: "late", claimToken: claimed.claim_token })).rejects.toThrow(`task is already completed: ${task.id}`);
    expect((await ws.store.get(task.id)).state).toBe("completed");
    expect((await ws.store.getResponse(task.id))?.body).toBe("done before crash");
  });
});

describe("events", () => {
  it("appends custom events and tolerates a torn last line", async () => {
    const task = await ws.submit();
    await ws.store.appendEvent(task.id, { type: "note", message: "hi", data: { k: "v" } });
    const file = path.join(ws.queue, "tasks", task.id, "events.jsonl");
    await writeFile(file, (await readFile(file, "utf8")) + '{"created_at": "2026', { flag: "w" });
    expect((await ws.store.readEvents(task.id)).map((e) => e.type)).toEqual(["created", "note"]);
    await ws.store.appendEvent(task.id, { type: "after-tear" });
    expect((await ws.store.readEvents(task.id)).map((e) => e.type)).toEqual(["created", "note", "after-tear"]);
  });

  it("refuses events for unknown tasks", async () => {
    await expect(ws.store.appendEvent("nope", { type: "note" })).rejects.toThrow("unknown task: nope");
  });
});

describe("list, next and available", () => {
  it("list is oldest first, filters by lane and active-only", async () => {
    const a = await ws.submit({ lane: "review" });
    const b = await ws.submit();
    const c = await ws.submit({ lane: "review" });
    await ws.store.respond(c.id, { body: "done" });
    expect((await ws.store.list()).map((t) => t.id)).toEqual([a.id, b.id, c.id]);
    expect((await ws.store.list({ lane: "review" })).map((t) => t.id)).toEqual([a.id, c.id]);
    expect((await ws.store.list({ lane: "review", activeOnly: true })).map((t) => t.id)).toEqual([a.id]);
  });

  it("next skips live claims, takes expired ones, and available applies the filter without blocking", async () => {
    let now = new Date();
    const store = openStore(ws.queue, { now: () => now });
    const codex = await ws.submit({ metadata: { required_vendor: "codex" } });
    const claude = await ws.submit({ metadata: { required_vendor: "claude" } });
    expect((await store.next("default"))?.id).toBe(codex.id);
    const forClaude = await store.available({ lanes: ["default"], accept: (t) => t.metadata.required_vendor !== "codex" });
    expect(forClaude.map((t) => t.id)).toEqual([claude.id]);
    await store.claim(codex.id, { owner: "x", leaseSeconds: 5 });
    expect((await store.next("default"))?.id).toBe(claude.id);
    now = new Date(now.getTime() + 6000);
    expect((await store.next("default"))?.id).toBe(codex.id);
    expect(await store.next("other")).toBeNull();
    await store.close();
  });

  it("a corrupt task.json is reported and skipped; the rest of the queue works", async () => {
    const bad = await ws.submit();
    const good = await ws.submit();
    await writeFile(path.join(ws.queue, "tasks", bad.id, "task.json"), "{ not json");
    expect((await ws.store.next("default"))?.id).toBe(good.id);
    expect(ws.store.problems()).toEqual([expect.objectContaining({ taskId: bad.id, message: expect.stringContaining("corrupt file") })]);
    await expect(ws.store.get(bad.id)).rejects.toThrow(/corrupt file .*task\.json/);
  });

  it("finished tasks are not re-read on later scans", async () => {
    const done = await ws.submit();
    await ws.store.respond(done.id, { body: "ok" });
    const open = await ws.submit();
    expect((await ws.store.list()).map((t) => t.id)).toEqual([done.id, open.id]);
    // A finished task never changes again; if the scanner re-read it, the
    // garbage below would surface as a problem.
    await writeFile(path.join(ws.queue, "tasks", done.id, "task.json"), "garbage");
    expect((await ws.store.next("default"))?.id).toBe(open.id);
    expect(ws.store.problems()).toEqual([]);
  });
});

describe("waiting for a response", () => {
  it("wakes on the response written by another store instance and writes the body to response_path", async () => {
    const task = await ws.submit();
    const other = openStore(ws.queue);
    const waiting = ws.store.waitForResponse(task.id, { timeoutMs: 10_000 });
    // Kept and awaited: the waiter wakes on response.json, before respond has written task.json too.
    const responding = new Promise((resolve, reject) => setTimeout(() => other.respond(task.id, { body: "the answer\n" }).then(resolve, reject), 50));
    const response = await waiting;
    await responding;
    expect(response?.body).toBe("the answer\n");
    const target = await ws.store.writeResponseOutput(await ws.store.get(task.id), response!);
    expect(target).toBe(task.response_path);
    expect(await readFile(target, "utf8")).toBe("the answer\n");
    await other.close();
  });

  it("times out with null, and a failed task without a response is an error", async () => {
    const task = await ws.submit();
    expect(await ws.store.waitForResponse(task.id, { timeoutMs: 50 })).toBeNull();
    const file = path.join(ws.queue, "tasks", task.id, "task.json");
    const raw = JSON.parse(await readFile(file, "utf8"));
    await writeFile(file, JSON.stringify({ ...raw, state: "failed", failure_reason: "agent crashed" }));
    await expect(ws.store.waitForResponse(task.id, { timeoutMs: 50 })).rejects.toThrow(/failed without a response: agent crashed/);
  });
});

describe("scan listing cache", () => {
  it("an unchanged, old tasks folder is not re-listed, and a new task still shows up", async () => {
    const { utimes } = await import("node:fs/promises");
    const first = await ws.submit();
    const tasksDir = path.join(ws.queue, "tasks");
    const old = new Date(Date.now() - 60_000);
    await utimes(tasksDir, old, old);
    expect((await ws.store.list()).map((t) => t.id)).toEqual([first.id]);
    // Another writer adds a task: the folder's mtime moves, so the listing is refreshed.
    const other = openStore(ws.queue);
    const second = await other.create({
      workspace_id: "ws", correlation_id: "second", lane: "default", workspace_root: ws.root,
      request_path: first.request_path, response_path: "responses/second.md",
    });
    await other.close();
    expect((await ws.store.list()).map((t) => t.id)).toEqual([first.id, second.id]);
  });
});

describe("change notifications", () => {
  it("a task created by another store wakes a waiter without the safety poll", async () => {
    await ws.submit();
    const notifier = await ws.store.changes();
    const since = notifier.generation;
    const woke = notifier.wait(60_000, since).then(() => notifier.generation);
    const other = openStore(ws.queue);
    await other.create({
      workspace_id: "ws", correlation_id: "new", lane: "default", workspace_root: ws.root,
      request_path: (await ws.file("new.md")), response_path: "responses/new.md",
    });
    expect(await woke).toBeGreaterThan(since);
    await other.close();
  }, 15_000);

  it("two waiters on different tasks both wake on responses written by another store", async () => {
    const store = openStore(ws.queue, { pollMs: 60_000 });
    const a = await ws.submit();
    const b = await ws.submit();
    const waitA = store.waitForResponse(a.id, { timeoutMs: 20_000 });
    const waitB = store.waitForResponse(b.id, { timeoutMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 200)); // both waiters are watching now
    const other = openStore(ws.queue);
    await other.respond(a.id, { body: "for a" });
    expect((await waitA)?.body).toBe("for a");
    await other.respond(b.id, { body: "for b" });
    expect((await waitB)?.body).toBe("for b");
    await other.close();
    await store.close();
  }, 15_000);
});

describe("reads have no side effects", () => {
  it("listing a queue folder that does not exist returns nothing and creates nothing", async () => {
    const { existsSync } = await import("node:fs");
    const missing = path.join(ws.root, "typo", "state");
    const store = openStore(missing);
    expect(await store.list()).toEqual([]);
    expect(await store.next("default")).toBeNull();
    await expect(store.waitForResponse("20261124T000000000000Z-x-000000000000", { timeoutMs: 10 })).rejects.toThrow(/unknown task/);
    await expect(store.claim("x1", { owner: "o" })).rejects.toThrow("unknown task: x1");
    await expect(store.respond("x1", { body: "b" })).rejects.toThrow("unknown task: x1");
    await expect(store.release("x1", { claimToken: "t" })).rejects.toThrow("unknown task: x1");
    await expect(store.appendEvent("x1", { type: "note" })).rejects.toThrow("unknown task: x1");
    expect(existsSync(path.join(ws.root, "typo"))).toBe(false);
    await store.close();
  });
});

describe("sweepTempFiles", () => {
  it("removes temp files a crash left behind, never a fresh one or a real file", async () => {
    const { utimes, readdir: list } = await import("node:fs/promises");
    const task = await ws.submit();
    const dir = path.join(ws.queue, "tasks", task.id);
    const stale = path.join(dir, ".task.json.0123456789abcdef.tmp");
    const fresh = path.join(dir, ".response.json.fedcba9876543210.tmp");
    const staleIndex = path.join(ws.queue, "indexes", "correlations", ".ws--x.json.00aa11bb22cc33dd.tmp");
    for (const file of [stale, fresh, staleIndex]) await writeFile(file, "partial");
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(stale, old, old);
    await utimes(staleIndex, old, old);
    expect((await ws.store.sweepTempFiles()).sort()).toEqual([staleIndex, stale].sort());
    expect((await list(dir)).sort()).toEqual([".response.json.fedcba9876543210.tmp", "events.jsonl", "task.json"]);
    expect((await ws.store.get(task.id)).state).toBe("queued");
  });
});
