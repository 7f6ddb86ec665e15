// Class 2 of issue 11 (store and CLI side): paths are confined by the
// operator, not by whoever writes a task. worktree_path (the agent's working
// folder) lies inside workspace_root from every entry point; a client-given
// workspace_root must lie inside an allowed root; `wait` writes only inside
// the workspace of the config in force, creates nothing before the check, and
// a real process swapping folders for symlinks during the writes never sends
// an answer outside.

import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, readdir, realpath, rm, stat, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RootNotAllowedError, ValidationError, assertAllowedRoot, openStore } from "../../src/store/index.js";
import { writeResponseBody } from "../../src/store/response-output.js";
import { makeCliWorkspace, modeOf, type CliWorkspace } from "./support.js";

let ws: CliWorkspace;
let outside: string;

beforeEach(async () => {
  ws = await makeCliWorkspace("al-sec-paths-");
  outside = await realpath(await mkdtemp(path.join(os.tmpdir(), "al-sec-outside-")));
});

afterEach(async () => {
  await ws.cleanup();
  await rm(outside, { recursive: true, force: true });
});

describe("worktree_path", () => {
  it("outside workspace_root is refused from the flag, the task file and the store (HTTP's entry point), with the other paths' error shape", async () => {
    await ws.file("requests/a.md");
    const flag = await ws.run(["submit", "--lane", "review", "--request-from", "requests/a.md", "--response-to", "out/a.md", "--worktree-path", outside]);
    expect(flag.errLines).toEqual([`agent-lanes: worktree_path is outside workspace_root: ${outside} (workspace_root is ${ws.root})`]);

    await writeFile(path.join(ws.root, "t.yaml"), "lane: review\nrequest_from: requests/a.md\nresponse_to: out/a.md\nworktree_path: ../\n");
    const file = await ws.run(["submit", "--task", "t.yaml"]);
    expect(file.errLines).toEqual([`agent-lanes: worktree_path is outside workspace_root: ${path.dirname(ws.root)} (workspace_root is ${ws.root})`]);

    // A symlink inside the workspace that leads outside is outside.
    await symlink(outside, path.join(ws.root, "wt-link"));
    const link = await ws.run(["submit", "--lane", "review", "--request-from", "requests/a.md", "--response-to", "out/a.md", "--worktree-path", "wt-link"]);
    expect(link.errLines).toEqual([`agent-lanes: worktree_path is outside workspace_root: ${outside} (workspace_root is ${ws.root})`]);

    const store = openStore(ws.queue);
    try {
      const input = { workspace_id: "ws", correlation_id: "c", lane: "review", workspace_root: ws.root, request_path: "requests/a.md", response_path: "out/a.md" };
      await expect(store.create({ ...input, worktree_path: "/" })).rejects.toThrow(ValidationError);
      await expect(store.create({ ...input, worktree_path: "/" })).rejects.toThrow(/^worktree_path is outside workspace_root: \/ \(workspace_root is /);
      await mkdir(path.join(ws.root, "wt"));
      expect((await store.create({ ...input, worktree_path: "wt" })).worktree_path).toBe(path.join(ws.root, "wt"));
    } finally {
      await store.close();
    }
    expect((await ws.run(["list"])).stdout.trim().split("\n")).toHaveLength(1);
  });
});

describe("assertAllowedRoot (what the HTTP layer checks a client's workspace_root with)", () => {
  it("takes a root inside an allowed one, refuses '/', a sibling, a symlink out and a relative path", async () => {
    const allowed = [ws.root, path.join(outside, "missing")];
    await mkdir(path.join(ws.root, "sub"));
    expect(await assertAllowedRoot(path.join(ws.root, "sub"), allowed)).toBe(path.join(ws.root, "sub"));
    expect(await assertAllowedRoot(ws.root, allowed)).toBe(ws.root);
    await symlink(outside, path.join(ws.root, "escape"));
    for (const bad of ["/", outside, path.join(ws.root, "escape"), path.join(ws.root, "..")]) {
      await expect(assertAllowedRoot(bad, allowed), bad).rejects.toThrow(RootNotAllowedError);
    }
    await expect(assertAllowedRoot("/", allowed)).rejects.toThrow(`workspace_root is outside the allowed roots: / (allowed: ${ws.root}; the server's operator adds one with serve --allow-root DIR)`);
    await expect(assertAllowedRoot("relative/x", allowed)).rejects.toThrow(/must be an absolute path/);
    await expect(assertAllowedRoot(42, allowed)).rejects.toMatchObject({ code: "root_not_allowed" });
  });
});

/** Forge task.json the way anyone who can write the queue could. */
async function forge(id: string, change: Record<string, unknown>): Promise<void> {
  const file = path.join(ws.queue, "tasks", id, "task.json");
  const task = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  await writeFile(file, JSON.stringify({ ...task, ...change }));
}

async function answer(id: string, body = "the answer\n"): Promise<void> {
  const r = await ws.run(["respond", id, "--body", body]);
  expect(r.exitCode, r.stderr).toBe(0);
}

describe("wait TASK_ID", () => {
  it("confines the response to the config's workspace, not the workspace_root task.json names, and creates nothing first", async () => {
    const id = await ws.submit("review");
    await answer(id);
    const target = path.join(outside, "new", "deeper", "answer.md");
    await forge(id, { workspace_root: "/", response_path: target });
    const r = await ws.run(["wait", id, "--timeout", "0"]);
    expect(r.exitCode).toBe(1);
    expect(r.errLines).toEqual([`agent-lanes: response_path is outside workspace_root: ${target} (workspace_root is ${ws.root})`]);
    expect(await readdir(outside)).toEqual([]);
  });

  it("a parent folder that is a symlink out is refused before anything is written", async () => {
    const id = await ws.submit("review");
    await answer(id);
    await symlink(outside, path.join(ws.root, "out"));
    await forge(id, { response_path: path.join(ws.root, "out", "sub", "answer.md") });
    const r = await ws.run(["wait", id, "--timeout", "0"]);
    expect(r.errLines).toEqual([
      `agent-lanes: response_path is outside workspace_root: ${path.join(ws.root, "out", "sub", "answer.md")} resolves to ${outside} (workspace_root is ${ws.root})`,
    ]);
    expect(await readdir(outside)).toEqual([]);
  });

  it("a symlink at the last component is replaced, never followed; an existing file keeps its 0600 mode", async () => {
    const victim = path.join(outside, "victim.md");
    await writeFile(victim, "precious\n");
    const id = await ws.submit("review");
    await answer(id, "first\n");
    const responsePath = (await ws.run(["status", id, "--json"])).json<{ task: { response_path: string } }>().task.response_path;
    await mkdir(path.dirname(responsePath), { recursive: true });
    await symlink(victim, responsePath);
    expect((await ws.run(["wait", id, "--timeout", "0"])).exitCode).toBe(0);
    expect(await readFile(victim, "utf8")).toBe("precious\n");
    expect((await stat(responsePath)).isFile()).toBe(true);
    expect(await readFile(responsePath, "utf8")).toBe("first\n");

    await chmod(responsePath, 0o600);
    expect((await ws.run(["wait", id, "--timeout", "0"])).exitCode).toBe(0);
    expect(await modeOf(responsePath)).toBe(0o600);
  });

  it("without a config in force (--store alone) wait TASK_ID refuses to write anywhere", async () => {
    const id = await ws.submit("review");
    await answer(id);
    const r = await ws.run(["--store", ws.queue, "wait", id, "--timeout", "0"], { cwd: outside });
    expect(r.exitCode).toBe(1);
    expect(r.errLines).toEqual([expect.stringMatching(/^agent-lanes: config file does not exist: .*handoff\.yaml \(run 'agent-lanes init' in the workspace/)]);
  });
});

/**
 * A process that swaps `answers` and `answers.evil` (a symlink to `outside`)
 * with renameat2(RENAME_EXCHANGE) in a tight loop: the name always exists and
 * is, at any instant, either the real folder or the link out. (A writer that
 * checks the real path and then writes by name leaked 42 of 300 answers
 * outside against it.)
 */
const SWAPPER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
os.chdir(sys.argv[1])
print("swapping", flush=True)
while True:
    libc.renameat2(-100, b"answers", -100, b"answers.evil", 2)
`;

describe("a real process swapping a parent folder for a symlink during writes", () => {
  it("never gets an answer written outside the workspace", async () => {
    await mkdir(path.join(ws.root, "answers"));
    await symlink(outside, path.join(ws.root, "answers.evil"));
    const swapper = spawn("python3", ["-c", SWAPPER, ws.root], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise((resolve) => swapper.stdout.once("data", resolve));
    let written = 0;
    let refused = 0;
    try {
      for (let i = 0; i < 300; i += 1) {
        try {
          await writeResponseBody(path.join(ws.root, "answers", `a${i}.md`), `answer ${i}\n`, { workspaceRoot: ws.root, taskId: "t" });
          written += 1;
        } catch (error) {
          expect((error as Error).message).toMatch(/response_path is outside workspace_root/);
          refused += 1;
        }
      }
    } finally {
      const exited = new Promise((resolve) => swapper.once("exit", resolve));
      swapper.kill("SIGKILL");
      await exited;
    }
    expect(written).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    expect(await readdir(outside)).toEqual([]);
  });
});
