// POST /tasks takes the scheduling fields of docs/scheduling.md (not_before,
// priority, depends_on) and GET /tasks/next honours them, over real HTTP.

import { afterEach, expect, it } from "vitest";
import type { Task } from "../../src/store/types.js";
import { startServer, type Harness } from "./helpers.js";

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

async function post(extra: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const request = await h.ws.file("requests/review.md", "please review\n");
  return h.api("POST", "/tasks", { workspace_id: "ws", correlation_id: "review", lane: "default", workspace_root: h.ws.root, request_path: request, response_path: "responses/review.md", ...extra });
}

it("POST /tasks stores not_before, priority and depends_on in metadata; GET /tasks/next gives the due, ready, most urgent task", async () => {
  h = await startServer();
  const first = (await post({})).body.task as Task;
  const urgent = await post({ priority: 7 });
  expect(urgent.status).toBe(201);
  const later = await post({ not_before: "+30m", priority: 9 });
  expect((later.body.task as Task).metadata.not_before).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
  const after = await post({ depends_on: [first.id], priority: 8 });
  expect((after.body.task as Task).metadata).toMatchObject({ depends_on: [first.id], priority: 8 });

  const next = await h.api("GET", "/tasks/next?lane=default&wait=0");
  expect((next.body.task as Task).id).toBe((urgent.body.task as Task).id);

  for (const [extra, message] of [
    [{ priority: "high" }, /priority must be a whole number/],
    [{ not_before: "tomorrow" }, /not_before must be an ISO time/],
    [{ depends_on: ["20261125T000000000000Z-nope-000000000000"] }, /not in the queue/],
    [{ depends_on: "not-a-list-of-ids/.." }, /invalid task id|depends_on/],
  ] as const) {
    const reply = await post(extra);
    expect(reply.status).toBe(400);
    expect(String(reply.body.error)).toMatch(message);
  }
});
