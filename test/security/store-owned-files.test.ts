// Class 5 of issue 11: the store changes nothing it did not make. An existing
// folder named by --store keeps its mode; the lock and events.jsonl are never
// opened through a symbolic link (an agent writing the workspace, where the
// queue usually lives, could plant one pointing at any file of the user).

import { chmod, mkdir, mkdtemp, readFile, rm, symlink, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeCliWorkspace, modeOf, type CliWorkspace } from "./support.js";

let ws: CliWorkspace;
let outside: string;

beforeEach(async () => {
  ws = await makeCliWorkspace("al-sec-owned-");
  outside = await mkdtemp(path.join(os.tmpdir(), "al-sec-outside-"));
});

afterEach(async () => {
  await ws.cleanup();
  await rm(outside, { recursive: true, force: true });
});

describe("folders", () => {
  it("a shared 1777 folder named by --store keeps its mode through reads and writes", async () => {
    const shared = path.join(outside, "shared");
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const wait = await ws.run(["--store", shared, "wait", "--lane", "review", "--timeout", "0", "--json"]);
    expect(wait.exitCode, wait.stderr).toBe(0);
    expect(await modeOf(shared)).toBe(0o1777);
    const request = await ws.file("requests/a.md");
    const submit = await ws.run(["--store", shared, "submit", "--lane", "review", "--request-from", request, "--response-to", "out/a.md", "--json"]);
    expect(submit.exitCode, submit.stderr).toBe(0);
    expect(await modeOf(shared)).toBe(0o1777);
    // What the store made itself is private.
    expect(await modeOf(path.join(shared, "tasks"))).toBe(0o700);
    expect(await modeOf(path.join(shared, "tasks", submit.json<{ task_id: string }>().task_id))).toBe(0o700);
  });

  it("queue folders the store creates are 0700 whatever the umask, parents included", async () => {
    const fresh = path.join(outside, "a", "b", "queue");
    const request = await ws.file("requests/b.md");
    const r = await ws.run(["--store", fresh, "submit", "--lane", "review", "--request-from", request, "--response-to", "out/b.md"]);
    expect(r.exitCode, r.stderr).toBe(0);
    for (const dir of [path.join(outside, "a"), path.join(outside, "a", "b"), fresh, path.join(fresh, "tasks")]) {
      expect(await modeOf(dir), dir).toBe(0o700);
    }
  });
});

describe("symbolic links planted in the queue", () => {
  it("a lock that is a symlink is refused with one line; its target is not touched", async () => {
    const id = await ws.submit("review");
    const victim = path.join(outside, "victim.txt");
    await writeFile(victim, "precious\n");
    await chmod(victim, 0o644);
    const lock = path.join(ws.queue, "lock");
    await unlink(lock).catch(() => undefined);
    await symlink(victim, lock);
    const r = await ws.run(["claim", id, "--owner", "r"]);
    expect(r.exitCode).toBe(1);
    expect(r.errLines).toEqual([`agent-lanes: refusing to open ${lock}: it is a symbolic link (the queue's own files are never followed; remove the link)`]);
    expect(await readFile(victim, "utf8")).toBe("precious\n");
    expect(await modeOf(victim)).toBe(0o644);
    // Read-only commands take no lock, so they still work.
    expect((await ws.run(["status", id])).exitCode).toBe(0);
  });

  it("an events.jsonl that is a symlink is neither appended to nor read", async () => {
    const id = await ws.submit("review");
    const victim = path.join(outside, "victim.log");
    await writeFile(victim, "");
    const events = path.join(ws.queue, "tasks", id, "events.jsonl");
    await unlink(events);
    await symlink(victim, events);
    const r = await ws.run(["event", id, "--type", "note", "--message", "hi"]);
    expect(r.exitCode).toBe(1);
    expect(r.errLines).toEqual([`agent-lanes: refusing to open ${events}: it is a symbolic link (the queue's own files are never followed; remove the link)`]);
    expect(await readFile(victim, "utf8")).toBe("");
    const claim = await ws.run(["claim", id, "--owner", "r"]);
    expect(claim.exitCode).toBe(1);
    expect(await readFile(victim, "utf8")).toBe("");
  });

  it("a task.json replaced by a symlink to a file outside is reported, not read", async () => {
    const id = await ws.submit("review");
    const file = path.join(ws.queue, "tasks", id, "task.json");
    const copy = path.join(outside, "task.json");
    await writeFile(copy, await readFile(file));
    await unlink(file);
    await symlink(copy, file);
    const status = await ws.run(["status", "--all", "--json"]);
    expect(status.exitCode, status.stderr).toBe(0);
    const payload = status.json<{ tasks: unknown[]; problems: Array<{ task_id: string; message: string }> }>();
    expect(payload.tasks).toEqual([]);
    expect(payload.problems).toEqual([expect.objectContaining({ task_id: id, message: expect.stringMatching(/symbolic link/) })]);
  });
});
