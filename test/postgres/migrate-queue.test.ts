// migrate-queue against a real PostgreSQL: a queue folder written by the
// real Python tool (tasks in every state, events, responses, a supporting
// file) is copied by the built CLI into a fresh database; what the database
// then holds is compared with the folder file by file; a second run copies
// nothing new and says so; a live task whose request file is gone is refused
// with the fix and copied once the file is back; --dry-run writes nothing;
// bad --from/--to are one line naming the folder or URL and the fix.

import { readFile, mkdtemp, rm, writeFile, mkdir, readdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../src/store/postgres/migrations.js";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/store.js";
import { materializeTask } from "../../src/supervisor/materialize.js";
import { run } from "../cli/cli-helpers.js";
import { freePort, usePostgres } from "../helpers/postgres.js";
import { hasPython, pythonTool } from "../interop/python-tool.js";

const server = usePostgres();

describe.runIf(hasPython)("migrate-queue: a Python-written queue folder into PostgreSQL", () => {
  let root: string;
  let queue: string;
  let url: string;
  let masked: string;
  const ids: Record<string, string> = {};
  const py = (args: string[]) => {
    const r = pythonTool(args, root);
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  };
  const ours = (args: string[]) => run(args, { cwd: root });

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "al-mq-py-"));
    queue = path.join(root, "handoff", "state");
    url = await server.freshDatabase({ migrate: false });
    masked = url.replace(/:[^:@/]+@/, ":***@");
    py(["init", "--workspace-id", "ws"]);
    await mkdir(path.join(root, "docs"));
    await writeFile(path.join(root, "docs", "spec.md"), "the spec\n");
    for (const name of ["done", "failed", "running", "waiting", "lost"]) {
      await writeFile(path.join(root, `${name}.md`), `request ${name}\n`);
      await writeFile(
        path.join(root, `${name}.yaml`),
        `lane: default\nrequest_from: ${name}.md\nresponse_to: out/${name}.md\nprompt: review ${name}\nsupporting_paths:\n  - docs/spec.md\n`,
      );
      ids[name] = (JSON.parse(py(["--json", "submit", "--task", `${name}.yaml`, "--task-id", name])) as { task_id: string }).task_id;
    }
    for (const name of ["done", "failed", "running"]) {
      const claimed = JSON.parse(py(["--json", "claim", ids[name] as string, "--owner", "py-reviewer"])) as { claim_token: string };
      if (name !== "running") {
        py(["respond", ids[name] as string, "--claim-token", claimed.claim_token, "--body", `answer ${name}\n`, "--status", name === "failed" ? "failed" : "completed"]);
      }
    }
    py(["event", ids.waiting as string, "--type", "note", "--message", "looked at it", "--data", "k=v"]);
    py(["wait", ids.done as string, "--timeout", "5"]); // fetched: out/done.md written
    await rm(path.join(root, "lost.md")); // a live task whose request is gone
  }, 120_000);

  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("refuses a --from that is not a queue folder and a --to that is not a URL, in one line naming them and the fix", async () => {
    const notQueue = await ours(["migrate-queue", "--from", root, "--to", url]);
    expect(notQueue.exitCode).toBe(1);
    expect(notQueue.errLines).toEqual([`agent-lanes: --from ${root} is not a queue folder: it holds no tasks/ folder; did you mean --from ${queue}?`]);
    const notUrl = await ours(["migrate-queue", "--from", queue, "--to", path.join(root, "other")]);
    expect(notUrl.errLines).toEqual([`agent-lanes: --to must be a postgres:// URL, got ${path.join(root, "other")} (a queue folder needs no migration: point queue_root at it)`]);
    const port = await freePort();
    const down = await ours(["migrate-queue", "--from", queue, "--to", `postgres://someone:s3cret@127.0.0.1:${port}/lanes`]);
    expect(down.exitCode).toBe(1);
    expect(down.errLines).toEqual([expect.stringMatching(new RegExp(`^agent-lanes: cannot reach the PostgreSQL queue at postgres://someone:\\*\\*\\*@127\\.0\\.0\\.1:${port}/lanes: .*ECONNREFUSED.*\\(start the server or fix the URL in --to;`))]);
    expect(down.stderr).not.toMatch(/s3cret/);
    const noTo = await ours(["migrate-queue", "--from", queue]);
    expect(noTo.errLines[0]).toMatch(/missing required option --to postgres:\/\/.*AGENT_LANES_STORE/);
  });

  it("--dry-run reports what it would copy and writes nothing, not even the schema", async () => {
    const dry = await ours(["migrate-queue", "--from", queue, "--to", url, "--dry-run", "--json"]);
    expect(dry.exitCode).toBe(1); // the lost task would not be copied
    const payload = dry.json<{ dry_run: boolean; copied: Array<{ id: string }>; skipped: Array<{ id: string }> }>();
    expect(payload.dry_run).toBe(true);
    expect(payload.copied.map((t) => t.id).sort()).toEqual([ids.done, ids.failed, ids.running, ids.waiting].sort());
    expect(payload.skipped.map((s) => s.id)).toEqual([ids.lost]);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query("SELECT to_regclass('agent_lanes.tasks')::text AS t");
    await client.end();
    expect(rows[0].t).toBeNull();
  });

  it("copies tasks, states, events, responses and files; refuses the live task whose request is gone, naming the file and the fix", async () => {
    const first = await ours(["migrate-queue", "--from", queue, "--to", url]);
    expect(first.exitCode, first.stderr).toBe(1);
    for (const m of MIGRATIONS) expect(first.stdout).toContain(`applied migration ${m.version}: ${m.name}`);
    expect(first.stdout).toContain(`copied 4 task(s) from ${queue} to ${masked}: 2 finished, 2 live;`);
    expect(first.stdout).toContain(
      `not copied: task ${ids.lost} (queued) was not copied: its request file ${path.join(root, "lost.md")} is gone; restore the file, or answer or cancel the task in the folder, then run migrate-queue again`,
    );
    expect(first.stdout).not.toMatch(/agent-lanes-test/);

    const store: PostgresStore = await openPostgresStore(url, { localRoot: path.join(root, "local") });
    try {
      for (const name of ["done", "failed", "running", "waiting"]) {
        const id = ids[name] as string;
        const dir = path.join(queue, "tasks", id);
        expect(await store.get(id)).toEqual(JSON.parse(await readFile(path.join(dir, "task.json"), "utf8")));
        const lines = (await readFile(path.join(dir, "events.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
        expect(await store.readEvents(id)).toEqual(lines.map((e) => ({ created_at: e.created_at, type: e.type, message: e.message ?? "", data: e.data ?? {} })));
        const files = await readdir(dir);
        const response = await store.getResponse(id);
        if (files.includes("response.json")) expect(response).toEqual(JSON.parse(await readFile(path.join(dir, "response.json"), "utf8")));
        else expect(response).toBeNull();
      }
      expect((await store.get(ids.running as string)).state).toBe("claimed");
      expect((await store.readEvents(ids.waiting as string)).at(-1)).toMatchObject({ type: "note", message: "looked at it", data: { k: "v" } });
      // The claimed task's lease is the folder's, now on the database clock.
      expect(await store.available()).toEqual([expect.objectContaining({ id: ids.waiting })]);
      // The queued task's request and supporting file travel: a dispatcher on another host materialises them.
      const waiting = await store.get(ids.waiting as string);
      const local = await materializeTask(waiting, store);
      try {
        expect(await readFile(local?.task.request_path as string, "utf8")).toBe("request waiting\n");
        expect(await readFile(local?.task.supporting_paths[0]?.path as string, "utf8")).toBe("the spec\n");
      } finally {
        await local?.remove();
      }
      // Only the fetched answer may be pruned; the unfetched one (failed's body never written) stays.
      const pruned = await store.prune({ olderThanMs: 0, dryRun: true });
      expect(pruned.pruned.map((p) => p.id)).toEqual([ids.done]);
      expect(pruned.kept.map((k) => k.id)).toEqual([ids.failed]);
    } finally {
      await store.close();
    }
  });

  it("a second run copies nothing new and says so; with the file back, only the refused task is copied", async () => {
    await writeFile(path.join(root, "elsewhere.md"), "x");
    const again = await ours(["migrate-queue", "--from", queue, "--to", url, "--json"]);
    const payload = again.json<{ copied: unknown[]; already: string[]; skipped: Array<{ id: string }>; migrated: unknown[] }>();
    expect(payload.copied).toEqual([]);
    expect(payload.migrated).toEqual([]);
    expect(payload.already.sort()).toEqual([ids.done, ids.failed, ids.running, ids.waiting].sort());
    expect(payload.skipped.map((s) => s.id)).toEqual([ids.lost]);

    await writeFile(path.join(root, "lost.md"), "request lost\n");
    const third = await ours(["migrate-queue", "--from", queue, "--to", url]);
    expect(third.exitCode, third.stderr).toBe(0);
    expect(third.stdout).toBe(`copied 1 task(s) from ${queue} to ${masked}: 0 finished, 1 live; 1 event(s), 0 response(s), 2 file(s)\n4 task(s) were already in the database\n`);
    const fourth = await ours(["migrate-queue", "--from", queue, "--to", url]);
    expect(fourth.exitCode).toBe(0);
    expect(fourth.stdout).toBe(`nothing new to copy from ${queue}: 5 task(s) already in ${masked}\n`);

    // The folder moves on after the copy (Python answers the claimed task): reported, the database's copy left alone.
    const token = (JSON.parse(await readFile(path.join(queue, "tasks", ids.running as string, "task.json"), "utf8")) as { claim_token: string }).claim_token;
    py(["respond", ids.running as string, "--claim-token", token, "--body", "late\n"]);
    const fifth = await ours(["migrate-queue", "--from", queue, "--to", url]);
    expect(fifth.stdout).toContain(`task ${ids.running} is completed in the folder but claimed in the database: left as the database has it`);
  });
});
