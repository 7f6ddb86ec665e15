// The one-shot listing caches of a queue with a long history: the listing
// snapshot (which task folders there are, taken while the tasks folder keeps
// one identity) and the rendered views of finished tasks. What the CLI prints
// from them must be what it prints without them; every change another writer
// (the real Python tool among them) makes must show at once.

import { mkdir, readFile, readdir, rm, truncate, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listedJson, listedTasks, finishedRenderer, toView } from "../../src/cli/views.js";
import { openStore } from "../../src/store/file-store.js";
import { toJsonFile, toJsonLine, toPythonJson } from "../../src/store/json.js";
import { loadRendered } from "../../src/store/rendered-cache.js";
import type { Task } from "../../src/store/types.js";
import { makeCliWorkspace, type CliWorkspace } from "./cli-helpers.js";
import { hasPython, pythonTool } from "../interop/python-tool.js";

/** More than the listing's threshold for reading the rendered cache (200 finished tasks). */
const FINISHED = 240;

/**
 * Write `count` finished tasks straight into the queue in the protocol's
 * layout: every fifth failed without a response, every seventh with a note
 * event after its answer, one with non-ASCII metadata.
 */
async function writeFinished(queue: string, root: string, count: number, lane = "default"): Promise<string[]> {
  const ids: string[] = [];
  const request = path.join(root, "history.md");
  await writeFile(request, "history\n");
  for (let i = 0; i < count; i += 1) {
    const stamp = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const id = `${stamp.replace(/[-:]/g, "").replace("Z", "000000Z")}-${lane}${i}-0123456789ab`;
    const failed = i % 5 === 4;
    const dir = path.join(queue, "tasks", id);
    await mkdir(dir, { recursive: true });
    const task = {
      id, workspace_id: "ws", correlation_id: `old${i}`, source_agent: "orchestrator", lane, workspace_root: root, worktree_path: null,
      expected_branch: null, request_path: request, request_sha256: "0".repeat(64), supporting_paths: [], response_path: path.join(root, `out/old${i}.md`),
      prompt: "", metadata: i === 3 ? { note: "café ✓" } : {}, state: failed ? "failed" : "completed", created_at: stamp, updated_at: stamp,
      claim_owner: "w", claim_token: "t", lease_expires_at: stamp, claimed_at: stamp, completed_at: failed ? null : stamp, failed_at: failed ? stamp : null,
      failure_reason: failed ? "gave up" : null,
    };
    await writeFile(path.join(dir, "task.json"), toJsonFile(task));
    const events = [{ created_at: stamp, type: "created", message: "", data: { lane } }];
    if (i % 7 === 6) events.push({ created_at: stamp.replace("Z", ".5Z"), type: "note", message: "after", data: {} });
    await writeFile(path.join(dir, "events.jsonl"), events.map((e) => `${toJsonLine(e)}\n`).join(""));
    if (!failed) await writeFile(path.join(dir, "response.json"), toJsonFile({ task_id: id, status: "completed", body: `answer ${i}`, reviewer: "w", metadata: {} }));
    ids.push(id);
  }
  return ids;
}

/** Make the tasks folder's mtime old enough to be trusted (the racy window is 2 s). */
async function ageTasksFolder(queue: string): Promise<void> {
  const past = new Date(Date.now() - 60_000);
  await utimes(path.join(queue, "tasks"), past, past);
}

const masked = (text: string): string => text.replace(/"last_event_age_seconds": \d+/g, '"last_event_age_seconds": AGE');

describe("listing caches of a long-lived queue", () => {
  let ws: CliWorkspace;
  let old: string[];

  beforeAll(async () => {
    ws = await makeCliWorkspace("al-listing-cache-");
    await ws.submit("default"); // a live task beside the history
    old = await writeFinished(ws.queue, ws.root, FINISHED);
    await ageTasksFolder(ws.queue);
  }, 60_000);
  const withoutArchive = (ids: string[]): string[] => ids.filter((id) => !id.includes("-archive"));

  afterAll(async () => {
    await ws.cleanup();
  });

  it("status --all and list print from the caches exactly what they print without them", async () => {
    // No cache at all: the first run reads every task (and fills the caches).
    const cold = await ws.run(["status", "--all", "--json"]);
    expect(cold.exitCode, cold.stderr).toBe(0);
    const cache = await readdir(path.join(ws.queue, "cache"));
    expect(cache).toContain("tasks-listing.txt");
    expect(cache.some((name) => /^finished-rendered-.*\.dat$/.test(name))).toBe(true);
    const warm = await ws.run(["status", "--all", "--json"]);
    expect(warm.exitCode).toBe(0);
    expect(masked(warm.stdout)).toBe(masked(cold.stdout));
    const payload = warm.json<{ count: number; summary: Record<string, number>; tasks: Array<{ id: string; missing_response: boolean; last_event: { type: string } }> }>();
    expect(payload.count).toBe(FINISHED + 1);
    expect(payload.summary).toMatchObject({ queued: 1, completed: FINISHED - FINISHED / 5, failed: FINISHED / 5, missing_response: FINISHED / 5 });
    expect(payload.tasks.filter((t) => t.last_event.type === "note")).toHaveLength(Math.floor((FINISHED + 1) / 7));
    expect(warm.stdout).toContain("caf\\u00e9 \\u2713"); // escaped as Python's json.dumps does
    const list = await ws.run(["list", "--json"]);
    expect(list.json<{ tasks: Array<{ id: string }> }>().tasks.map((t) => t.id).slice(0, FINISHED)).toEqual(old);
    // Text mode names the same tasks.
    const text = await ws.run(["status", "--all"]);
    expect(text.stdout).toContain(`${old[4]} state=failed lane=default missing_response`);
  }, 60_000);

  it("a finished task's new event shows in the next listing", async () => {
    await ws.run(["status", "--all", "--json"]);
    const target = old[10] as string;
    const added = await ws.run(["event", target, "--type", "note", "--message", "looked again"]);
    expect(added.exitCode, added.stderr).toBe(0);
    const after = (await ws.run(["list", "--json"])).json<{ tasks: Array<{ id: string; last_event: { message: string } }> }>();
    expect(after.tasks.find((t) => t.id === target)?.last_event.message).toBe("looked again");
  }, 60_000);

  it("damaged caches are read around and rewritten", async () => {
    const before = await ws.run(["status", "--all", "--json"]);
    const folder = path.join(ws.queue, "cache");
    const rendered = (await readdir(folder)).find((name) => name.startsWith("finished-rendered-")) as string;
    const size = (await readFile(path.join(folder, rendered))).length;
    await truncate(path.join(folder, rendered), Math.floor(size / 2) + 7); // a crash mid-append
    await writeFile(path.join(folder, "tasks-listing.txt"), '{"v":1,"dir":[1,2],"live":[],"finished":3,"lanes":{}}\nnot\nthis\n');
    const after = await ws.run(["status", "--all", "--json"]);
    expect(masked(after.stdout)).toBe(masked(before.stdout));
    // Rewritten whole: every finished task's record, nothing damaged.
    const reread = await loadRendered(path.join(folder, rendered));
    expect(reread.damaged).toBe(false);
    expect(reread.records.size).toBe(FINISHED);
  }, 60_000);

  it("wait --lane finds the live task and names an idle lane's reason from the snapshot", async () => {
    await writeFinished(ws.queue, ws.root, 2, "archive"); // a lane whose every task is finished
    await ageTasksFolder(ws.queue);
    for (let i = 0; i < 3; i += 1) {
      const finishedOnly = await ws.run(["wait", "--lane", "archive", "--timeout", "0", "--json"]);
      expect(finishedOnly.json<{ reason: string }>().reason, `run ${i}`).toBe("no_queued_task");
      const found = await ws.run(["wait", "--lane", "default", "--timeout", "0", "--json"]);
      expect(found.json<{ status: string }>().status).toBe("task_available");
      const other = await ws.run(["wait", "--lane", "nobody", "--timeout", "0", "--json"]);
      expect(other.json<{ reason: string }>().reason).toBe("no_task_submitted");
    }
  });

  it("a pruned task leaves the listing, a new one joins it", async () => {
    await ws.run(["list", "--json"]);
    const pruned = await ws.run(["prune", "--lane", "default", "--older-than", "0s", "--keep-last", String(FINISHED - 3), "--force", "--json"]);
    expect(pruned.exitCode, pruned.stderr).toBe(0);
    expect(pruned.json<{ pruned: unknown[] }>().pruned).toHaveLength(3);
    const fresh = await ws.submit("default");
    const ids = withoutArchive((await ws.run(["list", "--json"])).json<{ tasks: Array<{ id: string }> }>().tasks.map((t) => t.id));
    expect(ids).toHaveLength(FINISHED - 3 + 2);
    expect(ids).not.toContain(old[0]);
    expect(ids).toContain(fresh);
  }, 60_000);
});

describe("the rendered view of a finished task", () => {
  it("is byte for byte the view the listing would serialise, at any clock", async () => {
    const ws = await makeCliWorkspace("al-rendered-");
    try {
      await writeFinished(ws.queue, ws.root, FINISHED);
      const store = openStore(ws.queue);
      const renderer = finishedRenderer();
      const items = await store.renderedSummaries?.({}, renderer);
      const again = await store.renderedSummaries?.({}, renderer); // from the cache file this time
      const summaries = await store.summaries();
      await store.close();
      expect(items?.filter((i) => i.rendered)).toHaveLength(FINISHED);
      for (const now of [new Date(Date.UTC(2026, 5, 1)), new Date(Date.UTC(2031, 0, 1, 12, 0, 0, 999))]) {
        for (const listing of [items, again]) {
          const ours = listedTasks(listing ?? [], now).map((t) => Buffer.concat(listedJson(t, now, "    ").map((p) => Buffer.from(p))).toString());
          const reference = summaries.map((s) => toPythonJson(toView(s.task as Task, { responseExists: s.response_exists, lastEvent: s.last_event }, now), 2).replaceAll("\n", "\n    "));
          expect(ours).toEqual(reference);
        }
      }
    } finally {
      await ws.cleanup();
    }
  }, 60_000);
});

describe.runIf(hasPython)("listing caches and the real Python tool on the same queue", () => {
  let ws: CliWorkspace;
  const py = (args: string[]) => pythonTool(["--config", ws.config, ...args], ws.root);

  beforeAll(async () => {
    ws = await makeCliWorkspace("al-listing-py-");
    await writeFinished(ws.queue, ws.root, FINISHED);
    await ageTasksFolder(ws.queue);
  }, 60_000);

  afterAll(async () => {
    await rm(ws.root, { recursive: true, force: true });
  });

  it("every write of the Python tool shows in our next listing", async () => {
    // Warm caches first: a snapshot of the unchanged folder and the rendered views.
    for (let i = 0; i < 2; i += 1) expect((await ws.run(["status", "--all", "--json"])).exitCode).toBe(0);
    await writeFile(path.join(ws.root, "py.md"), "from python\n");
    const submitted = py(["--json", "submit", "--lane", "default", "--task-id", "py", "--request-from", "py.md", "--response-to", "out/py.md"]);
    expect(submitted.status, submitted.stderr).toBe(0);
    const id = (JSON.parse(submitted.stdout) as { task_id: string }).task_id;
    const next = await ws.run(["next", "--lane", "default", "--timeout", "0", "--json"]);
    expect(next.json<{ task: { id: string } }>().task.id).toBe(id);
    await ageTasksFolder(ws.queue); // the snapshot is taken again of the changed folder
    await ws.run(["list", "--json"]);

    const claimed = JSON.parse(py(["--json", "claim", id, "--owner", "py"]).stdout) as { claim_token: string };
    const whileClaimed = (await ws.run(["status", "--all", "--json"])).json<{ summary: { claimed: number } }>();
    expect(whileClaimed.summary.claimed).toBe(1);
    expect((await ws.run(["next", "--lane", "default", "--timeout", "0", "--json"])).json<{ status: string }>().status).toBe("idle");

    expect(py(["respond", id, "--claim-token", claimed.claim_token, "--body", "done by python"]).status).toBe(0);
    const done = (await ws.run(["status", "--all", "--json"])).json<{ summary: { completed: number; claimed: number }; tasks: Array<{ id: string; state: string }> }>();
    expect(done.summary).toMatchObject({ claimed: 0, completed: FINISHED - FINISHED / 5 + 1 });
    expect(done.tasks.at(-1)).toMatchObject({ id, state: "completed" });
    // And Python reads the queue our caches sit beside as before.
    const pyList = JSON.parse(py(["--json", "list"]).stdout) as { count: number };
    expect(pyList.count).toBe(FINISHED + 1);
  }, 120_000);
});
