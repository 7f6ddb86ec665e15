// prune against the real Python tool (agent_lanes 0.1.1 from shared/): the
// Python CLI fills a queue, our `agent-lanes prune` removes (and archives) its
// finished tasks, and the Python CLI keeps working on the pruned queue.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI } from "../cli/cli-helpers.js";
import { hasPython, pythonTool } from "./python-tool.js";

describe.runIf(hasPython)("prune on a queue the real Python tool keeps using", () => {
  let root: string;
  const py = (args: string[]) => pythonTool(args, root);
  const ours = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: root, encoding: "utf8" });
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "al-prune-py-"));
    expect(py(["init", "--workspace-id", "ws"]).status).toBe(0);
    for (const name of ["fetched-1", "fetched-2", "unfetched", "failed", "live"]) {
      await writeFile(path.join(root, `${name}.md`), `request ${name}\n`);
      const submitted = py(["--json", "submit", "--lane", "default", "--task-id", name, "--request-from", `${name}.md`, "--response-to", `out/${name}.md`, "--prompt", "p"]);
      expect(submitted.status, submitted.stderr).toBe(0);
      ids[name] = (JSON.parse(submitted.stdout) as { task_id: string }).task_id;
    }
    for (const name of ["fetched-1", "fetched-2", "unfetched", "failed"]) {
      const claimed = JSON.parse(py(["--json", "claim", ids[name] as string, "--owner", "py"]).stdout) as { claim_token: string };
      const status = name === "failed" ? "failed" : "completed";
      expect(py(["respond", ids[name] as string, "--claim-token", claimed.claim_token, "--body", `answer ${name}`, "--status", status]).status).toBe(0);
    }
    // The orchestrator fetched these answers (Python's wait writes response_to); a failed answer is fetched too.
    for (const name of ["fetched-1", "fetched-2", "failed"]) expect(py(["wait", ids[name] as string, "--timeout", "5"]).status).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("prunes the fetched finished tasks and their index files, archives them, keeps the unfetched and the live one", async () => {
    const archive = path.join(root, "archive");
    const result = ours(["prune", "--older-than", "0s", "--archive", archive, "--json"]);
    expect(result.status, result.stderr).toBe(0);
    const payload = JSON.parse(result.stdout) as { pruned: Array<{ id: string }>; kept: Array<{ id: string; reason: string }> };
    expect(payload.pruned.map((p) => p.id).sort()).toEqual([ids["fetched-1"], ids["fetched-2"], ids.failed].sort());
    expect(payload.kept).toEqual([expect.objectContaining({ id: ids.unfetched, reason: "response_not_fetched" })]);
    const left = (await readdir(path.join(root, "handoff", "state", "tasks"))).sort();
    expect(left).toEqual([ids.unfetched, ids.live].sort());
    const indexes = await readdir(path.join(root, "handoff", "state", "indexes", "correlations"));
    expect(indexes.sort()).toEqual(["ws--live.json", "ws--unfetched.json"]);
    const month = (await readdir(archive))[0] as string;
    const listing = execFileSync("tar", ["-tzf", path.join(archive, month)]).toString();
    expect(listing).toContain(`tasks/${ids["fetched-1"]}/response.json`);
  });

  it("the Python tool reads and works the pruned queue: status, list, next, claim, respond, wait, a resubmitted correlation id", async () => {
    const status = py(["--json", "status", "--all"]);
    expect(status.status, status.stderr).toBe(0);
    const all = JSON.parse(status.stdout) as { tasks: Array<{ id: string; state: string }>; summary: Record<string, number> };
    expect(all.tasks.map((t) => t.id).sort()).toEqual([ids.unfetched, ids.live].sort());
    expect(all.summary).toMatchObject({ queued: 1, completed: 1, failed: 0 });
    expect(JSON.parse(py(["--json", "list"]).stdout).count).toBe(2);
    const gone = py(["status", ids["fetched-1"] as string]);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toContain(`unknown task: ${ids["fetched-1"]}`);

    const next = JSON.parse(py(["--json", "next", "--lane", "default", "--timeout", "0"]).stdout) as { task: { id: string } };
    expect(next.task.id).toBe(ids.live);
    const claimed = JSON.parse(py(["--json", "claim", ids.live as string]).stdout) as { claim_token: string };
    expect(py(["respond", ids.live as string, "--claim-token", claimed.claim_token, "--body", "late answer"]).status).toBe(0);
    expect(py(["wait", ids.live as string, "--timeout", "5"]).status).toBe(0);

    // A correlation id whose index file went with its task can be submitted again.
    const again = py(["--json", "submit", "--lane", "default", "--task-id", "fetched-1", "--request-from", "fetched-1.md", "--response-to", "out/again.md", "--prompt", "p"]);
    expect(again.status, again.stderr).toBe(0);
    const idle = JSON.parse(py(["--json", "next", "--lane", "default", "--timeout", "0"]).stdout) as { task: { id: string } };
    expect(idle.task.id).toBe((JSON.parse(again.stdout) as { task_id: string }).task_id);

    // and ours agrees with Python's view of the queue
    const mine = JSON.parse(ours(["status", "--all", "--json"]).stdout) as { tasks: Array<{ id: string }> };
    const theirs = JSON.parse(py(["--json", "status", "--all"]).stdout) as { tasks: Array<{ id: string }> };
    expect(mine.tasks.map((t) => t.id)).toEqual(theirs.tasks.map((t) => t.id));
  });
});
