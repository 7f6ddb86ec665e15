// Class 4 of issue 11: one bad entry in tasks/ never stops the queue, and a
// stuck lock holder never freezes it silently. Real processes throughout: the
// built CLI, an unreadable folder (the CLI runs as an ordinary user), a
// symlink loop, a file where a task folder belongs, and flock(1) holding the lock.

import { chmod, mkdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { handOver, holdLock, eachCliWorkspace, runUnprivileged, type CliWorkspace } from "./support.js";

let ws: CliWorkspace;
eachCliWorkspace("al-sec-entries-", (w) => (ws = w));

describe("one bad entry in tasks/", () => {
  it("an unreadable folder, a symlink loop and a stray file are reported; status --all, next and list go on", async () => {
    const good = await ws.submit("review");
    const tasks = path.join(ws.queue, "tasks");
    const locked = "20260101T000000000000Z-locked-aaaaaaaaaaaa";
    await mkdir(path.join(tasks, locked));
    await writeFile(path.join(tasks, locked, "task.json"), "{}");
    const loop = "20260101T000000000001Z-loop-bbbbbbbbbbbb";
    await symlink(loop, path.join(tasks, loop));
    // A link to a file where a task folder belongs (ENOTDIR); a plain stray file is just ignored.
    const stray = "20260101T000000000002Z-stray-cccccccccccc";
    await writeFile(path.join(ws.root, "stray.txt"), "not a folder");
    await symlink(path.join(ws.root, "stray.txt"), path.join(tasks, stray));
    await writeFile(path.join(tasks, "20260101T000000000004Z-file-eeeeeeeeeeee"), "ignored");
    await handOver(ws);
    await chmod(path.join(tasks, locked), 0o000);

    const status = await runUnprivileged(ws, ["status", "--all", "--json"]);
    expect(status.exitCode, status.stderr).toBe(0);
    const payload = status.json<{ tasks: Array<{ id: string }>; problems: Array<{ task_id: string; message: string }> }>();
    expect(payload.tasks.map((t) => t.id)).toEqual([good]);
    const byId = Object.fromEntries(payload.problems.map((p) => [p.task_id, p.message]));
    expect(byId[locked]).toMatch(/permission denied/);
    expect(byId[loop]).toMatch(/symbolic link loop/);
    expect(byId[stray]).toMatch(/not a folder/);
    expect(payload.problems).toHaveLength(3);

    const next = await runUnprivileged(ws, ["next", "--lane", "review", "--timeout", "0", "--json"]);
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.json<{ task: { id: string } }>().task.id).toBe(good);

    const list = await runUnprivileged(ws, ["list"]);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdout.trim()).toBe(good);
    expect(list.stderr).toContain(locked);

    // The queue still takes writes: the good task is claimed and answered.
    const claim = await runUnprivileged(ws, ["claim", good, "--owner", "r", "--json"]);
    expect(claim.exitCode, claim.stderr).toBe(0);
    const token = claim.json<{ claim_token: string }>().claim_token;
    const respond = await runUnprivileged(ws, ["respond", good, "--claim-token", token, "--body", "done"]);
    expect(respond.exitCode, respond.stderr).toBe(0);
  });

  it("a task folder whose task.json is a FIFO is a problem, not a hang", async () => {
    const good = await ws.submit();
    const id = "20260101T000000000003Z-fifo-dddddddddddd";
    await mkdir(path.join(ws.queue, "tasks", id));
    const { execa } = await import("execa");
    await execa("mkfifo", [path.join(ws.queue, "tasks", id, "task.json")]);
    const status = await ws.run(["status", "--all", "--json"], { timeoutMs: 10_000 });
    expect(status.exitCode, status.stderr).toBe(0);
    const payload = status.json<{ tasks: Array<{ id: string }>; problems: Array<{ task_id: string; message: string }> }>();
    expect(payload.tasks.map((t) => t.id)).toEqual([good]);
    expect(payload.problems.find((p) => p.task_id === id)?.message).toMatch(/FIFO/);
  });
});

describe("a stuck lock holder", () => {
  it("never blocks read-only commands: status, list, next and wait --lane answer at once", async () => {
    const id = await ws.submit("review");
    const holder = await holdLock(path.join(ws.queue, "lock"));
    try {
      for (const args of [["status", id, "--json"], ["status", "--all", "--json"], ["list"], ["next", "--lane", "review", "--timeout", "0", "--json"]]) {
        const r = await ws.run(["--lock-timeout", "1", ...args], { timeoutMs: 15_000 });
        expect(r.exitCode, `${args.join(" ")}: ${r.stderr}`).toBe(0);
        expect(r.stderr).not.toMatch(/lock/);
      }
    } finally {
      await holder.stop();
    }
  });

  it("a writer says it is waiting after 2 s and gives up at --lock-timeout, naming the lock file and the holder", async () => {
    const id = await ws.submit("review");
    const lock = path.join(ws.queue, "lock");
    const holder = await holdLock(lock);
    try {
      const r = await ws.run(["claim", id, "--owner", "r", "--lock-timeout", "3"], { timeoutMs: 15_000 });
      expect(r.exitCode).toBe(1);
      expect(r.errLines).toHaveLength(2);
      expect(r.errLines[0]).toBe(`agent-lanes: waiting for the queue lock ${lock} (held by pid ${holder.pid}); giving up after 3 s (--lock-timeout)`);
      expect(r.errLines[1]).toBe(
        `agent-lanes: timed out after 3 s waiting for the queue lock ${lock} (held by pid ${holder.pid}): stop the process holding it, or raise --lock-timeout`,
      );
    } finally {
      await holder.stop();
    }
    // Once the holder is gone the same claim goes through: the failed wait changed nothing.
    const again = await ws.run(["claim", id, "--owner", "r", "--json"]);
    expect(again.exitCode, again.stderr).toBe(0);
  });

  it("a writer that gets the lock before the timeout proceeds", async () => {
    const id = await ws.submit("review");
    const holder = await holdLock(path.join(ws.queue, "lock"));
    const claim = ws.start(["claim", id, "--owner", "r", "--json"]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await holder.stop();
    const r = await claim;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(JSON.parse(String(r.stdout)).status).toBe("claimed");
  });
});
