// Recycled files for a long-running process's atomic writes
// (src/store/spare-files.ts): a file a rename displaced is written again as a
// later temp file, byte for byte what a new file would hold, and never while
// anyone else can still read it through an open descriptor or another name.

import { spawn, spawnSync } from "node:child_process";
import { linkSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../../src/store/atomic.js";
import { spareFiles, type SpareFiles } from "../../src/store/spare-files.js";
import { makeWorkspace } from "../helpers/workspace.js";

let dir: string;
let sparesDir: string;
let clock: number;
let spares: SpareFiles;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "agent-lanes-spares-"));
  sparesDir = path.join(dir, "spares");
  clock = 1_000_000;
  spares = spareFiles(sparesDir, () => clock);
});
afterEach(async () => {
  spares.close();
  await rm(dir, { recursive: true, force: true });
});

const at = (name: string): string => path.join(dir, name);
const ino = (name: string): number => statSync(at(name)).ino;
/** A file as the store writes its own: mode 0600. */
const writeOwn = (name: string, text: string): void => writeFileSync(at(name), text, { mode: 0o600 });

/** A process that opens `file` for reading at once and reads it when told to (end() returns what it read). */
async function holdOpen(file: string): Promise<{ end(): Promise<string> }> {
  const child = spawn("sh", ["-c", 'exec 3<"$0"; echo ready; read line; cat <&3', file], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  await new Promise<void>((resolve) => lines.once("line", () => resolve()));
  const rest: string[] = [];
  lines.on("line", (line) => rest.push(line));
  return {
    end: () =>
      new Promise((resolve) => {
        child.once("close", () => resolve(rest.map((line) => `${line}\n`).join("")));
        child.stdin.end("\n");
      }),
  };
}

describe("spare files", () => {
  it("writes a displaced file again as a later temp file once it is old enough, holding exactly the new bytes", async () => {
    writeOwn("a.json", "the first version, longer than what comes later\n");
    const displaced = ino("a.json");
    await writeFileAtomic(at("a.json"), "second\n", { spares });
    expect(readdirSync(sparesDir)).toHaveLength(1);

    clock += 50; // too young: a new file
    await writeFileAtomic(at("b.json"), "b\n", { spares });
    expect(ino("b.json")).not.toBe(displaced);

    clock += 100;
    await writeFileAtomic(at("c.json"), "short\n", { spares });
    expect(ino("c.json")).toBe(displaced);
    expect(readFileSync(at("c.json"), "utf8")).toBe("short\n");
    expect(statSync(at("c.json")).mode & 0o777).toBe(0o600);
    expect(readdirSync(sparesDir)).toEqual([]);
    // No temp file left beside the targets.
    expect(readdirSync(dir).sort()).toEqual(["a.json", "b.json", "c.json", "spares"]);
  });

  it("never rewrites a displaced file another process still has open: that reader keeps reading the old bytes", async () => {
    writeOwn("task.json", "old contents\n");
    const reader = await holdOpen(at("task.json"));
    let read: string;
    try {
      await writeFileAtomic(at("task.json"), "new contents\n", { spares });
      clock += 1000;
      await writeFileAtomic(at("other.json"), "other\n", { spares });
      expect(readdirSync(sparesDir)).toEqual([]); // refused, so removed
    } finally {
      read = await reader.end();
    }
    expect(read).toBe("old contents\n");
    expect(readFileSync(at("task.json"), "utf8")).toBe("new contents\n");
    expect(readFileSync(at("other.json"), "utf8")).toBe("other\n");
  });

  it("never writes through a displaced file that has another name (a backup's hard link)", async () => {
    writeOwn("task.json", "old contents\n");
    linkSync(at("task.json"), at("backup.json"));
    await writeFileAtomic(at("task.json"), "new contents\n", { spares });
    clock += 1000;
    await writeFileAtomic(at("other.json"), "other\n", { spares });
    expect(readFileSync(at("backup.json"), "utf8")).toBe("old contents\n");
    expect(readFileSync(at("other.json"), "utf8")).toBe("other\n");
  });

  it("reuses only a file of the mode the writer makes", async () => {
    writeFileSync(at("shared.json"), "old\n", { mode: 0o644 });
    await writeFileAtomic(at("shared.json"), "new\n", { spares });
    clock += 1000;
    await writeFileAtomic(at("private.json"), "private\n", { spares });
    expect(statSync(at("private.json")).mode & 0o777).toBe(0o600);
  });

  it("two stores of one process share a spares folder, each keeping and reusing its own", async () => {
    const other = spareFiles(sparesDir, () => clock);
    try {
      writeOwn("a.json", "a\n");
      writeOwn("b.json", "b\n");
      const displacedB = ino("b.json");
      await writeFileAtomic(at("a.json"), "a2\n", { spares });
      await writeFileAtomic(at("b.json"), "b2\n", { spares: other });
      expect(readdirSync(sparesDir)).toHaveLength(2);
      clock += 1000;
      await writeFileAtomic(at("c.json"), "c\n", { spares: other });
      expect(ino("c.json")).toBe(displacedB);
    } finally {
      other.close();
    }
  });

  it("close() removes the spares; a process that died leaves its spares to the next one, which removes them", async () => {
    writeOwn("a.json", "a\n");
    await writeFileAtomic(at("a.json"), "a2\n", { spares });
    expect(readdirSync(sparesDir)).toHaveLength(1);
    spares.close();
    expect(readdirSync(sparesDir)).toEqual([]);

    const dead = spawn("true");
    await new Promise((resolve) => dead.once("exit", resolve));
    writeFileSync(path.join(sparesDir, `.spare-${dead.pid}-1`), "left by a dead process\n");
    writeFileSync(path.join(sparesDir, `.spare-${process.ppid}-1`), "a live process's\n");
    const next = spareFiles(sparesDir, () => clock);
    writeOwn("b.json", "b\n");
    await writeFileAtomic(at("b.json"), "b2\n", { spares: next });
    const left = readdirSync(sparesDir);
    expect(left).toContain(`.spare-${process.ppid}-1`);
    expect(left).not.toContain(`.spare-${dead.pid}-1`);
    expect(left.filter((name) => name.startsWith(`.spare-${process.pid}-`))).toHaveLength(1); // b.json's displaced file
    next.close();
  });
});

describe("a long-running file store", () => {
  it("writes a task's files into the files its transitions displaced, and leaves no spare when closed", async () => {
    const ws = await makeWorkspace({ longRunning: true });
    try {
      const task = await ws.submit();
      const dir = path.join(ws.queue, "tasks", task.id);
      const queued = statSync(path.join(dir, "task.json")).ino;
      const claim = await ws.store.claim(task.id, { owner: "w" });
      await new Promise((resolve) => setTimeout(resolve, 150));
      await ws.store.respond(task.id, { status: "completed", body: "done\n", claimToken: claim.claim_token ?? undefined });
      // The response went into the file the claim displaced (the queued task.json).
      expect(statSync(path.join(dir, "response.json")).ino).toBe(queued);
      expect((await ws.store.getResponse(task.id))?.body).toBe("done\n");
      expect((await ws.store.get(task.id)).state).toBe("completed");
      expect(readdirSync(dir).sort()).toEqual(["events.jsonl", "response.json", "task.json"]);
      await ws.store.close();
      expect(readdirSync(path.join(ws.queue, "cache", "spare-files"))).toEqual([]);
    } finally {
      await ws.cleanup();
    }
  });
});

describe.runIf(spawnSync("python3", ["--version"]).status === 0)("recycled files under a reader that takes no lock", () => {
  it("a Python reader reading every task's files throughout a drain only ever reads whole files of that task", async () => {
    const ws = await makeWorkspace({ longRunning: true });
    try {
      const request = await ws.file("shared.md", "shared\n");
      const tasks = [];
      for (let i = 0; i < 150; i++) tasks.push(await ws.submit({ request_path: request, correlation_id: `t${i}` }));
      const tasksDir = path.join(ws.queue, "tasks");
      const queuedInodes = new Set(tasks.map((t) => statSync(path.join(tasksDir, t.id, "task.json")).ino));
      // Reads task.json and response.json of every task in turn, without the lock, until stdin closes.
      const reader = spawn("python3", ["-c", READER, tasksDir], { stdio: ["pipe", "pipe", "inherit"] });
      const report = new Promise<string>((resolve) => {
        let out = "";
        reader.stdout.on("data", (d) => (out += d));
        reader.once("close", () => resolve(out));
      });
      for (const task of tasks) {
        const claim = await ws.store.claim(task.id, { owner: "w" });
        await ws.store.respond(task.id, { status: "completed", body: `done ${task.id}\n`, claimToken: claim.claim_token ?? undefined });
      }
      reader.stdin.end();
      const { reads, wrong } = JSON.parse(await report) as { reads: number; wrong: string[] };
      expect(wrong).toEqual([]);
      expect(reads).toBeGreaterThan(150);
      // The drain did write into recycled files (the queued task.json files it displaced).
      const recycled = tasks.filter((t) => queuedInodes.has(statSync(path.join(tasksDir, t.id, "response.json")).ino) || queuedInodes.has(statSync(path.join(tasksDir, t.id, "task.json")).ino));
      expect(recycled.length).toBeGreaterThan(0);
      for (const task of tasks) expect((await ws.store.getResponse(task.id))?.body).toBe(`done ${task.id}\n`);
    } finally {
      await ws.store.close();
      await ws.cleanup();
    }
  }, 60_000);
});

const READER = `
import json, os, sys, threading
root = sys.argv[1]
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
reads, wrong = 0, []
while not done.is_set():
    for tid in os.listdir(root):
        for name, key in (("task.json", "id"), ("response.json", "task_id")):
            try:
                with open(os.path.join(root, tid, name)) as f:
                    text = f.read()
            except FileNotFoundError:
                continue
            reads += 1
            try:
                if json.loads(text).get(key) != tid:
                    wrong.append(f"{tid}/{name}: another task's file")
            except ValueError:
                wrong.append(f"{tid}/{name}: torn: {text[:80]!r}")
print(json.dumps({"reads": reads, "wrong": wrong[:10]}))
`;
