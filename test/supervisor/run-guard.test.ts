// The run guard with real processes: a supervisor (a small Node script using
// the built run-guard module) is SIGKILLed while its agent ignores SIGTERM,
// holds a grandchild and a descendant that left the group with setsid; the
// guard never starts an agent once the supervisor is gone before the
// handshake; and it reports an agent it cannot run.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AGENTS, allGone, isAlive, killQuietly, REPO, waitFor } from "./helpers.js";

const GUARD_MODULE = path.join(REPO, "dist/src/supervisor/run-guard.js");

let dir: string;
const spawned = new Set<number>();

beforeEach(async () => {
  if (!existsSync(GUARD_MODULE)) throw new Error(`${GUARD_MODULE} is missing: run npm run build first`);
  dir = await mkdtemp(path.join(os.tmpdir(), "run-guard-"));
});
afterEach(async () => {
  killQuietly(spawned);
  spawned.clear();
  await rm(dir, { recursive: true, force: true });
});

/** A stand-in supervisor: starts one guarded agent, prints the guard's pid, then idles until killed. */
function supervisor(file: string, args: string[], options: { handshake: boolean }): ReturnType<typeof spawn> {
  const script = options.handshake
    ? `import { spawnGuarded } from ${JSON.stringify(GUARD_MODULE)};
       const child = await spawnGuarded({ file: ${JSON.stringify(file)}, args: ${JSON.stringify(args)}, input: "", cwd: ${JSON.stringify(dir)} }, { runId: "guard-test-${Date.now()}", killGraceMs: 5000 });
       console.log(child.pid); setInterval(() => {}, 1000);`
    : // The guard as spawnGuarded starts it, but the supervisor dies before its handshake.
      `import { spawn } from "node:child_process";
       import { guardCommand } from ${JSON.stringify(GUARD_MODULE)};
       const command = guardCommand({ file: ${JSON.stringify(file)}, args: ${JSON.stringify(args)}, input: "", cwd: ${JSON.stringify(dir)} }, { runId: "guard-test-x", killGraceMs: 1000 });
       const child = spawn(command.file, command.args, command.options);
       console.log(child.pid); process.kill(process.pid, "SIGKILL");`;
  return spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
}

/**
 * A stand-in supervisor with the orphan reaper: runs nested-escape.mjs (an
 * in-group grandchild without the run's marker holding a setsid escapee; with
 * `deep`, one more unmarked setsid step between them) under the guard and,
 * once the agent exited (after the reaper's look at the run's end), runs
 * `then` (which kills it). Returns the pids the agent wrote (agent,
 * grandchild, [middle,] escapee) and how the supervisor ended.
 */
async function dieAfterRunEnd(runId: string, then: string, deep = false): Promise<{ pids: number[]; signal: NodeJS.Signals | null }> {
  const pidFile = path.join(dir, "pids");
  const script = `import { startOrphanReaper } from ${JSON.stringify(path.join(REPO, "dist/src/supervisor/subreaper.js"))};
     import { spawnGuarded } from ${JSON.stringify(GUARD_MODULE)};
     if (!startOrphanReaper()) throw new Error("not a subreaper");
     const child = await spawnGuarded({ file: ${JSON.stringify(process.execPath)}, args: ${JSON.stringify([path.join(AGENTS, "nested-escape.mjs"), pidFile, ...(deep ? ["deep"] : [])])}, input: "", cwd: ${JSON.stringify(dir)} }, { runId: "${runId}-${Date.now()}", killGraceMs: 500 });
     child.stdin.end(); child.stdout.resume(); child.stderr.resume();
     child.exited.then(() => { ${then}; });`;
  const parent = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "ignore", "inherit"] });
  const exit = new Promise<NodeJS.Signals | null>((resolve) => parent.once("exit", (_code, signal) => resolve(signal)));
  const pids = (await waitFor("the agent's pids", () => readFile(pidFile, "utf8").catch(() => ""))).trim().split(" ").map(Number);
  pids.forEach((pid) => spawned.add(pid));
  return { pids, signal: await exit };
}

describe.runIf(process.platform === "linux")("run guard", () => {
  it("SIGKILL of the supervisor ends the agent that ignores SIGTERM, its grandchild and its setsid descendant within 2 s", async () => {
    const pidFile = path.join(dir, "pids");
    const parent = supervisor(process.execPath, [path.join(AGENTS, "escape.mjs"), pidFile, "60"], { handshake: true });
    const pids = (await waitFor("the agent's pids", () => readFile(pidFile, "utf8").catch(() => ""))).trim().split(" ").map(Number);
    pids.forEach((pid) => spawned.add(pid));
    expect(pids.every((pid) => isAlive(pid))).toBe(true);
    parent.kill("SIGKILL");
    await new Promise((resolve) => parent.once("exit", resolve));
    expect(await allGone(pids, 2000)).toBe(true);
  });

  it("a supervisor SIGKILLed right after its look at a run's end, before the group kill, leaves the guard's watcher to end an escapee the look could not reach", async () => {
    // The look at the run's end sees the grandchild (re-parented to the subreaper) but not the
    // escapee (its parent, the grandchild, lives): were the look to kill the watcher with the
    // grandchild, nothing would be left to end the escapee once the supervisor dies.
    // exited resolves once the orphan reaper had its look; the group kill would come next.
    const { pids, signal } = await dieAfterRunEnd("guard-test-look", "process.kill(process.pid, 'SIGKILL')");
    expect(signal, "the supervisor killed itself after the look").toBe("SIGKILL");
    expect(await allGone(pids.slice(1), 2000), "the grandchild and the escapee").toBe(true);
  });

  it("a supervisor SIGKILLed right after it ended a run whose group left an escapee behind: the guard's watcher, kept armed, ends the escapee", async () => {
    // The look at the run's end kills the grandchild (a member of the run's group). The marked
    // escapee is two setsid steps away, under an unmarked middle process that the reaper cannot
    // tie to the run (it leaves it, as docs/dispatcher.md says): no look can reach the escapee,
    // so the group, and with it the watcher, is kept. The supervisor dies right after ending the
    // run as the dispatcher does; were the group ended at once, nothing would end the escapee.
    const { pids, signal } = await dieAfterRunEnd("guard-test-kept", "child.endGroup(); process.kill(process.pid, 'SIGKILL')", true);
    expect(pids, "agent, grandchild, middle, escapee").toHaveLength(4);
    expect(signal, "the supervisor killed itself after ending the run").toBe("SIGKILL");
    const [, grandchild, , escapee] = pids as [number, number, number, number];
    expect(await allGone([grandchild, escapee], 2000), "the grandchild and the marked escapee").toBe(true);
  });

  it("never starts the agent when the supervisor is gone before the handshake", async () => {
    const marker = path.join(dir, "ran");
    const parent = supervisor("/bin/sh", ["-c", `echo ran > ${marker}`], { handshake: false });
    let out = "";
    parent.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    await new Promise((resolve) => parent.once("exit", resolve));
    const guard = Number(out.trim());
    expect(guard).toBeGreaterThan(1);
    spawned.add(guard);
    expect(await allGone([guard], 2000)).toBe(true);
    expect(existsSync(marker)).toBe(false);
  });
});
