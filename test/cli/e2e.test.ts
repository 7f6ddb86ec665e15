// The two-terminal choreography of the README, with real processes: a
// reviewer long-polls its lane; an orchestrator submits and waits; the
// reviewer claims, reports progress and answers with a verdict; the
// orchestrator's wait returns and the body is in its response_path.

import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { finish, makeCliWorkspace, type CliWorkspace } from "./cli-helpers.js";

let ws: CliWorkspace;

beforeAll(async () => {
  ws = await makeCliWorkspace("al-cli-e2e-");
});

afterAll(async () => {
  await ws.cleanup();
});

it("orchestrator submits and waits; reviewer waits on the lane, claims, adds an event and responds; the body lands in response_path", async () => {
  // Terminal B: the reviewer is already waiting when the task arrives.
  const reviewerWait = ws.start(["wait", "--lane", "default", "--json", "--timeout", "60"]);

  // Terminal A: submit, then block on the answer.
  await ws.file("docs/plan.md", "# Plan\nShip it.\n");
  await ws.file("tasks/plan-review.yaml", "lane: default\nrequest_from: docs/plan.md\nresponse_to: reviews/plan-review.md\nprompt: Review the plan\n");
  const submitted = await ws.run(["submit", "--task", "tasks/plan-review.yaml", "--json"]);
  expect(submitted.exitCode).toBe(0);
  const taskId = submitted.json<{ task_id: string }>().task_id;
  const orchestratorWait = ws.start(["wait", taskId, "--json", "--timeout", "60", "--heartbeat-seconds", "0.2"]);

  // Terminal B again: the long-poll hands over the task; claim it, work, answer.
  const offered = await finish(reviewerWait);
  expect(offered.exitCode).toBe(0);
  const task = offered.json<{ status: string; task: { id: string; request_sha256: string; prompt: string } }>();
  expect(task).toMatchObject({ status: "task_available", task: { id: taskId, prompt: "Review the plan" } });

  const claimed = await ws.run(["claim", taskId, "--owner", "reviewer-chat", "--json"]);
  expect(claimed.exitCode).toBe(0);
  const token = claimed.json<{ claim_token: string }>().claim_token;
  expect((await ws.run(["event", taskId, "--type", "progress", "--message", "read the plan"])).exitCode).toBe(0);
  const body = "Needs revision: the rollout has no rollback step.\n";
  const responded = await ws.run([
    "respond",
    taskId,
    "--claim-token",
    token,
    "--reviewer",
    "reviewer-chat",
    "--verdict",
    "needs-revision",
    "--blocking-count",
    "1",
    "--expect-sha256",
    task.task.request_sha256,
    "--body",
    body,
    "--json",
  ]);
  expect(responded.exitCode).toBe(0);
  expect(responded.json()).toMatchObject({ status: "completed", verdict: "needs-revision", blocking_count: 1, queue_depth: 0 });

  // Terminal A: the wait returns with the response, and the body is on disk.
  const answered = await finish(orchestratorWait);
  expect(answered.exitCode).toBe(0);
  const payload = answered.json<{ status: string; response_path: string; response: Record<string, unknown> }>();
  expect(payload).toMatchObject({
    status: "completed",
    task_id: taskId,
    response_path: `${ws.root}/reviews/plan-review.md`,
    response: { verdict: "needs-revision", blocking_count: 1, reviewer: "reviewer-chat", body },
  });
  expect(await readFile(payload.response_path, "utf8")).toBe(body);
  // Heartbeats, if any came, are the §7 lines (a late one may already see the
  // task completed while the waiter is waking up) and never on stdout.
  for (const line of answered.errLines) expect(line).toMatch(new RegExp(`^agent-lanes wait: task_id=${taskId}; state=(queued|claimed|completed); `));

  const status = await ws.run(["status", taskId, "--json"]);
  expect(status.json()).toMatchObject({ task: { state: "completed", response_exists: true, missing_response: false } });
});
