// Regression tests for store defects the reliability suites found, kept as
// plain deterministic tests beside the fuzzers that found them.

import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidTaskIdError, ValidationError } from "../../src/store/index.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await makeWorkspace();
});
afterEach(async () => {
  await ws.cleanup();
});

describe("change notifier: task folders dropped from tracking leave nothing behind", () => {
  // Found by store-inputs.fuzz: chokidar's unwatch() kept every dropped task
  // folder in an ignore list matched against every later event, so a
  // long-running dispatcher slowed down with each finished task (about 2x after
  // 200 tasks) and the tasks-folder watch went blind to those paths.
  it("a folder that was tracked, dropped and then re-created still wakes a waiter", async () => {
    const n = await ws.store.changes();
    const dir = path.join(ws.queue, "tasks", "recycled-id");
    await mkdir(dir);
    n.track([dir]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    n.track([]);
    await rm(dir, { recursive: true });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const since = n.generation;
    await mkdir(dir);
    await n.wait(5000, since);
    expect(n.generation, "woken by the event, not by the safety timeout").toBeGreaterThan(since);
  });

  it("a tracked task folder still wakes a waiter on a response", async () => {
    const task = await ws.submit();
    const n = await ws.store.changes();
    await ws.store.list(); // a scan tracks every live task
    const since = n.generation;
    const other = await import("../../src/store/index.js").then((m) => m.openStore(ws.queue));
    try {
      // Another Store (as another process would) answers: only the file system tells us.
      await other.respond(task.id, { body: "done" });
    } finally {
      await other.close();
    }
    await n.wait(5000, since);
    expect(n.generation).toBeGreaterThan(since);
  });
});

/** What JSON.parse makes of `{"toString": 1}`: String() of it throws. */
const hostile = () => JSON.parse('{"toString": 1}') as unknown;

describe("store inputs of the wrong type are StoreErrors, never TypeErrors (found by store-inputs.fuzz)", () => {
  it("a task id whose String() throws is an invalid task_id", async () => {
    await expect(ws.store.get(hostile() as string)).rejects.toThrow(InvalidTaskIdError);
  });

  it("create refuses non-list supporting_paths and non-string optional fields before writing anything", async () => {
    const request = await ws.file("r.md");
    const base = { workspace_id: "ws", correlation_id: "c", lane: "l", workspace_root: ws.root, request_path: request, response_path: "out.md" };
    for (const [field, value, message] of [
      ["supporting_paths", { a: 1 }, /supporting_paths must be a list/],
      ["worktree_path", {}, /worktree_path must be a string/],
      ["expected_branch", 7, /expected_branch must be a string/],
      ["prompt", ["x"], /prompt must be a string/],
      ["source_agent", false, /source_agent must be a string/],
      ["response_path", "out\u0000.md", /response_path contains a NUL byte/],
    ] as const) {
      await expect(ws.store.create({ ...base, [field]: value } as never), field).rejects.toThrow(message);
    }
    expect(await ws.store.list()).toEqual([]);
  });

  it("create refuses ids too long for a file name up front, leaving no half-made task", async () => {
    const request = await ws.file("r.md");
    const base = { workspace_id: "ws", correlation_id: "c", lane: "l", workspace_root: ws.root, request_path: request, response_path: "out.md" };
    await expect(ws.store.create({ ...base, correlation_id: "x".repeat(230) })).rejects.toThrow(/correlation_id is too long/);
    await expect(ws.store.create({ ...base, workspace_id: "w".repeat(230) })).rejects.toThrow(/too long together/);
    expect(await readdir(path.join(ws.queue, "tasks"))).toEqual([]);
  });

  it("a correlation id with '..' makes a task id that can be named again", async () => {
    const task = await ws.submit({ correlation_id: "v1..2" });
    expect(task.id).toMatch(/-v1\.2-/);
    expect((await ws.store.get(task.id)).correlation_id).toBe("v1..2");
    expect(await readdir(path.join(ws.queue, "indexes", "correlations"))).toEqual(["ws--v1..2.json"]);
  });

  it("a lease too long for a date is refused before the task changes", async () => {
    const task = await ws.submit();
    await expect(ws.store.claim(task.id, { owner: "o", leaseSeconds: 1e20 })).rejects.toThrow(ValidationError);
    expect((await ws.store.get(task.id)).state).toBe("queued");
  });

  it("release with a non-string reason is refused before task.json is rewritten (no event-less release)", async () => {
    const task = await ws.submit();
    const claimed = await ws.store.claim(task.id, { owner: "o" });
    await expect(ws.store.release(task.id, { claimToken: claimed.claim_token as string, reason: hostile() as string })).rejects.toThrow(ValidationError);
    expect((await ws.store.get(task.id)).state).toBe("claimed");
    expect((await ws.store.readEvents(task.id)).map((e) => e.type)).toEqual(["created", "claimed"]);
  });

  it("respond checks reviewer, follow_up_required, expect_sha256 and counts by type before writing", async () => {
    const task = await ws.submit();
    for (const input of [
      { reviewer: 5 },
      { reviewer: "" },
      { followUpRequired: "yes" },
      { expectSha256: hostile() },
      { blockingCount: hostile() },
      { verdict: hostile() },
    ]) {
      await expect(ws.store.respond(task.id, { body: "b", ...input } as never), JSON.stringify(Object.keys(input))).rejects.toThrow(ValidationError);
    }
    expect(await ws.store.getResponse(task.id)).toBeNull();
    expect((await ws.store.get(task.id)).state).toBe("queued");
  });

  it("a response_path inside the queue folder is refused at create, and never written by wait", async () => {
    await expect(ws.submit({ response_path: "handoff/state/lock" })).rejects.toThrow(/response_path is inside the queue folder/);
    await expect(ws.submit({ response_path: path.join(ws.queue, "tasks", "x", "task.json") })).rejects.toThrow(ValidationError);
    // A task another implementation wrote with such a path: the answer is not written over the victim's task.json.
    const victim = await ws.submit();
    const task = await ws.submit();
    const forged = { ...task, response_path: path.join(ws.queue, "tasks", victim.id, "task.json") };
    const before = await readFile(forged.response_path, "utf8");
    const { response } = await ws.store.respond(task.id, { body: "not json" });
    await expect(ws.store.writeResponseOutput(forged, response)).rejects.toThrow(/inside the queue folder/);
    expect(await readFile(forged.response_path, "utf8")).toBe(before);
  });
});
