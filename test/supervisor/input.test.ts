import { describe, expect, it } from "vitest";
import { UnknownTaskError } from "../../src/store/errors.js";
import type { Task, TaskResponse } from "../../src/store/types.js";
import { ARTIFACT_END, buildInput, THREAD_BEGIN, THREAD_END, walkThread, type InputSources } from "../../src/supervisor/input.js";

let seq = 0;
function task(id: string, metadata: Record<string, unknown> = {}, fields: Partial<Task> = {}): Task {
  seq += 1;
  return {
    id,
    workspace_id: "ws",
    correlation_id: id,
    source_agent: "orchestrator",
    lane: "default",
    workspace_root: "/w",
    worktree_path: "/w/tree",
    expected_branch: "feature/x",
    request_path: `/w/${id}.md`,
    request_sha256: "0".repeat(64),
    supporting_paths: [],
    response_path: `/w/${id}.out.md`,
    prompt: `prompt of ${id}`,
    metadata,
    state: "completed",
    created_at: `2026-11-24T05:00:${String(seq).padStart(2, "0")}Z`,
    updated_at: "2026-11-24T05:00:00Z",
    claim_owner: null,
    claim_token: null,
    lease_expires_at: null,
    claimed_at: null,
    completed_at: null,
    failed_at: null,
    failure_reason: null,
    ...fields,
  };
}

function response(taskId: string, body: string): TaskResponse {
  return {
    task_id: taskId,
    reviewer: "r",
    status: "completed",
    body,
    reviewed_request_sha256: null,
    request_changed_before_response: false,
    follow_up_required: false,
    verdict: null,
    blocking_count: 0,
    nonblocking_count: 0,
    metadata: {},
    created_at: "2026-11-24T05:00:00Z",
  };
}

function sources(tasks: Task[], responses: Record<string, string>, files: Record<string, string> = {}): InputSources & { gets: string[] } {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const gets: string[] = [];
  return {
    gets,
    async get(id) {
      gets.push(id);
      const t = byId.get(id);
      if (!t) throw new UnknownTaskError(id);
      return t;
    },
    async getResponse(id) {
      return responses[id] === undefined ? null : response(id, responses[id] as string);
    },
    async list() {
      return tasks;
    },
    async readFile(p) {
      return files[p] ?? `artifact at ${p}`;
    },
  };
}

describe("walkThread", () => {
  it("collects the parent chain oldest first with each response", async () => {
    const t1 = task("t1", { thread_id: "th" });
    const t2 = task("t2", { thread_id: "th", parent_task_id: "t1" });
    const t3 = task("t3", { thread_id: "th", parent_task_id: "t2" }, { state: "claimed" });
    const thread = await walkThread(t3, sources([t1, t2, t3], { t1: "first answer", t2: "second answer" }));
    expect(thread.entries.map((e) => [e.task.id, e.response?.body])).toEqual([
      ["t1", "first answer"],
      ["t2", "second answer"],
    ]);
    expect(thread.notes).toEqual([]);
  });

  it("stops at a cycle without looping", async () => {
    const a = task("a", { parent_task_id: "b" });
    const b = task("b", { parent_task_id: "a" });
    const s = sources([a, b], { b: "b answer" });
    const thread = await walkThread(a, s);
    expect(thread.entries.map((e) => e.task.id)).toEqual(["b"]);
    expect(thread.notes.join()).toMatch(/loops back to a/);
    expect(s.gets).toEqual(["b"]);
  });

  it("stops at a missing parent and says so", async () => {
    const c = task("c", { parent_task_id: "b" });
    const b = task("b", { parent_task_id: "gone-task" });
    const thread = await walkThread(c, sources([b, c], { b: "b answer" }));
    expect(thread.entries.map((e) => e.task.id)).toEqual(["b"]);
    expect(thread.notes.join()).toMatch(/parent task gone-task is not in the queue/);
  });

  it("refuses a parent id that is not a task id (no path tricks)", async () => {
    const c = task("c", { parent_task_id: "../../etc" });
    const s = sources([c], {});
    const thread = await walkThread(c, s);
    expect(thread.entries).toEqual([]);
    expect(thread.notes.join()).toMatch(/not a valid task id/);
    expect(s.gets).toEqual([]);
  });

  it("caps the depth of a long chain", async () => {
    const chain: Task[] = [task("n0")];
    for (let i = 1; i <= 30; i += 1) chain.push(task(`n${i}`, { parent_task_id: `n${i - 1}` }));
    const thread = await walkThread(chain[30] as Task, sources(chain, {}), 5);
    expect(thread.entries.map((e) => e.task.id)).toEqual(["n25", "n26", "n27", "n28", "n29"]);
    expect(thread.notes.join()).toMatch(/stops after 5/);
  });

  it("with only a thread_id, takes the answered earlier tasks of that thread, oldest first", async () => {
    const x1 = task("x1", { thread_id: "th" });
    const other = task("other", { thread_id: "nope" });
    const x2 = task("x2", { thread_id: "th" });
    const unanswered = task("x2b", { thread_id: "th" });
    const me = task("me", { thread_id: "th" }, { state: "claimed" });
    const later = task("later", { thread_id: "th" });
    const thread = await walkThread(me, sources([later, me, x2, other, unanswered, x1], { x1: "one", x2: "two", other: "no", later: "future" }));
    expect(thread.entries.map((e) => e.task.id)).toEqual(["x1", "x2"]);
  });
});

describe("buildInput", () => {
  it("puts the prompt, the worktree and branch lines and the artifact between marker lines", async () => {
    const t = task("t1", {}, { state: "claimed", supporting_paths: [{ path: "/w/notes.md", sha256: "1" }] });
    const { input } = await buildInput(t, "/w/tree", sources([t], {}, { "/w/t1.md": "line one\nline two" }), { supportsEffort: true });
    expect(input).toContain("prompt of t1");
    expect(input).toContain("Worktree: /w/tree");
    expect(input).toContain("Branch: feature/x");
    expect(input).toContain("- /w/notes.md");
    expect(input).toContain(`----- BEGIN REQUEST ARTIFACT: /w/t1.md -----\nline one\nline two\n${ARTIFACT_END}`);
    expect(input).not.toContain(THREAD_BEGIN);
    expect(input.indexOf("prompt of t1")).toBeLessThan(input.indexOf("BEGIN REQUEST ARTIFACT"));
  });

  it("hints the effort only when the CLI has no effort flag and the task names one", async () => {
    const t = task("t1", { effort: "high" }, { state: "claimed" });
    const withFlag = await buildInput(t, "/w", sources([t], {}), { supportsEffort: true });
    const withoutFlag = await buildInput(t, "/w", sources([t], {}), { supportsEffort: false });
    expect(withFlag.input).not.toMatch(/^Effort/m);
    expect(withoutFlag.input.startsWith("Effort: high.")).toBe(true);
    const plain = task("t2", {}, { state: "claimed" });
    expect((await buildInput(plain, "/w", sources([plain], {}), { supportsEffort: false })).input).not.toMatch(/^Effort/m);
  });

  it("uses a default instruction when the task has no prompt", async () => {
    const t = task("t1", {}, { prompt: null, state: "claimed" });
    const { input } = await buildInput(t, "/w", sources([t], {}), { supportsEffort: true });
    expect(input.split("\n")[0]).toMatch(/Handle the request artifact below/);
  });

  it("appends the thread context after the artifact, oldest response first", async () => {
    const t1 = task("t1");
    const t2 = task("t2", { parent_task_id: "t1" });
    const t3 = task("t3", { parent_task_id: "t2" }, { state: "claimed" });
    const { input } = await buildInput(t3, "/w", sources([t1, t2, t3], { t1: "ANSWER-ONE", t2: "ANSWER-TWO" }), { supportsEffort: true });
    const begin = input.indexOf(THREAD_BEGIN);
    expect(begin).toBeGreaterThan(input.indexOf(ARTIFACT_END));
    expect(input.indexOf("ANSWER-ONE")).toBeGreaterThan(begin);
    expect(input.indexOf("ANSWER-ONE")).toBeLessThan(input.indexOf("ANSWER-TWO"));
    expect(input.indexOf("ANSWER-TWO")).toBeLessThan(input.indexOf(THREAD_END));
    expect(input).toContain("----- BEGIN RESPONSE: t1 -----\nANSWER-ONE\n----- END RESPONSE: t1 -----");
  });
});
