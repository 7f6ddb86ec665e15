import { describe, expect, it } from "vitest";
import type { ScanProblem, Task } from "../../src/store/types.js";
import { createSelector } from "../../src/supervisor/select.js";

const NOW = new Date("2026-11-24T06:00:00.000Z");

function task(id: string, fields: Partial<Task> = {}): Task {
  return {
    id,
    workspace_id: "ws",
    correlation_id: id,
    source_agent: "orchestrator",
    lane: "default",
    workspace_root: "/w",
    worktree_path: null,
    expected_branch: null,
    request_path: "/w/r.md",
    request_sha256: "0".repeat(64),
    supporting_paths: [],
    response_path: "/w/out.md",
    prompt: null,
    metadata: {},
    state: "queued",
    created_at: "2026-11-24T05:00:00Z",
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

function stubStore(tasks: Task[], problems: ScanProblem[] = []) {
  return {
    tasks,
    problems,
    list: async () => tasks,
    problemsFn: () => problems,
  };
}

const claudeOnly = (t: Task) => [undefined, "any", "claude"].includes(t.metadata.required_vendor as string | undefined);

describe("createSelector", () => {
  it("offers queued and lease-expired tasks of its lanes that the adapter accepts, oldest first", async () => {
    const tasks = [
      task("a-codex-old", { metadata: { required_vendor: "codex" } }),
      task("b-claude"),
      task("c-other-lane", { lane: "review" }),
      task("d-expired", { state: "claimed", claim_owner: "x", lease_expires_at: "2026-11-24T05:59:59Z" }),
      task("e-any", { metadata: { required_vendor: "any" } }),
    ];
    const s = stubStore(tasks);
    const selector = createSelector({ store: { list: s.list, problems: s.problemsFn }, lanes: ["default"], accepts: claudeOnly });
    const selection = await selector.select(NOW);
    expect(selection.candidates.map((t) => t.id)).toEqual(["b-claude", "d-expired", "e-any"]);
  });

  it("reports when the earliest live lease of an acceptable task ends, ignoring other vendors' and skipped ones", async () => {
    const tasks = [
      task("live-late", { state: "claimed", lease_expires_at: "2026-11-24T06:10:00Z" }),
      task("live-early", { state: "claimed", lease_expires_at: "2026-11-24T06:05:00Z" }),
      task("codex-earlier", { state: "claimed", lease_expires_at: "2026-11-24T06:01:00Z", metadata: { required_vendor: "codex" } }),
      task("mine", { state: "claimed", lease_expires_at: "2026-11-24T06:00:30Z" }),
    ];
    const s = stubStore(tasks);
    const selector = createSelector({ store: { list: s.list, problems: s.problemsFn }, lanes: ["default"], accepts: claudeOnly });
    const selection = await selector.select(NOW, new Set(["mine"]));
    expect(selection.candidates).toEqual([]);
    expect(selection.nextLeaseExpiryMs).toBe(Date.parse("2026-11-24T06:05:00Z"));
  });

  it("reports each unreadable task file once, and again once it breaks anew after a fix", async () => {
    const s = stubStore([task("ok")], [{ taskId: "bad", file: "/q/tasks/bad/task.json", message: "invalid JSON" }]);
    const selector = createSelector({ store: { list: s.list, problems: () => s.problems }, lanes: ["default"], accepts: () => true });
    expect((await selector.select(NOW)).newProblems).toHaveLength(1);
    expect((await selector.select(NOW)).newProblems).toHaveLength(0);
    s.problems = [];
    expect((await selector.select(NOW)).newProblems).toHaveLength(0);
    s.problems = [{ taskId: "bad", file: "/q/tasks/bad/task.json", message: "invalid JSON" }];
    expect((await selector.select(NOW)).newProblems).toHaveLength(1);
  });

  it("skips a task whose filter throws instead of failing the whole look", async () => {
    const s = stubStore([task("boom"), task("fine")]);
    const selector = createSelector({
      store: { list: s.list, problems: s.problemsFn },
      lanes: ["default"],
      accepts: (t) => {
        if (t.id === "boom") throw new Error("adapter bug");
        return true;
      },
    });
    expect((await selector.select(NOW)).candidates.map((t) => t.id)).toEqual(["fine"]);
  });
});
