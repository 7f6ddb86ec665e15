import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdir, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";

const worker = path.resolve(__dirname, "../fixtures/store/claim-worker.mjs");

function run(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => (stdout += d));
  child.stderr?.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

function which(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await makeWorkspace();
});
afterEach(async () => {
  await ws.cleanup();
});

// The two-process race and a smaller drain run on both stores in the contract
// suite (test/store/contract.ts); here the file store's heavy drain and flock.
describe("claims across processes", () => {
  it("8 processes drain 2,000 tasks: every task claimed exactly once, every file parses", async () => {
    const request = await ws.file("shared.md", "shared\n");
    for (let i = 0; i < 2000; i++) await ws.submit({ request_path: request, correlation_id: `t${i}` });
    const outs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => run(spawn(process.execPath, [worker, ws.queue, `w${i}`, "all"]))),
    );
    for (const o of outs) expect(o.code, o.stderr).toBe(0);
    const claimed = outs.flatMap((o) => JSON.parse(o.stdout).won as string[]);
    expect(claimed).toHaveLength(2000);
    expect(new Set(claimed).size).toBe(2000);
    const tasksDir = path.join(ws.queue, "tasks");
    const ids = await readdir(tasksDir);
    expect(ids).toHaveLength(2000);
    for (const id of ids) {
      const task = JSON.parse(await readFile(path.join(tasksDir, id, "task.json"), "utf8"));
      expect(task.state).toBe("claimed");
      const lines = (await readFile(path.join(tasksDir, id, "events.jsonl"), "utf8")).trim().split("\n");
      expect(lines.map((l) => JSON.parse(l).type)).toEqual(["created", "claimed"]);
    }
  }, 120_000);
});

describe.runIf(which("python3"))("flock interop with Python", () => {
  it("our claim waits while python3 holds fcntl.flock on the lock file, then proceeds", async () => {
    const task = await ws.submit();
    const holder = spawn("python3", [
      "-c",
      "import fcntl,sys,time; f=open(sys.argv[1],'a'); fcntl.flock(f,fcntl.LOCK_EX); print('held',flush=True); sys.stdin.readline()",
      path.join(ws.queue, "lock"),
    ]);
    const held = new Promise((resolve) => holder.stdout.once("data", resolve));
    const holderDone = run(holder);
    await held;
    let claimed = false;
    const claim = ws.store.claim(task.id, { owner: "node" }).then((t) => {
      claimed = true;
      return t;
    });
    // The event loop stays free while we wait for the lock.
    const ticks = await new Promise<number>((resolve) => {
      let n = 0;
      const timer = setInterval(() => {
        n += 1;
        if (n === 20) {
          clearInterval(timer);
          resolve(n);
        }
      }, 10);
    });
    expect(ticks).toBe(20);
    expect(claimed).toBe(false);
    expect((await ws.store.get(task.id)).state).toBe("queued");
    holder.stdin.end("\n");
    await holderDone;
    expect((await claim).state).toBe("claimed");
  });
});

describe.runIf(which("flock"))("flock interop with flock(1)", () => {
  it("a create waits for flock(1) to let go", async () => {
    await mkdir(ws.queue, { recursive: true }); // flock(1) creates the lock file, not its folder
    const holder = spawn("flock", [path.join(ws.queue, "lock"), "sh", "-c", "echo held; read x"]);
    const held = new Promise((resolve) => holder.stdout.once("data", resolve));
    const holderDone = run(holder);
    await held;
    let created = false;
    const creating = ws.submit().then((t) => {
      created = true;
      return t;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(created).toBe(false);
    holder.stdin.end("\n");
    await holderDone;
    expect((await creating).state).toBe("queued");
  });
});
