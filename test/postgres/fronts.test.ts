// The front ends on a PostgreSQL queue, through the built binary: the HTTP
// API and the dashboard's API (`serve`, which migrates a fresh database by
// itself), MCP (`agent-lanes mcp`, submit_task and wait_task across a real
// dispatcher), and vendor pauses (kept in the database: `resume` lifts one,
// status shows it). Needs `npm run build` first.

import { rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/store.js";
import { setPause } from "../../src/supervisor/pauses.js";
import { makeCliWorkspace, start, toResult, type CliWorkspace } from "../cli/cli-helpers.js";
import { payload, startDispatcher, startMcp, type McpSession } from "../mcp/helpers.js";
import { usePostgres } from "../helpers/postgres.js";

const server = usePostgres();
let ws: CliWorkspace;
let url: string;

beforeAll(async () => {
  url = await server.freshDatabase({ migrate: false });
  ws = await makeCliWorkspace("al-pg-fronts-");
  const { readFile, writeFile } = await import("node:fs/promises");
  await writeFile(ws.config, (await readFile(ws.config, "utf8")).replace(/^queue_root: .*$/m, `queue_root: ${url}`));
});

afterAll(async () => {
  await ws?.cleanup();
});

/** The "listening on URL" line of a started `serve`. */
function listening(child: ReturnType<typeof start>): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const m = /listening on (http:\/\/\S+) \(queue (\S+)\)/.exec(text);
      if (m) resolve(`${m[1]}|${m[2]}`);
    });
    child.then(() => reject(new Error(`serve ended: ${text}`)), reject);
  });
}

describe("serve on a PostgreSQL queue", () => {
  it("migrates a fresh database, then the HTTP API and the dashboard API work as on a folder", async () => {
    const serve = start(["serve", "--port", "0", "--log-level", "warn"], { cwd: ws.root, timeoutMs: 60_000 });
    try {
      const [base, queue] = (await listening(serve)).split("|") as [string, string];
      expect(queue).toBe(url.replace(/:[^:@/]+@/, ":***@"));
      const http = async (method: string, route: string, body?: unknown) => {
        const res = await fetch(`${base}${route}`, { method, headers: body ? { "content-type": "application/json" } : {}, body: body ? JSON.stringify(body) : undefined });
        return { status: res.status, json: (await res.json()) as Record<string, any> };
      };
      await ws.file("requests/http.md", "over http\n");
      const created = await http("POST", "/tasks", {
        workspace_id: "ws", correlation_id: "http", lane: "default", workspace_root: ws.root,
        request_path: "requests/http.md", response_path: "responses/http.md",
      });
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      const id = created.json.task.id as string;
      expect((await http("GET", "/tasks")).json.tasks.map((t: { id: string }) => t.id)).toEqual([id]);
      const claimed = await http("POST", `/tasks/${id}/claim`, { owner: "http-worker", lease_seconds: 60 });
      expect(claimed.json.task).toMatchObject({ state: "claimed", claim_owner: "http-worker" });
      const again = await http("POST", `/tasks/${id}/claim`, { owner: "other" });
      expect(again.status).toBe(400); // as on a folder queue (the Python server's status)
      expect(JSON.stringify(again.json)).toContain(`cannot claim ${id}; active lease held by http-worker`);
      const answered = await http("POST", `/tasks/${id}/response`, { body: "http answer", claim_token: claimed.json.task.claim_token });
      expect(answered.status, JSON.stringify(answered.json)).toBe(200);
      expect((await http("GET", `/tasks/${id}/response`)).json.response).toMatchObject({ body: "http answer", status: "completed" });
      const summary = await http("GET", "/api/summary");
      expect(summary.status).toBe(200);
      expect(JSON.stringify(summary.json)).toContain(id);
      // Counts and recent cards from the database's aggregates (finishedFacts), not a listing.
      expect(summary.json).toMatchObject({ total: 1, counts: { default: { queued: 0, claimed: 0, completed: 1, failed: 0 } } });
      expect(summary.json.cards.recent.map((t: { id: string }) => t.id)).toEqual([id]);
      const stats = await http("GET", "/api/stats");
      expect(stats.status).toBe(200);
      expect(stats.json.vendors).toEqual(["unassigned"]);
      expect(stats.json.hours.reduce((n: number, h: { values: Record<string, number> }) => n + (h.values.unassigned ?? 0), 0)).toBe(1);
      // The task page's file link serves the request as submitted, from the database (the file on disk is gone).
      await rm(path.join(ws.root, "requests", "http.md"));
      const file = await fetch(`${base}/api/tasks/${id}/files/request`);
      expect(file.status).toBe(200);
      expect(file.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      expect(await file.text()).toBe("over http\n");
      const detail = await http("GET", `/api/tasks/${id}`);
      expect(detail.status).toBe(200);
      expect(JSON.stringify(detail.json)).toContain("http answer");
      expect((await http("GET", "/api/pauses")).json).toEqual({ pauses: [] });
    } finally {
      serve.kill("SIGTERM");
    }
    expect(toResult(await serve).exitCode).toBe(0);
  }, 60_000);
});

describe("serve started before its PostgreSQL server", () => {
  it("says it is waiting, then listens once the server is up (as dispatch does)", async () => {
    await server.stop();
    let serve: ReturnType<typeof start> | undefined;
    try {
      serve = start(["serve", "--port", "0", "--log-level", "warn"], { cwd: ws.root, timeoutMs: 60_000 });
      let text = "";
      serve.stderr?.on("data", (chunk: Buffer) => (text += chunk.toString()));
      const deadline = Date.now() + 20_000;
      while (!/trying again in/.test(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(text).toMatch(/^agent-lanes: cannot reach the PostgreSQL queue at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/\w+: connect ECONNREFUSED .*; trying again in 0\.5 s$/m);
      expect(serve.exitCode ?? null).toBeNull();
      await server.start();
      const [base] = (await listening(serve)).split("|") as [string];
      const res = await fetch(`${base}/tasks`);
      expect(res.status).toBe(200);
    } finally {
      await server.start();
      serve?.kill("SIGTERM");
    }
    expect(toResult(await serve).exitCode).toBe(0);
  }, 90_000);
});

describe("vendor pauses in the database", () => {
  it("status shows a pause another host set; resume lifts it", async () => {
    const store: PostgresStore = await openPostgresStore(url, { localRoot: path.join(ws.root, "host-c"), migrate: true });
    try {
      await setPause(store, "codex", { reason: "usage limit", kind: "usage-limit", owner: "host-c", until: new Date(Date.now() + 3600_000), jitter: false });
      const status = toResult(await start(["status", "--all", "--json"], { cwd: ws.root }));
      expect(status.exitCode, status.stderr).toBe(0);
      const shown = JSON.parse(status.stdout) as { pauses: Array<{ vendor: string; active: boolean; set_by: string }>; next_action: string };
      expect(shown.pauses).toEqual([expect.objectContaining({ vendor: "codex", active: true, set_by: "host-c" })]);
      expect(shown.next_action).toContain("paused vendor(s): codex");
      const resumed = toResult(await start(["resume", "--vendor", "codex", "--json"], { cwd: ws.root }));
      expect(resumed.exitCode, resumed.stderr).toBe(0);
      expect(JSON.parse(resumed.stdout)).toMatchObject({ vendor: "codex", removed: true, active_pause: { vendor: "codex" } });
      expect((await store.pauses.list()).records).toEqual([]);
      const none = toResult(await start(["resume", "--vendor", "codex"], { cwd: ws.root }));
      expect(none.stdout).toMatch(/no pause in force on postgres:\/\/postgres:\*\*\*@/);
    } finally {
      await store.close();
    }
  });
});

describe("MCP on a PostgreSQL queue", () => {
  let mcp: McpSession | undefined;
  afterAll(async () => {
    await mcp?.close();
  });

  it("submit_task, then wait_task returns the answer a dispatcher on another host gave", async () => {
    // Whichever test ran first, the schema is there (mcp does not migrate).
    await (await openPostgresStore(url, { localRoot: path.join(ws.root, "host-m"), migrate: true })).close();
    mcp = await startMcp(["--config", ws.config], "pg-orchestrator");
    const sub = payload<{ task_id: string; response_path: string }>(await mcp.client.callTool({ name: "submit_task", arguments: { lane: "mcp", request_text: "QUESTION: over the database?\n" } }));
    const dispatcher = startDispatcher(url, 0, "mcp");
    try {
      const done = payload<{ state: string; body: string }>(
        await mcp.client.callTool({ name: "wait_task", arguments: { task_id: sub.task_id, max_wait_seconds: 60 } }, undefined, { timeout: 90_000 }),
      );
      expect(done.state).toBe("completed");
      expect(done.body).toContain("reviewed: QUESTION: over the database?");
      // wait_task wrote the answer on the orchestrator's host.
      const { readFile } = await import("node:fs/promises");
      expect(await readFile(sub.response_path, "utf8")).toBe(done.body);
      const listed = payload<{ tasks: Array<{ task_id?: string; id?: string }> }>(await mcp.client.callTool({ name: "list_tasks", arguments: { lane: "mcp" } }));
      expect(JSON.stringify(listed)).toContain(sub.task_id);
    } finally {
      dispatcher.kill("SIGTERM");
      await dispatcher;
    }
  }, 120_000);
});
