// The file store's own transitions: what is about files (layout, modes,
// request files changed on disk, torn lines, crash leftovers, the scanner and
// its caches). The behaviour both stores share is the contract suite
// (test/store/contract.ts), run here by contract.test.ts.

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

  it("refuses a symlink that points out of the workspace", async () => {
    await symlink("/etc", path.join(ws.root, "escape"));
    await expect(ws.submit({ response_path: "escape/x.md" })).rejects.toThrow(/response_path is outside workspace_root/);
  });
});

describe("claim", () => {
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
});

describe("respond", () => {
  it("writes response.json 0600 beside task.json", async () => {
    const task = await ws.submit();
    const claimed = await ws.store.claim(task.id, { owner: "bot" });
    const { response } = await ws.store.respond(task.id, { claimToken: claimed.claim_token, body: "two issues", reviewer: "codex" });
    const file = path.join(ws.queue, "tasks", task.id, "response.json");
    expect(await mode(file)).toBe(0o600);
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual(response);
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
});

describe("list, next and available", () => {
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
