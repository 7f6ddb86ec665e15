// The real CLI (dist/) on a PostgreSQL queue: migrate, the errors that name
// the URL (password masked) and the fix, and a whole hand-off across two
// "hosts" that share no files: a submitter's workspace whose queue_root is the
// database URL, and a dispatcher with its own home and working folder whose
// agent (a fake that reports its folder) gets the request materialised from
// the database. Needs `npm run build` first (npm run test:postgres does it).

import { existsSync } from "node:fs";
import { mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, usePostgres } from "../helpers/postgres.js";
import { MIGRATIONS, SCHEMA_VERSION } from "../../src/store/postgres/migrations.js";
import { makeCliWorkspace, run, start, toResult, type CliWorkspace } from "../cli/cli-helpers.js";
import { FAKE_ADAPTER } from "../supervisor/helpers.js";
import { openPostgresStore } from "../../src/store/postgres/store.js";
import { setPause } from "../../src/supervisor/pauses.js";

const server = usePostgres();
const PASSWORD = /agent-lanes-test/;

let ws: CliWorkspace;
let url: string;
let masked: string;
/** The dispatcher's "host": its own home and working folder. */
let hostB: string;

beforeAll(async () => {
  url = await server.freshDatabase({ migrate: false });
  masked = url.replace(/:[^:@/]+@/, ":***@");
  ws = await makeCliWorkspace("al-pg-cli-");
  const config = await readFile(ws.config, "utf8");
  expect(config).toMatch(/^queue_root: .*$/m);
  await writeFile(ws.config, config.replace(/^queue_root: .*$/m, `queue_root: ${url}`));
  hostB = await realpath(await mkdtemp(path.join(os.tmpdir(), "al-pg-hostb-")));
});

afterAll(async () => {
  await ws?.cleanup();
  if (hostB) await rm(hostB, { recursive: true, force: true });
});

describe("agent-lanes on a PostgreSQL queue", () => {
  it("before migrate, commands name the URL (password masked) and the fix", async () => {
    const result = await ws.run(["status", "--all"]);
    expect(result.exitCode).toBe(1);
    expect(result.errLines).toEqual([`agent-lanes: the PostgreSQL queue at ${masked} has no agent-lanes tables yet: run \`agent-lanes migrate --store ${masked}\` (dispatch and serve migrate by themselves)`]);
    expect(result.stderr).not.toMatch(PASSWORD);
  });

  it("migrate applies the schema once; again, it has nothing to do", async () => {
    const first = await ws.run(["migrate", "--json"]);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.json()).toEqual({ status: "ok", store: masked, kind: "postgres", from: 0, to: SCHEMA_VERSION, applied: MIGRATIONS.map((m) => ({ version: m.version, name: m.name })) });
    expect(first.stdout).not.toMatch(PASSWORD);
    const again = await ws.run(["migrate"]);
    expect(again.stdout).toBe(`${masked}: schema already at version ${SCHEMA_VERSION}; nothing to do\n`);
    const folder = await run(["--store", path.join(hostB, "q"), "migrate"], { cwd: hostB });
    expect(folder.stdout).toMatch(/is a queue folder: nothing to migrate/);
  });

  it("an unreachable server is one line naming the URL without its password", async () => {
    const port = await freePort();
    const result = await run(["--store", `postgres://someone:s3cret-pw@127.0.0.1:${port}/lanes`, "status", "--all"], { cwd: hostB });
    expect(result.exitCode).toBe(1);
    expect(result.errLines).toHaveLength(1);
    expect(result.errLines[0]).toMatch(new RegExp(`^agent-lanes: cannot reach the PostgreSQL queue at postgres://someone:\\*\\*\\*@127\\.0\\.0\\.1:${port}/lanes: .*ECONNREFUSED`));
    expect(result.stderr).not.toMatch(/s3cret-pw/);
  });

  it("a schema newer than this build is refused with the fix", async () => {
    const newer = await server.freshDatabase();
    const client = new pg.Client({ connectionString: newer });
    await client.connect();
    await client.query("INSERT INTO agent_lanes.schema_migrations (version, name) VALUES (99, 'from the future')");
    await client.end();
    const result = await run(["--store", newer, "dispatch", "--vendor", "fake", "--vendor-module", FAKE_ADAPTER], { cwd: hostB });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`has schema version 99, newer than this agent-lanes knows (${SCHEMA_VERSION}): upgrade agent-lanes on this host`);
    expect(result.stderr).not.toMatch(PASSWORD);
  });

  it("submit → dispatch on another host → wait: the request travels in the database, the answer comes back to the workspace", async () => {
    const dispatcher = start(
      ["--store", url, "dispatch", "--vendor", "fake", "--vendor-module", FAKE_ADAPTER, "--poll-seconds", "0.5", "--log-format", "json"],
      { cwd: hostB, env: { HOME: hostB, XDG_STATE_HOME: path.join(hostB, "state") }, timeoutMs: 120_000 },
    );
    try {
      // Started (and so the schema migrated by the dispatcher) before the submit.
      await new Promise<void>((resolve, reject) => {
        let log = "";
        dispatcher.stderr?.on("data", (chunk: Buffer) => {
          log += chunk.toString();
          if (log.includes("dispatcher started")) resolve();
        });
        dispatcher.then(() => reject(new Error(`dispatch ended: ${log}`)), reject);
      });
      await ws.file("requests/review.md", "please review the parser\n");
      await ws.file("docs/spec.md", "the spec\n");
      await ws.file(
        "tasks/review.yaml",
        "lane: default\nrequest_from: requests/review.md\nresponse_to: responses/review.md\nsupporting_paths:\n  - docs/spec.md\nmetadata:\n  agent: show-workspace\n",
      );
      const submitted = await ws.run(["submit", "--task", "tasks/review.yaml", "--json"]);
      expect(submitted.exitCode, submitted.stderr).toBe(0);
      const id = submitted.json<{ task_id: string }>().task_id;
      // The submitter's files go away: the dispatcher must not need them.
      await rm(path.join(ws.root, "requests"), { recursive: true });
      await rm(path.join(ws.root, "docs"), { recursive: true });

      const waited = await ws.run(["wait", id, "--json", "--timeout", "60"], { timeoutMs: 70_000 });
      expect(waited.exitCode, waited.stderr).toBe(0);
      const payload = waited.json<{ status: string; response_path: string; response: { body: string; status: string; reviewer: string } }>();
      expect(payload.status).toBe("completed");
      expect(payload.response.status).toBe("completed");
      const report = JSON.parse(payload.response.body) as { cwd: string; parentMode: string; files: Record<string, string> };
      // The agent ran in a private folder of the dispatcher's host, holding the request and supporting file as submitted.
      expect(report.cwd.startsWith(ws.root)).toBe(false);
      expect(report.cwd.startsWith(path.join(os.tmpdir(), "agent-lanes-task-"))).toBe(true);
      expect(report.parentMode).toBe("700");
      expect(report.files).toEqual({ "requests/review.md": "please review the parser\n", "docs/spec.md": "the spec\n" });
      expect(existsSync(report.cwd)).toBe(false); // removed once the run ended
      // wait wrote the body on the submitter's host.
      expect(payload.response_path).toBe(path.join(ws.root, "responses", "review.md"));
      expect(await readFile(payload.response_path, "utf8")).toBe(payload.response.body);

      const status = await ws.run(["status", id, "--json"]);
      expect(status.json<{ task: Record<string, unknown> }>().task).toMatchObject({ state: "completed", response_exists: true, missing_response: false });
      const events = await ws.run(["status", "--all", "--json"]);
      expect(events.json<{ queue_root: string; count: number }>()).toMatchObject({ queue_root: masked, count: 1 });
      // AGENT_LANES_STORE names the queue where there is no handoff.yaml.
      const viaEnv = await run(["status", "--all", "--json"], { cwd: hostB, env: { AGENT_LANES_STORE: url } });
      expect(viaEnv.exitCode, viaEnv.stderr).toBe(0);
      expect(viaEnv.json<{ tasks: Array<{ task_id?: string; id?: string }> }>().tasks).toHaveLength(1);
    } finally {
      dispatcher.kill("SIGTERM");
    }
    const ended = toResult(await dispatcher);
    expect(ended.exitCode, ended.stderr.slice(-2000)).toBe(0);
  }, 120_000);

  it("a vendor pause in the database holds every dispatcher of the vendor; resume on another host lets it claim at once", async () => {
    const store = await openPostgresStore(url, { localRoot: path.join(hostB, "host-c"), migrate: true });
    await setPause(store, "fake", { reason: "limit hit on host c", kind: "usage-limit", owner: "host-c", until: new Date(Date.now() + 3600_000), jitter: false });
    await store.close();
    const dispatcher = start(
      ["--store", url, "dispatch", "--vendor", "fake", "--vendor-module", FAKE_ADAPTER, "--poll-seconds", "30", "--log-format", "json"],
      { cwd: hostB, env: { HOME: hostB, XDG_STATE_HOME: path.join(hostB, "state") }, timeoutMs: 120_000 },
    );
    try {
      let log = "";
      const paused = new Promise<void>((resolve) => {
        dispatcher.stderr?.on("data", (chunk: Buffer) => {
          log += chunk.toString();
          if (/not claiming: fake paused until/.test(log)) resolve();
        });
      });
      await ws.file("requests/paused.md", "held by a pause\n");
      const submitted = await ws.run(["submit", "--lane", "default", "--request-from", "requests/paused.md", "--response-to", "responses/paused.md", "--json"]);
      const id = submitted.json<{ task_id: string }>().task_id;
      await paused;
      expect((await ws.run(["status", id, "--json"])).json<{ task: { state: string } }>().task.state).toBe("queued");
      // Lifted from the submitter's host: the NOTIFY wakes the dispatcher (its poll is 30 s).
      expect((await ws.run(["resume", "--vendor", "fake"])).exitCode).toBe(0);
      const waited = await ws.run(["wait", id, "--json", "--timeout", "25"], { timeoutMs: 30_000 });
      expect(waited.exitCode, waited.stderr).toBe(0);
      expect(waited.json<{ response: { body: string } }>().response.body).toMatch(/^echo agent answer: /);
    } finally {
      dispatcher.kill("SIGTERM");
    }
    expect(toResult(await dispatcher).exitCode).toBe(0);
  }, 120_000);

  it("doctor checks the database (reachable, schema) and reads the pauses there", async () => {
    const store = await openPostgresStore(url, { localRoot: path.join(hostB, "host-d"), migrate: true });
    await setPause(store, "codex", { reason: "limit", kind: "usage-limit", owner: "host-d", until: new Date(Date.now() + 3600_000), jitter: false });
    await store.close();
    const env = { HOME: hostB, PATH: path.dirname(process.execPath) };
    const result = await run(["--store", url, "doctor", "--vendor", "codex", "--no-service", "--json"], { cwd: hostB, env });
    const checks = result.json<{ checks: Array<{ area: string; check: string; status: string; detail: string }> }>().checks;
    expect(checks).toContainEqual(expect.objectContaining({ area: "queue", check: "database", status: "ok", detail: `${masked} reachable, schema version ${SCHEMA_VERSION}` }));
    expect(checks).toContainEqual(expect.objectContaining({ area: "codex", check: "pause", status: "warn", detail: expect.stringContaining("codex paused until") }));
    expect(result.stdout).not.toMatch(PASSWORD);
    const down = await run(["--store", `postgres://x:hidden@127.0.0.1:${await freePort()}/db`, "doctor", "--vendor", "codex", "--no-service", "--json"], { cwd: hostB, env });
    const failed = down.json<{ checks: Array<{ area: string; check: string; status: string; detail: string }> }>().checks;
    expect(failed).toContainEqual(expect.objectContaining({ area: "queue", check: "database", status: "fail", detail: expect.stringMatching(/^cannot reach the PostgreSQL queue at postgres:\/\/x:\*\*\*@/) }));
    expect(down.stdout).not.toMatch(/hidden/);
    expect(down.exitCode).toBe(1);
  }, 60_000);
});
