// What a long-running scanner keeps of a long history: for a finished task
// its name in the table and nothing else (never the parsed task), whether it
// learnt it by reading the files itself or from the helper process that makes
// the first scan of a long-running store (the compiled helper in dist/, as
// the installed program runs it). The helper's hand-over must be the scan
// the process would have made: the same live tasks, the same unreadable
// entries reported, the same finished count; and what changes afterwards
// (a new task, a finished task's folder replaced) is seen as before.

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type * as ScanModule from "../../src/store/scan.js";
import type * as OffloadModule from "../../src/store/scan-offload.js";
import type * as StoreModule from "../../src/store/index.js";
import { createScanner } from "../../src/store/scan.js";
import { toJsonFile, type Task } from "../../src/store/index.js";

// The helper runs from the build (pretest builds it): load the scanner from there too.
const dist = path.resolve(__dirname, "../../dist/src/store");
const built = {
  scan: (await import(path.join(dist, "scan.js"))) as typeof ScanModule,
  offload: (await import(path.join(dist, "scan-offload.js"))) as typeof OffloadModule,
  store: (await import(path.join(dist, "index.js"))) as typeof StoreModule,
};

let root: string;
let queue: string;
let tasksDir: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "agent-lanes-scan-memory-"));
  queue = path.join(root, "state");
  tasksDir = path.join(queue, "tasks");
  await mkdir(tasksDir, { recursive: true });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function taskJson(i: number, state: Task["state"], lane = "default"): { id: string; text: string } {
  const stamp = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  const id = `${stamp.replace(/[-:]/g, "").replace("Z", "000000Z")}-t${i}-0123456789ab`;
  const finished = state === "completed" || state === "failed";
  const task = {
    id, workspace_id: "ws", correlation_id: `t${i}`, source_agent: "test", lane, workspace_root: root, worktree_path: null,
    expected_branch: null, request_path: path.join(root, "request.md"), request_sha256: "0".repeat(64), supporting_paths: [],
    response_path: path.join(root, `out${i}.md`), prompt: "", metadata: {}, state, created_at: stamp, updated_at: stamp,
    claim_owner: finished ? "t" : null, claim_token: finished ? "k" : null, lease_expires_at: finished ? stamp : null,
    claimed_at: finished ? stamp : null, completed_at: state === "completed" ? stamp : null, failed_at: state === "failed" ? stamp : null,
    failure_reason: state === "failed" ? "no" : null,
  };
  return { id, text: toJsonFile(task) };
}

/** Write task folders straight to disk, as another writer would; returns the ids. */
async function writeTasks(from: number, count: number, state: Task["state"]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < from + count; i += 1) {
    const { id, text } = taskJson(i, state);
    await mkdir(path.join(tasksDir, id));
    await writeFile(path.join(tasksDir, id, "task.json"), text);
    ids.push(id);
  }
  return ids;
}

async function corruptEntry(name: string): Promise<void> {
  await mkdir(path.join(tasksDir, name));
  await writeFile(path.join(tasksDir, name, "task.json"), "{ not json");
}

describe("a scanner's memory follows the live tasks", () => {
  it("after a scan of 1,500 finished and 3 live tasks it holds 3 parsed tasks and the 1,500 finished as names only", async () => {
    await writeTasks(0, 1500, "completed");
    const liveIds = await writeTasks(2000, 3, "queued");
    const scanner = createScanner(tasksDir);
    const result = await scanner.scan();
    expect(result.tasks.map((t) => t.id).sort()).toEqual(liveIds.sort());
    expect(result.finishedCount).toBe(1500);
    const stats = scanner.stats();
    expect(stats.parsed).toBe(3);
    expect(stats.finished).toBe(1500);
    expect(stats.nameBytes / 1500).toBeLessThan(120);
  });

  it("the helper process makes the first scan and hands over the same state, unreadable entries included", async () => {
    const finishedIds = await writeTasks(0, built.offload.HELPER_MIN_TASKS + 10, "completed");
    const liveIds = await writeTasks(5000, 2, "queued");
    await corruptEntry("20260102T000000000000Z-broken-0123456789ab");

    const inProcess = built.scan.createScanner(tasksDir);
    const expected = await inProcess.scan();

    const used: boolean[] = [];
    const offloaded = built.scan.createScanner(tasksDir, {
      firstScan: async (dir, signal) => {
        const handed = await built.offload.firstScanInHelper(dir, signal);
        used.push(handed !== null);
        return handed;
      },
    });
    const result = await offloaded.scan();
    expect(used).toEqual([true]);
    expect(result.tasks.map((t) => t.id).sort()).toEqual(liveIds.sort());
    expect(result.tasks.map((t) => t.id).sort()).toEqual(expected.tasks.map((t) => t.id).sort());
    expect(result.finishedCount).toBe(finishedIds.length);
    expect(result.problems.map((p) => p.taskId)).toEqual(["20260102T000000000000Z-broken-0123456789ab"]);
    expect(result.problems).toEqual(expected.problems);
    const stats = offloaded.stats();
    expect(stats.parsed).toBe(2);
    expect(stats.finished).toBe(finishedIds.length);
  });

  it("a long-running store started on 1,000+ finished tasks sees a new task, and a finished task whose folder was replaced, as before", async () => {
    const finishedIds = await writeTasks(0, built.offload.HELPER_MIN_TASKS + 5, "completed");
    const store = built.store.openStore(queue, { longRunning: true, pollMs: 100 });
    try {
      const notifier = await store.changes();
      expect(await store.available()).toEqual([]);

      const [fresh] = await writeTasks(9000, 1, "queued");
      await expect.poll(async () => (await store.available()).map((t) => t.id), { timeout: 5000 }).toEqual([fresh]);

      // A finished task's folder made again with a queued task.json (a restore, a hand edit).
      const again = finishedIds[7] as string;
      const since = notifier.generation;
      await rm(path.join(tasksDir, again), { recursive: true, force: true });
      await mkdir(path.join(tasksDir, again));
      const requeued = JSON.parse(taskJson(7, "queued").text) as Task;
      await writeFile(path.join(tasksDir, again, "task.json"), toJsonFile(requeued));
      await notifier.wait(5000, since);
      await expect.poll(async () => (await store.available()).map((t) => t.id).sort(), { timeout: 5000 }).toEqual([again, fresh].sort());
      expect((await store.get(again)).state).toBe("queued");
    } finally {
      await store.close();
    }
  });

  it("a SIGKILL of the process and its helper in the middle of the first scan leaves nothing in the temp folder", async () => {
    await writeTasks(0, 1500, "completed");
    const tmp = path.join(root, "tmp");
    await mkdir(tmp);
    const script = `import(${JSON.stringify(path.join(dist, "scan-offload.js"))}).then((m) => m.firstScanInHelper(${JSON.stringify(tasksDir)}, new AbortController().signal)).then(() => setTimeout(() => {}, 60000));`;
    const { spawn, execFileSync } = await import("node:child_process");
    // Its own process group, so one kill reaches the helper too.
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { env: { ...process.env, TMPDIR: tmp }, detached: true, stdio: "ignore" });
    const helpers = (): string[] => {
      try {
        return execFileSync("ps", ["-o", "pid=", "--ppid", String(child.pid)], { encoding: "utf8" }).split("\n").filter((l) => l.trim() !== "");
      } catch {
        return []; // ps exits 1 when no process matches
      }
    };
    const deadline = Date.now() + 20_000;
    while (helpers().length === 0) {
      if (Date.now() > deadline) throw new Error("the scan helper never started");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    process.kill(-(child.pid as number), "SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { readdir } = await import("node:fs/promises");
    expect((await readdir(tmp)).filter((name) => name.startsWith("agent-lanes-scan-"))).toEqual([]);
  });

  it("a store closed while the helper works makes no scan of its own on the way out", async () => {
    await writeTasks(0, 5, "completed");
    await writeTasks(100, 2, "queued");
    let started!: () => void;
    const helperStarted = new Promise<void>((resolve) => (started = resolve));
    const scanner = createScanner(tasksDir, {
      firstScan: (_dir, signal) =>
        new Promise((resolve) => {
          started();
          signal.addEventListener("abort", () => resolve(null), { once: true });
        }),
    });
    const scanning = scanner.scan();
    await helperStarted;
    scanner.clear();
    const result = await scanning;
    expect(result.tasks).toEqual([]);
    expect(scanner.stats()).toMatchObject({ names: 0, parsed: 0 });
  });

  it("without the helper script (or when it fails) the store scans by itself, with the same result", async () => {
    await writeTasks(0, 20, "completed");
    const [live] = await writeTasks(100, 1, "queued");
    const scanner = built.scan.createScanner(tasksDir, { firstScan: async () => null });
    const result = await scanner.scan();
    expect(result.tasks.map((t) => t.id)).toEqual([live]);
    expect(result.finishedCount).toBe(20);
    expect(scanner.stats().parsed).toBe(1);
  });
});
