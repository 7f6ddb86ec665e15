// claim, renew, release, event and respond through the built binary.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keys, makeCliWorkspace, type CliWorkspace } from "./cli-helpers.js";

let ws: CliWorkspace;

beforeAll(async () => {
  ws = await makeCliWorkspace("al-cli-lease-");
});

afterAll(async () => {
  await ws.cleanup();
});

async function claim(taskId: string, owner = "bob"): Promise<string> {
  const result = await ws.run(["claim", taskId, "--owner", owner, "--json"]);
  expect(result.exitCode).toBe(0);
  return result.json<{ claim_token: string }>().claim_token;
}

async function lastEvent(taskId: string): Promise<Record<string, unknown>> {
  const lines = (await readFile(path.join(ws.queue, "tasks", taskId, "events.jsonl"), "utf8")).trimEnd().split("\n");
  return JSON.parse(lines.at(-1) as string) as Record<string, unknown>;
}

describe("claim, renew, release", () => {
  it("claim prints task_id= and claim_token= lines in text mode", async () => {
    const id = await ws.submit("claims");
    const result = await ws.run(["claim", id, "--owner", "bob", "--lease-seconds", "60"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^task_id=${id}\\nclaim_token=[0-9a-f]{16,}\\n$`));
  });

  it("claim --json is {status: claimed, task_id, claim_token, task}; a second claim names the holder", async () => {
    const id = await ws.submit("claims");
    const result = await ws.run(["claim", id, "--owner", "bob", "--lease-seconds", "90", "--json"]);
    const payload = result.json<{ status: string; task_id: string; claim_token: string; task: Record<string, unknown> }>();
    expect(keys(payload)).toEqual(["claim_token", "status", "task", "task_id"]);
    expect(payload).toMatchObject({ status: "claimed", task_id: id, task: { state: "claimed", claim_owner: "bob", claim_token: payload.claim_token } });
    const again = await ws.run(["claim", id, "--owner", "eve"]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toBe(`agent-lanes: cannot claim ${id}; active lease held by bob\n`);
  });

  it("renew extends the lease and needs the right token", async () => {
    const id = await ws.submit("claims");
    const token = await claim(id);
    const renewed = await ws.run(["renew", id, "--claim-token", token, "--lease-seconds", "5000", "--json"]);
    expect(renewed.exitCode).toBe(0);
    const payload = renewed.json<{ task: { lease_expires_at: string } }>();
    expect(keys(payload)).toEqual(["claim_token", "status", "task", "task_id"]);
    expect(payload).toMatchObject({ status: "renewed", task_id: id, claim_token: token });
    expect(Date.parse(payload.task.lease_expires_at) - Date.now()).toBeGreaterThan(4000 * 1000);
    const wrong = await ws.run(["renew", id, "--claim-token", "nope"]);
    expect(wrong.exitCode).toBe(1);
    expect(wrong.errLines).toEqual([expect.stringContaining("claim token does not match active lease")]);
  });

  it("release puts the task back to queued and records the reason", async () => {
    const id = await ws.submit("claims");
    const token = await claim(id);
    const result = await ws.run(["release", id, "--claim-token", token, "--reason", "tool crashed", "--json"]);
    expect(result.exitCode).toBe(0);
    const payload = result.json<{ task: Record<string, unknown> }>();
    expect(keys(payload)).toEqual(["status", "task", "task_id"]);
    expect(payload).toMatchObject({ status: "released", task_id: id, task: { state: "queued", claim_token: null, claim_owner: null } });
    expect(await lastEvent(id)).toMatchObject({ type: "released", data: { reason: "tool crashed" } });
    const text = await ws.run(["release", id, "--claim-token", token]);
    expect(text.exitCode).toBe(1);
    expect(text.stderr).toBe(`agent-lanes: cannot release ${id}; task is queued\n`);
  });

  it("renew and release require --claim-token", async () => {
    const result = await ws.run(["renew", "some-task"]);
    expect(result.exitCode).toBe(1);
    expect(result.errLines).toEqual([expect.stringMatching(/^agent-lanes: .*--claim-token/)]);
  });

  it("a bad --lease-seconds is refused with the flag and the value", async () => {
    const result = await ws.run(["claim", "some-task", "--lease-seconds", "soon"]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe("agent-lanes: --lease-seconds must be a number > 0, got 'soon'\n");
  });
});

describe("event", () => {
  it("appends type, message and data, and prints {status: ok, task_id}", async () => {
    const id = await ws.submit("events");
    const result = await ws.run(["event", id, "--type", "progress", "--message", "checked", "--data", "step=2", "--data", "note=a=b", "--json"]);
    expect(result.exitCode).toBe(0);
    expect(result.json()).toEqual({ status: "ok", task_id: id });
    expect(await lastEvent(id)).toMatchObject({ type: "progress", message: "checked", data: { step: "2", note: "a=b" } });
    const plain = await ws.run(["event", id]);
    expect(plain.stdout).toBe(`${id}\n`);
    expect(await lastEvent(id)).toMatchObject({ type: "note", message: "", data: {} });
  });

  it("--data without = is an error naming the flag", async () => {
    const id = await ws.submit("events");
    const result = await ws.run(["event", id, "--data", "oops"]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe("agent-lanes: --data expects KEY=VALUE, got: oops\n");
  });
});

describe("respond", () => {
  const RESPOND_KEYS = [
    "blocking_count",
    "correlation_id",
    "lane",
    "next_action",
    "nonblocking_count",
    "queue_depth",
    "response",
    "response_path",
    "status",
    "task_id",
    "verdict",
  ];

  it("--json has exactly the §7 keys; next_action tells the orchestrator to wait; queue_depth counts the lane's queued tasks, as Python does", async () => {
    const id = await ws.submit("answers");
    await ws.submit("answers");
    await ws.submit("answers");
    await claim(await ws.submit("answers")); // claimed: not counted
    await ws.submit("other"); // another lane: not counted
    const token = await claim(id);
    const result = await ws.run([
      "respond",
      id,
      "--claim-token",
      token,
      "--reviewer",
      "rev",
      "--verdict",
      "needs-revision",
      "--blocking-count",
      "2",
      "--nonblocking-count",
      "1",
      "--follow-up-required",
      "--metadata",
      "model_used=opus",
      "--body",
      "fix it",
      "--json",
    ]);
    expect(result.exitCode).toBe(0);
    const payload = result.json<Record<string, unknown> & { response: Record<string, unknown> }>();
    expect(keys(payload)).toEqual(RESPOND_KEYS);
    expect(payload).toMatchObject({
      status: "completed",
      task_id: id,
      lane: "answers",
      verdict: "needs-revision",
      blocking_count: 2,
      nonblocking_count: 1,
      queue_depth: 2,
      response_path: expect.stringContaining(ws.root),
    });
    expect(payload.next_action).toContain(`orchestrator: run wait ${id}`);
    expect(payload.response).toMatchObject({ body: "fix it", reviewer: "rev", follow_up_required: true, metadata: { model_used: "opus" } });
  });

  it("text mode prints status=, task_id=, verdict=, response_path=, queue_depth= lines, then the next action as Python does", async () => {
    const id = await ws.submit("answers-text");
    const result = await ws.run(["respond", id, "--body", "ok", "--verdict", "accept"]);
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines).toEqual([
      "status=completed",
      `task_id=${id}`,
      "verdict=accept",
      expect.stringMatching(/^response_path=\//),
      "queue_depth=0",
      `reviewer: stop after this task unless instructed otherwise; orchestrator: run wait ${id}; monitor: re-arm wait --lane answers-text --json if more tasks are expected`,
    ]);
  });

  it("reads the body from --file PATH relative to the cwd", async () => {
    const id = await ws.submit("bodies");
    await ws.file("sub/review.md", "from a file\n");
    const result = await ws.run(["--config", ws.config, "respond", id, "--file", "review.md", "--json"], { cwd: path.join(ws.root, "sub") });
    expect(result.exitCode).toBe(0);
    expect(result.json<{ response: { body: string } }>().response.body).toBe("from a file\n");
  });

  it("reads the body from stdin with --file - and with no body flag at all", async () => {
    const a = await ws.submit("bodies");
    const dash = await ws.run(["respond", a, "--file", "-", "--json"], { input: "from stdin (dash)\n" });
    expect(dash.json<{ response: { body: string } }>().response.body).toBe("from stdin (dash)\n");
    const b = await ws.submit("bodies");
    const piped = await ws.run(["respond", b, "--json"], { input: "from stdin\n" });
    expect(piped.json<{ response: { body: string } }>().response.body).toBe("from stdin\n");
  });

  it("--file wins over --body, as in the Python CLI", async () => {
    const id = await ws.submit("bodies");
    await ws.file("winner.md", "file body");
    const result = await ws.run(["respond", id, "--file", "winner.md", "--body", "flag body", "--json"]);
    expect(result.json<{ response: { body: string } }>().response.body).toBe("file body");
  });

  it("a missing --file is named with its absolute path", async () => {
    const id = await ws.submit("bodies");
    const result = await ws.run(["respond", id, "--file", "nope.md"]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(`agent-lanes: --file does not exist: ${path.join(ws.root, "nope.md")}\n`);
  });

  it("--status failed records a failed response", async () => {
    const id = await ws.submit("bodies");
    const result = await ws.run(["respond", id, "--status", "failed", "--body", "cannot review", "--json"]);
    expect(result.json()).toMatchObject({ status: "failed", response: { status: "failed", body: "cannot review" } });
  });

  it("refuses blocking findings without needs-revision, bad verdicts and bad counts with one line each", async () => {
    const id = await ws.submit("rules");
    const blocking = await ws.run(["respond", id, "--verdict", "accept", "--blocking-count", "1", "--body", "x"]);
    expect(blocking.exitCode).toBe(1);
    expect(blocking.stderr).toBe("agent-lanes: blocking-count > 0 requires verdict needs-revision\n");
    const verdict = await ws.run(["respond", id, "--verdict", "great", "--body", "x"]);
    expect(verdict.stderr).toBe("agent-lanes: --verdict must be one of accept, accept-with-follow-ups, needs-revision, got 'great'\n");
    const counts = await ws.run(["respond", id, "--blocking-count", "1.5", "--body", "x"]);
    expect(counts.stderr).toBe("agent-lanes: --blocking-count must be a whole number >= 0, got '1.5'\n");
    const status = await ws.run(["respond", id, "--status", "done", "--body", "x"]);
    expect(status.stderr).toBe("agent-lanes: --status must be one of completed, failed, got 'done'\n");
  });

  it("refuses a stale --expect-sha256 and a wrong claim token, and a second answer", async () => {
    const id = await ws.submit("rules");
    const token = await claim(id);
    const sha = await ws.run(["respond", id, "--claim-token", token, "--expect-sha256", "0".repeat(64), "--body", "x"]);
    expect(sha.exitCode).toBe(1);
    expect(sha.errLines).toEqual([expect.stringContaining("reviewed request hash does not match task")]);
    const wrong = await ws.run(["respond", id, "--claim-token", "nope", "--body", "x"]);
    expect(wrong.errLines).toEqual([expect.stringContaining("claim token does not match active lease")]);
    expect((await ws.run(["respond", id, "--claim-token", token, "--body", "x"])).exitCode).toBe(0);
    const twice = await ws.run(["respond", id, "--claim-token", token, "--body", "x"]);
    expect(twice.stderr).toBe(`agent-lanes: task is already completed: ${id}\n`);
  });
});

describe("cancel", () => {
  it("answers a queued task failed with who and why; wait then reports the failure", async () => {
    const id = await ws.submit("cancels");
    const result = await ws.run(["cancel", id, "--by", "alice", "--reason", "wrong lane", "--json"]);
    expect(result.exitCode).toBe(0);
    expect(result.json()).toMatchObject({
      status: "cancelled",
      task_id: id,
      task: { state: "failed", failure_reason: "cancelled by alice: wrong lane" },
      response: { status: "failed", reviewer: "alice", body: "cancelled by alice: wrong lane" },
    });
    const text = await ws.run(["cancel", await ws.submit("cancels")]);
    expect(text.stdout).toMatch(/^\S+ cancelled\n$/);
  });

  it("refuses a claimed task with one line naming the owner and the fix", async () => {
    const id = await ws.submit("cancels");
    await claim(id, "carol");
    const result = await ws.run(["cancel", id]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(`agent-lanes: cannot cancel task ${id}: it is claimed by carol; only queued tasks can be cancelled (release the claim first)\n`);
    expect((await ws.run(["cancel", "no-such-task"])).stderr).toBe("agent-lanes: unknown task: no-such-task\n");
  });
});
