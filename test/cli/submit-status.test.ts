// submit, status, list through the built binary: payload keys, text lines,
// warnings and errors on stderr.

import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type Store } from "../../src/store/index.js";
import { setPause } from "../../src/supervisor/pauses.js";
import { keys, makeCliWorkspace, type CliWorkspace } from "./cli-helpers.js";

const TASK_ID = /^\d{8}T\d{12}Z-[A-Za-z0-9_.-]+-[0-9a-f]{12}$/;
const VIEW_KEYS = [
  "response_exists",
  "lease_expired",
  "missing_response",
  "last_event",
  "last_event_age_seconds",
  "navigation",
  "next_action",
];
const TASK_KEYS = [
  "id",
  "workspace_id",
  "correlation_id",
  "source_agent",
  "lane",
  "workspace_root",
  "worktree_path",
  "expected_branch",
  "request_path",
  "request_sha256",
  "supporting_paths",
  "response_path",
  "prompt",
  "metadata",
  "state",
  "created_at",
  "updated_at",
  "claim_owner",
  "claim_token",
  "lease_expires_at",
  "claimed_at",
  "completed_at",
  "failed_at",
  "failure_reason",
];

let ws: CliWorkspace;

beforeAll(async () => {
  ws = await makeCliWorkspace("al-cli-submit-");
});

afterAll(async () => {
  await ws.cleanup();
});

describe("submit", () => {
  it("merges a task file with flag overrides, warns about unknown keys on stderr, prints {task_id, task}", async () => {
    await ws.file("docs/plan.md", "the plan\n");
    await ws.file(
      "tasks/plan-review.yaml",
      ["lane: default", "request_from: docs/plan.md", "response_to: reviews/plan.md", "prompt: Review it", "colour: blue", "metadata:", "  effort: high", "  keep: file"].join(
        "\n",
      ),
    );
    const result = await ws.run(["submit", "--task", "tasks/plan-review.yaml", "--lane", "review", "--metadata", "effort=low", "--json"]);
    expect(result.exitCode).toBe(0);
    expect(result.errLines).toHaveLength(1);
    expect(result.errLines[0]).toMatch(/unknown keys.*colour/);
    const payload = result.json<{ task_id: string; task: Record<string, unknown> }>();
    expect(keys(payload)).toEqual(["task", "task_id"]);
    expect(payload.task_id).toMatch(TASK_ID);
    expect(payload.task).toMatchObject({
      id: payload.task_id,
      lane: "review",
      correlation_id: "plan-review",
      prompt: "Review it",
      source_agent: "orchestrator",
      state: "queued",
      metadata: { effort: "low", keep: "file" },
      request_path: path.join(ws.root, "docs/plan.md"),
      response_path: path.join(ws.root, "reviews/plan.md"),
    });
    expect(keys(payload.task)).toEqual([...TASK_KEYS].sort());
  });

  it("prints only the task id in text mode", async () => {
    const request = await ws.file("docs/text.md");
    const result = await ws.run(["submit", "--lane", "default", "--request-from", request, "--response-to", "out/text.md", "--task-id", "my corr"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^\d{8}T\d{12}Z-my-corr-[0-9a-f]{12}\n$/);
    expect(result.stderr).toBe("");
  });

  it("names the missing flag in a one-line error, exit 1", async () => {
    const request = await ws.file("docs/missing.md");
    const result = await ws.run(["submit", "--lane", "default", "--request-from", request]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.errLines).toHaveLength(1);
    expect(result.errLines[0]).toMatch(/^agent-lanes: .*--response-to/);
  });

  it("refuses a request outside workspace_root, naming the field", async () => {
    const result = await ws.run(["submit", "--lane", "default", "--request-from", "/etc/hostname", "--response-to", "out/x.md"]);
    expect(result.exitCode).toBe(1);
    expect(result.errLines).toEqual([expect.stringMatching(/^agent-lanes: .*request_path.*is outside workspace_root/)]);
  });
});

describe("status and list", () => {
  let sw: CliWorkspace;
  let store: Store;
  const ids = { queued: "", claimed: "", completed: "", failed: "", stale: "", missing: "" };

  beforeAll(async () => {
    sw = await makeCliWorkspace("al-cli-status-");
    store = openStore(sw.queue);
    ids.queued = await sw.submit("lanes-a");
    ids.claimed = await sw.submit("lanes-a");
    ids.completed = await sw.submit("lanes-b");
    ids.failed = await sw.submit("lanes-b");
    ids.stale = await sw.submit("lanes-b");
    ids.missing = await sw.submit("lanes-b");
    await store.claim(ids.claimed, { owner: "bob", leaseSeconds: 3600 });
    await store.appendEvent(ids.claimed, { type: "progress", message: "half way" });
    await store.respond(ids.completed, { body: "fine", verdict: "accept" });
    await store.respond(ids.failed, { body: "broken", status: "failed" });
    await store.claim(ids.stale, { owner: "carol", leaseSeconds: 0.001 });
    await store.respond(ids.missing, { body: "gone" });
    await rm(path.join(sw.queue, "tasks", ids.missing, "response.json"));
  });

  afterAll(async () => {
    await store.close();
    await sw.cleanup();
  });

  it("status TASK_ID --json is {status: ok, task: VIEW} with every VIEW key", async () => {
    const result = await sw.run(["status", ids.queued, "--json"]);
    expect(result.exitCode).toBe(0);
    const payload = result.json<{ status: string; task: Record<string, unknown> }>();
    expect(keys(payload)).toEqual(["status", "task"]);
    expect(payload.status).toBe("ok");
    expect(keys(payload.task)).toEqual([...TASK_KEYS, ...VIEW_KEYS].sort());
    expect(payload.task).toMatchObject({ id: ids.queued, state: "queued", response_exists: false, lease_expired: false, missing_response: false });
    expect(keys(payload.task.navigation)).toEqual(["expected_branch", "request_path", "response_path", "review_scope", "workspace_root", "worktree_path"]);
    expect(payload.task.last_event).toMatchObject({ type: "created", data: { lane: "lanes-a" } });
    expect(payload.task.next_action).toContain(`orchestrator: run wait ${ids.queued}`);
  });

  it("a claimed task's view has claimed_age_seconds, seconds_until_lease_expiry and `claimed by <owner>`", async () => {
    const result = await sw.run(["--json", "status", ids.claimed]);
    const view = result.json<{ task: Record<string, unknown> }>().task;
    expect(keys(view)).toEqual([...TASK_KEYS, ...VIEW_KEYS, "claimed_age_seconds", "seconds_until_lease_expiry"].sort());
    expect(view.claimed_age_seconds).toEqual(expect.any(Number));
    expect(view.seconds_until_lease_expiry as number).toBeGreaterThan(3000);
    expect(view.next_action).toContain("claimed by bob");
    expect(view.last_event).toMatchObject({ type: "progress", message: "half way" });
  });

  it("text status prints key=value lines", async () => {
    const result = await sw.run(["status", ids.claimed]);
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`task_id=${ids.claimed}`);
    expect(lines).toContain("state=claimed");
    expect(lines).toContain("claim_owner=bob");
    expect(lines.find((l) => l.startsWith("next_action="))).toContain("claimed by bob");
  });

  it("shows a lease-expired claim and a finished task without response.json", async () => {
    const stale = (await sw.run(["status", ids.stale, "--json"])).json<{ task: Record<string, unknown> }>().task;
    expect(stale).toMatchObject({ state: "claimed", lease_expired: true, seconds_until_lease_expiry: 0 });
    expect(stale.next_action).toContain("claimed by carol but the lease expired");
    const missing = (await sw.run(["status", ids.missing, "--json"])).json<{ task: Record<string, unknown> }>().task;
    expect(missing).toMatchObject({ state: "completed", response_exists: false, missing_response: true });
  });

  it("status --all adds the summary, a queue-level next_action, pauses and unreadable task files", async () => {
    const broken = "20200101T000000000000Z-broken-000000000000";
    await sw.file(`handoff/state/tasks/${broken}/task.json`, "{ not json");
    await setPause(sw.queue, "claude", { reason: "usage limit", kind: "usage-limit", owner: "test", until: new Date(Date.now() + 3_600_000), jitter: false });
    try {
      const result = await sw.run(["status", "--all", "--json"]);
      expect(result.exitCode).toBe(0);
      const payload = result.json<Record<string, unknown>>();
      expect(keys(payload)).toEqual(["count", "next_action", "pauses", "problems", "queue_root", "status", "summary", "tasks"]);
      expect(payload.summary).toEqual({ queued: 1, claimed: 2, completed: 2, failed: 1, stale_claims: 1, missing_response: 1 });
      expect(payload.count).toBe(6);
      expect(payload.problems).toEqual([expect.objectContaining({ task_id: broken, file: path.join(sw.queue, "tasks", broken, "task.json") })]);
      expect(payload.pauses).toEqual([expect.objectContaining({ vendor: "claude", active: true, kind: "usage-limit" })]);
      expect(payload.next_action).toMatch(/unreadable task file.*expired lease.*queued task.*paused vendor\(s\): claude/);

      const text = await sw.run(["status", "--all"]);
      expect(text.stdout).toMatch(/^summary: queued=1 claimed=2 completed=2 failed=1 stale_claims=1 missing_response=1$/m);
      expect(text.stdout).toMatch(/^pause: claude paused until /m);
      expect(text.stdout).toMatch(new RegExp(`^problem: .*${broken}`, "m"));
    } finally {
      await rm(path.join(sw.queue, "tasks", broken), { recursive: true, force: true });
      await rm(path.join(sw.queue, "pauses"), { recursive: true, force: true });
    }
  });

  it("status --all filters by --lane and --active-only; --rack is the same with a [deprecated] warning", async () => {
    const all = (await sw.run(["status", "--all", "--lane", "lanes-b", "--active-only", "--json"])).json<{ tasks: Array<{ id: string }>; summary: unknown }>();
    expect(all.tasks.map((t) => t.id)).toEqual([ids.stale]);
    const rack = await sw.run(["status", "--rack", "--lane", "lanes-b", "--active-only", "--json"]);
    expect(rack.exitCode).toBe(0);
    expect(rack.errLines).toHaveLength(1);
    expect(rack.errLines[0]).toMatch(/^\[deprecated\] .*--rack.*--all/);
    expect(rack.json<{ tasks: unknown[] }>().tasks).toEqual(all.tasks.map((t) => expect.objectContaining({ id: t.id })));
  });

  it("list prints one id a line, oldest first; --json gives {status, tasks: [VIEW], count}", async () => {
    const text = await sw.run(["list", "--lane", "lanes-a"]);
    expect(text.stdout).toBe(`${ids.queued}\n${ids.claimed}\n`);
    const active = (await sw.run(["list", "--active-only", "--json"])).json<{ status: string; tasks: Array<Record<string, unknown>>; count: number }>();
    expect(keys(active)).toEqual(["count", "status", "tasks"]);
    expect(active.tasks.map((t) => t.id)).toEqual([ids.queued, ids.claimed, ids.stale]);
    expect(active.count).toBe(3);
    expect(keys(active.tasks[0])).toEqual([...TASK_KEYS, ...VIEW_KEYS].sort());
  });

  it("an unknown task id is `unknown task: <id>`, a malformed one `invalid task_id`, exit 1", async () => {
    const unknown = await sw.run(["status", "20200101T000000000000Z-nope-000000000000"]);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toBe("agent-lanes: unknown task: 20200101T000000000000Z-nope-000000000000\n");
    const bad = await sw.run(["status", "../etc"]);
    expect(bad.exitCode).toBe(1);
    expect(bad.errLines).toEqual([expect.stringMatching(/^agent-lanes: invalid task_id/)]);
  });

  it("status needs a TASK_ID or --all", async () => {
    const result = await sw.run(["status"]);
    expect(result.exitCode).toBe(1);
    expect(result.errLines).toEqual([expect.stringMatching(/^agent-lanes: status needs a TASK_ID, or --all/)]);
  });

  it("reads the queue given by --store without any config file", async () => {
    const elsewhere = path.dirname(sw.root);
    const result = await sw.run(["list", "--store", sw.queue, "--lane", "lanes-a"], { cwd: elsewhere });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(`${ids.queued}\n${ids.claimed}\n`);
  });

  it("a corrupt task.json read directly names the file", async () => {
    const id = await sw.submit("corrupt");
    const file = path.join(sw.queue, "tasks", id, "task.json");
    const original = await readFile(file, "utf8");
    await writeFile(file, "{");
    try {
      const result = await sw.run(["status", id]);
      expect(result.exitCode).toBe(1);
      expect(result.errLines).toEqual([expect.stringContaining(file)]);
    } finally {
      await writeFile(file, original);
    }
  });
});
