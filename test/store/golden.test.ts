import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { toJsonFile } from "../../src/store/json.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";

const TASK_KEYS = [
  "claim_owner", "claim_token", "claimed_at", "completed_at", "correlation_id", "created_at", "expected_branch",
  "failed_at", "failure_reason", "id", "lane", "lease_expires_at", "metadata", "prompt", "request_path",
  "request_sha256", "response_path", "source_agent", "state", "supporting_paths", "updated_at", "workspace_id",
  "workspace_root", "worktree_path",
];
const RESPONSE_KEYS = [
  "blocking_count", "body", "created_at", "follow_up_required", "metadata", "nonblocking_count",
  "request_changed_before_response", "reviewed_request_sha256", "reviewer", "status", "task_id", "verdict",
];
const STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$/;

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await makeWorkspace();
});
afterEach(async () => {
  await ws.cleanup();
});

describe("golden: the files our store writes", () => {
  it("have exactly the keys and the JSON style of PROTOCOL §3–6", async () => {
    const task = await ws.submit({ metadata: { effort: "high" } });
    const claimed = await ws.store.claim(task.id, { owner: "bot" });
    await ws.store.respond(task.id, { claimToken: claimed.claim_token, body: "ok", verdict: "accept" });
    const dir = path.join(ws.queue, "tasks", task.id);

    const taskText = await readFile(path.join(dir, "task.json"), "utf8");
    const taskJson = JSON.parse(taskText);
    expect(Object.keys(taskJson)).toEqual(TASK_KEYS);
    expect(taskText).toBe(toJsonFile(taskJson));
    expect(taskText.endsWith("}\n")).toBe(true);
    expect(taskText.split("\n")[1]).toMatch(/^ {2}"claim_owner": "bot",$/);
    for (const key of ["created_at", "updated_at", "claimed_at", "completed_at", "lease_expires_at"]) expect(taskJson[key]).toMatch(STAMP);

    const responseText = await readFile(path.join(dir, "response.json"), "utf8");
    const responseJson = JSON.parse(responseText);
    expect(Object.keys(responseJson)).toEqual(RESPONSE_KEYS);
    expect(responseText).toBe(toJsonFile(responseJson));

    const lines = (await readFile(path.join(dir, "events.jsonl"), "utf8")).split("\n");
    expect(lines.pop()).toBe("");
    for (const line of lines) {
      const event = JSON.parse(line);
      expect(Object.keys(event)).toEqual(["created_at", "data", "message", "type"]);
      expect(line).toMatch(/^\{"created_at": "[^"]+", "data": \{.*\}, "message": ".*", "type": "[a-z_]+"\}$/);
      expect(event.created_at).toMatch(STAMP);
    }
    expect(lines.map((l) => JSON.parse(l).type)).toEqual(["created", "claimed", "response"]);
  });
});

describe("golden: a task folder written by hand in the Python layout", () => {
  async function handWritten(legacy: boolean): Promise<{ id: string; request: string }> {
    const request = await ws.file("reviews/plan.md", "# plan\n");
    const sha = createHash("sha256").update("# plan\n").digest("hex");
    const id = `20261124T051809211709Z-${legacy ? "legacy" : "modern"}-${sha.slice(0, 12)}`;
    const dir = path.join(ws.queue, "tasks", id);
    await mkdir(dir, { recursive: true });
    const task: Record<string, unknown> = {
      id,
      workspace_id: "py",
      source_agent: "orchestrator",
      lane: "default",
      workspace_root: ws.root,
      worktree_path: null,
      expected_branch: "main",
      request_path: request,
      request_sha256: sha,
      supporting_paths: [],
      response_path: path.join(ws.root, "reviews", "plan.response.md"),
      prompt: "Review the plan.",
      state: "queued",
      created_at: "2026-11-24T05:18:09Z",
      updated_at: "2026-11-24T05:18:09.213650Z",
      claim_owner: null,
      claim_token: null,
      lease_expires_at: null,
      claimed_at: null,
      completed_at: null,
      failed_at: null,
      failure_reason: null,
      python_only_key: { kept: true },
    };
    if (legacy) task.checkpoint_id = "plan-review";
    else {
      task.correlation_id = "plan-review";
      task.metadata = { effort: "low" };
    }
    // Python's json.dumps(indent=2, sort_keys=True) style, as the Python tool writes it.
    await writeFile(path.join(dir, "task.json"), toJsonFile(task));
    await writeFile(path.join(dir, "events.jsonl"), '{"created_at": "2026-11-24T05:18:09Z", "data": {"lane": "default"}, "message": "created", "type": "created"}\n');
    return { id, request };
  }

  it.each([false, true])("is read, claimed and answered by ours (legacy=%s)", async (legacy) => {
    const { id } = await handWritten(legacy);
    const read = await ws.store.get(id);
    expect(read.correlation_id).toBe("plan-review");
    expect(read.metadata).toEqual(legacy ? {} : { effort: "low" });
    expect((await ws.store.next("default"))?.id).toBe(id);
    const claimed = await ws.store.claim(id, { owner: "node" });
    const { response } = await ws.store.respond(id, { claimToken: claimed.claim_token, body: "fine", verdict: "accept" });
    expect(response.status).toBe("completed");
    const onDisk = JSON.parse(await readFile(path.join(ws.queue, "tasks", id, "task.json"), "utf8"));
    expect(onDisk.state).toBe("completed");
    expect(onDisk.python_only_key).toEqual({ kept: true });
    expect(onDisk.correlation_id).toBe("plan-review");
    const types = (await ws.store.readEvents(id)).map((e) => e.type);
    expect(types).toEqual(["created", "claimed", "response"]);
  });
});
