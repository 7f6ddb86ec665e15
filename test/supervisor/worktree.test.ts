// A worktree per task, with real git in a temporary repository: a dispatcher
// (in-process, concurrency 2, --worktree auto) runs agents that are real
// processes and commit in their working folder.

import { promises as fs } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Task } from "../../src/store/types.js";
import { startDispatcher, type Dispatcher } from "../../src/supervisor/supervisor.js";
import { branchName, removeTaskWorktree, worktreeFolder } from "../../src/supervisor/worktrees.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";
import { CLI, fakeAdapter, logSink, waitFor } from "./helpers.js";

let ws: TestWorkspace;
let marker: string;
const dispatchers: Dispatcher[] = [];

const git = async (cwd: string, ...args: string[]): Promise<string> => (await execa("git", args, { cwd })).stdout.trim();

beforeEach(async () => {
  ws = await makeWorkspace();
  marker = path.join(ws.root, "..", `${path.basename(ws.root)}-marker.log`);
});

afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.forceStop("test over")));
  await fs.rm(marker, { force: true });
  await ws.cleanup();
});

/** The workspace as a git repository with one commit on main; `.env` is untracked and listed in .worktreeinclude. */
async function makeRepo(): Promise<string> {
  await git(ws.root, "init", "-q", "-b", "main");
  await git(ws.root, "config", "user.email", "test@example.invalid");
  await git(ws.root, "config", "user.name", "test");
  await ws.file("README.md", "hello\n");
  await ws.file(".gitignore", ".env\nhandoff/\nrequests/\nresponses/\n");
  await ws.file(".worktreeinclude", ".env\n");
  await git(ws.root, "add", "README.md", ".gitignore", ".worktreeinclude");
  await git(ws.root, "commit", "-q", "-m", "initial");
  await ws.file(".env", "SECRET=42\n");
  // Uncommitted work on the base does not matter: worktrees start from the commit.
  await ws.file("README.md", "hello, edited but not committed\n");
  return git(ws.root, "rev-parse", "HEAD");
}

async function dispatch(worktree: "auto" | "off" = "auto"): Promise<Dispatcher> {
  const d = await startDispatcher(
    { vendor: "fake", queueRoot: ws.queue, leaseSeconds: 10, pollSeconds: 0.2, graceSeconds: 1, concurrency: 2, worktree },
    { adapter: await fakeAdapter(), logger: logSink().logger, sweep: false },
  );
  dispatchers.push(d);
  return d;
}

async function done(task: Task): Promise<{ body: string; meta: Record<string, unknown> }> {
  await waitFor(`${task.id} to finish`, async () => ["completed", "failed"].includes((await ws.store.get(task.id)).state), 30_000);
  const response = await ws.store.getResponse(task.id);
  expect(response?.status, response?.body).toBe("completed");
  return { body: response?.body ?? "", meta: response?.metadata ?? {} };
}

const agent = (n: number, file: string, mode = "commit", extra: Record<string, unknown> = {}) => ({ metadata: { agent: "git-commit", agent_args: [marker, String(n), file, mode], ...extra } });

describe("a worktree per task (real git)", () => {
  it("two tasks at once run in two worktrees on their own branches; each commit and diffstat is recorded; the checkout is untouched", async () => {
    const base = await makeRepo();
    const a = await ws.submit({ correlation_id: "Fix Login!", ...agent(2, "a.txt") });
    const b = await ws.submit({ correlation_id: "docs", ...agent(2, "b.txt") });
    await dispatch();
    const [ra, rb] = [await done(a), await done(b)];

    // Both runs were alive at once (each waited for the other to start), in different folders.
    const starts = (await fs.readFile(marker, "utf8")).trim().split("\n").map((l) => l.split(" ")[2]);
    expect(starts).toHaveLength(2);
    expect(new Set(starts).size).toBe(2);

    for (const [task, r, file] of [[a, ra, "a.txt"], [b, rb, "b.txt"]] as const) {
      const folder = worktreeFolder(ws.queue, task);
      expect(folder).toBe(path.join(ws.root, "handoff", "worktrees", task.id));
      expect(r.body).toContain(`cwd=${await fs.realpath(folder)}`);
      expect(r.body).toContain(`branch=${branchName(task)}`);
      expect(r.body).toContain("env=SECRET=42"); // copied in by .worktreeinclude
      expect(r.meta).toMatchObject({
        branch: branchName(task),
        base_ref: "main",
        base_commit: base,
        worktree_path: folder,
        worktree_keep: "changed",
        worktree_kept: true,
        branch_kept: true,
        uncommitted: [],
        diffstat: { files: 1, insertions: 1, deletions: 0 },
      });
      expect(r.meta.head_commit).not.toBe(base);
      expect(await git(ws.root, "rev-parse", branchName(task))).toBe(r.meta.head_commit);
      expect(await git(ws.root, "show", "--name-only", "--format=", branchName(task))).toBe(file);
      expect((r.meta.diffstat as { text: string }).text).toContain(file);
    }
    expect(branchName(a)).toMatch(/^agent-lanes\/fix-login-[0-9a-f]{8}$/);
    expect(ra.meta.branch).not.toBe(rb.meta.branch);
    // The main checkout: still on main at the same commit, its uncommitted edit intact, no agent file.
    expect(await git(ws.root, "rev-parse", "HEAD")).toBe(base);
    expect(await git(ws.root, "rev-parse", "--abbrev-ref", "HEAD")).toBe("main");
    expect(await fs.readFile(path.join(ws.root, "README.md"), "utf8")).toBe("hello, edited but not committed\n");
    await expect(fs.access(path.join(ws.root, "a.txt"))).rejects.toThrow();
  });

  it("keep policy: changed removes an untouched worktree and its branch, keeps uncommitted work; always keeps; never removes the folder but keeps commits on the branch", async () => {
    await makeRepo();
    const untouched = await ws.submit(agent(1, "x.txt", "none"));
    const edited = await ws.submit(agent(1, "y.txt", "edit"));
    const always = await ws.submit(agent(1, "z.txt", "none", { worktree_keep: "always" }));
    const never = await ws.submit(agent(1, "w.txt", "commit", { worktree_keep: "never" }));
    await dispatch();
    const r = { untouched: await done(untouched), edited: await done(edited), always: await done(always), never: await done(never) };
    const exists = (p: string) => fs.access(p).then(() => true, () => false);
    const branchThere = async (task: Task) => (await git(ws.root, "branch", "--list", branchName(task))) !== "";

    expect(r.untouched.meta).toMatchObject({ worktree_kept: false, branch_kept: false, diffstat: { files: 0 } });
    expect(await exists(worktreeFolder(ws.queue, untouched))).toBe(false);
    expect(await branchThere(untouched)).toBe(false);

    expect(r.edited.meta).toMatchObject({ worktree_kept: true, uncommitted: ["y.txt"], diffstat: { files: 0 } });
    expect(await exists(path.join(worktreeFolder(ws.queue, edited), "y.txt"))).toBe(true);

    expect(r.always.meta).toMatchObject({ worktree_kept: true, branch_kept: true });
    expect(await exists(worktreeFolder(ws.queue, always))).toBe(true);

    expect(r.never.meta).toMatchObject({ worktree_kept: false, branch_kept: true, diffstat: { files: 1 } });
    expect(await exists(worktreeFolder(ws.queue, never))).toBe(false);
    expect(await branchThere(never)).toBe(true);
    expect(await git(ws.root, "worktree", "list")).not.toContain(never.id);
  });

  it("removeTaskWorktree (for prune) removes merged or unchanged worktrees and branches, refuses unmerged or dirty ones unless forced", async () => {
    await makeRepo();
    const merged = await ws.submit(agent(1, "m.txt", "commit", { worktree_keep: "always" }));
    const unmerged = await ws.submit(agent(1, "u.txt", "commit"));
    const unchanged = await ws.submit(agent(1, "n.txt", "none", { worktree_keep: "always" }));
    const dirty = await ws.submit(agent(1, "d.txt", "edit"));
    await dispatch();
    const responses = new Map<string, Record<string, unknown>>();
    for (const t of [merged, unmerged, unchanged, dirty]) responses.set(t.id, (await done(t)).meta);
    const response = (t: Task) => ({ metadata: responses.get(t.id) ?? {} });
    await git(ws.root, "stash", "-q"); // the uncommitted README edit, so the merge below can run
    await git(ws.root, "merge", "-q", "--no-edit", branchName(merged));

    expect(await removeTaskWorktree(merged, response(merged))).toMatchObject({ removed: true });
    expect(await removeTaskWorktree(unchanged, response(unchanged))).toMatchObject({ removed: true });
    const refused = await removeTaskWorktree(unmerged, response(unmerged));
    expect(refused).toEqual({ removed: false, reason: `branch ${branchName(unmerged)} has commits not merged into main; merge it or prune with force` });
    expect((await removeTaskWorktree(dirty, response(dirty))).reason).toMatch(/has uncommitted changes/);
    expect(await removeTaskWorktree(unmerged, response(unmerged), { force: true })).toMatchObject({ removed: true });
    expect(await removeTaskWorktree(merged, response(merged))).toMatchObject({ removed: false, reason: expect.stringContaining("already gone") });
    expect(await removeTaskWorktree(merged, null)).toMatchObject({ removed: false });

    const branches = await git(ws.root, "branch", "--list", "agent-lanes/*");
    expect(branches).toContain(branchName(dirty));
    for (const t of [merged, unmerged, unchanged]) expect(branches).not.toContain(branchName(t));
    const list = await git(ws.root, "worktree", "list");
    expect(list).toContain(dirty.id);
    for (const t of [merged, unmerged, unchanged]) expect(list).not.toContain(t.id);
  });

  it("agent-lanes prune removes a pruned task's worktree and branch when merged or unchanged, and keeps an unmerged one, saying why", async () => {
    await makeRepo();
    const merged = await ws.submit(agent(1, "m.txt", "commit", { worktree_keep: "always" }));
    const unmerged = await ws.submit(agent(1, "u.txt", "commit"));
    await dispatch();
    await done(merged);
    await done(unmerged);
    await git(ws.root, "stash", "-q");
    await git(ws.root, "merge", "-q", "--no-edit", branchName(merged));
    await new Promise((resolve) => setTimeout(resolve, 1100)); // both finished more than 1 s ago
    const pruned = await execa(process.execPath, [CLI, "--store", ws.queue, "prune", "--older-than", "1s", "--force"], { cwd: ws.root, reject: false });
    expect(pruned.exitCode, pruned.stderr).toBe(0);
    expect(pruned.stderr).toContain(`${merged.id}: removed worktree ${worktreeFolder(ws.queue, merged)} and branch ${branchName(merged)}`);
    expect(pruned.stderr).toContain(`kept the worktree of ${unmerged.id}: branch ${branchName(unmerged)} has commits not merged into main`);
    const branches = await git(ws.root, "branch", "--list", "agent-lanes/*");
    expect(branches).not.toContain(branchName(merged));
    expect(branches).toContain(branchName(unmerged));
    await expect(fs.access(worktreeFolder(ws.queue, merged))).rejects.toThrow();
    await expect(ws.store.get(merged.id)).rejects.toThrow(/unknown task/);
  });

  it("metadata worktree: new asks for one without --worktree auto; expected_branch is the base; a non-git folder runs in place with a warning", async () => {
    await makeRepo();
    await git(ws.root, "branch", "release");
    await git(ws.root, "commit", "-q", "--allow-empty", "-m", "main moves on");
    const onRelease = await ws.submit({ expected_branch: "release", ...agent(1, "r.txt", "commit", { worktree: "new" }) });
    const plain = await ws.submit(agent(1, "p.txt", "none"));
    await dispatch("off");
    const r = await done(onRelease);
    expect(r.meta).toMatchObject({ base_ref: "release", base_commit: await git(ws.root, "rev-parse", "release") });
    const p = await done(plain);
    expect(p.body).toContain(`cwd=${await fs.realpath(ws.root)}`);
    expect(p.meta.branch).toBeUndefined();

    // A workspace outside any repository.
    await fs.rm(path.join(ws.root, ".git"), { recursive: true, force: true });
    const inPlace = await ws.submit(agent(1, "q.txt", "none", { worktree: "new" }));
    const q = await done(inPlace);
    expect(q.body).toContain(`cwd=${await fs.realpath(ws.root)}`);
    const warnings = (await ws.store.readEvents(inPlace.id)).filter((e) => e.type === "dispatcher_warning").map((e) => e.message);
    expect(warnings).toEqual([`worktree requested but ${ws.root} is not in a git repository; running in place`]);
  });
});
