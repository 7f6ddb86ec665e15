// status --all and list with --state, --since and --limit through the built
// binary, and the streamed --json payload (the same bytes as one document).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCliWorkspace, type CliWorkspace } from "./cli-helpers.js";

let ws: CliWorkspace;
const ids: string[] = [];

beforeAll(async () => {
  ws = await makeCliWorkspace("al-cli-filters-");
  for (let i = 0; i < 5; i += 1) ids.push(await ws.submit(i % 2 === 0 ? "even" : "odd"));
  const claimed = await ws.run(["claim", ids[0] as string, "--json"]);
  const token = claimed.json<{ claim_token: string }>().claim_token;
  await ws.run(["respond", ids[0] as string, "--claim-token", token, "--body", "done"]);
}, 60_000);

afterAll(async () => {
  await ws.cleanup();
});

describe("status --all / list filters", () => {
  it("--state (repeatable, comma-separated) and --lane", async () => {
    const completed = await ws.run(["list", "--state", "completed"]);
    expect(completed.stdout.trim().split("\n")).toEqual([ids[0]]);
    const both = await ws.run(["list", "--state", "completed,queued", "--lane", "even"]);
    expect(both.stdout.trim().split("\n")).toEqual([ids[0], ids[2], ids[4]]);
    const repeated = await ws.run(["list", "--state", "completed", "--state", "queued", "--lane", "odd"]);
    expect(repeated.stdout.trim().split("\n")).toEqual([ids[1], ids[3]]);
  });

  it("--limit keeps the newest N, printed oldest first; the summary counts what is shown", async () => {
    const result = await ws.run(["status", "--all", "--limit", "2", "--json"]);
    const payload = result.json<{ tasks: Array<{ id: string }>; count: number; summary: { queued: number; completed: number } }>();
    expect(payload.tasks.map((t) => t.id)).toEqual([ids[3], ids[4]]);
    expect(payload.count).toBe(2);
    expect(payload.summary).toMatchObject({ queued: 2, completed: 0 });
  });

  it("--since takes an ISO time or a duration", async () => {
    expect((await ws.run(["list", "--since", "1h"])).stdout.trim().split("\n")).toEqual(ids);
    expect((await ws.run(["list", "--since", "2999-01-01"])).stdout).toBe("");
    const bad = await ws.run(["list", "--since", "yesterday"]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/--since must be an ISO date\/time .* got 'yesterday'/);
    const badState = await ws.run(["status", "--all", "--state", "done"]);
    expect(badState.exitCode).toBe(1);
    expect(badState.stderr).toMatch(/--state must be one of queued, claimed, completed, failed, got 'done'/);
  });

  it("the --json payload is one valid document with sorted keys", async () => {
    const result = await ws.run(["status", "--all", "--json"]);
    const payload = result.json<Record<string, unknown>>();
    expect(Object.keys(payload)).toEqual(["count", "next_action", "pauses", "problems", "queue_root", "status", "summary", "tasks"]);
    expect((payload.tasks as unknown[]).length).toBe(5);
    expect(result.stdout).toBe(`${JSON.stringify(payload, null, 2)}\n`.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
  });
});
