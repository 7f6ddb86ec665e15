// runChild with real misbehaving children: the timers, the caps, the kill of
// the whole process group, and what a run leaves behind (nothing).

import { getEventListeners } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Invocation } from "../../vendors/types.js";
import { runChild, type RunChildOptions } from "../../src/supervisor/run-child.js";
import { AGENTS, allGone, killQuietly, waitFor } from "./helpers.js";

let dir: string;
const spawned = new Set<number>();

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "run-child-"));
});
afterEach(async () => {
  killQuietly(spawned);
  spawned.clear();
  await rm(dir, { recursive: true, force: true });
});

function agent(name: string, args: string[] = [], input = "the input\n"): Invocation {
  return { file: process.execPath, args: [path.join(AGENTS, `${name}.mjs`), ...args], input, cwd: dir };
}

function opts(fields: Partial<RunChildOptions> = {}): RunChildOptions {
  return {
    runId: `test-${Date.now()}`,
    taskTimeoutMs: 20_000,
    idleTimeoutMs: 20_000,
    killGraceMs: 300,
    maxOutputBytes: 1024 * 1024,
    onSpawn: ({ pgid }) => void spawned.add(pgid),
    ...fields,
  };
}

async function agentPid(): Promise<number> {
  const text = await waitFor("the agent to print its pid", async () => {
    const out = await readFile(path.join(dir, "pid"), "utf8").catch(() => "");
    return out.trim();
  });
  return Number(text.split(" ")[0]);
}

describe("runChild", () => {
  it("writes the input to stdin, closes it, and collects stdout", async () => {
    const result = await runChild(agent("cat-stdin", [], "hello agent\n"), opts());
    expect(result).toMatchObject({ exitCode: 0, signal: null, stdout: "hello agent\n", killedBy: null, spawnError: null, stdoutTruncated: false });
    expect(result.durationMs).toBeGreaterThan(0);
  });

  it("reports the exit code and stderr of a crashing child", async () => {
    const result = await runChild(agent("crash"), opts());
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toContain("crash agent: something broke");
  });

  it("reports a command that cannot be started as a spawn error", async () => {
    const result = await runChild({ file: path.join(dir, "no-such-agent"), args: [], input: "", cwd: dir }, opts());
    expect(result.spawnError).toBeInstanceOf(Error);
    expect((result.spawnError as NodeJS.ErrnoException).code).toBe("ENOENT");
    expect(result.exitCode).toBeNull();
  });

  it("names a missing working directory in the spawn error", async () => {
    const result = await runChild({ file: "true", args: [], input: "", cwd: path.join(dir, "gone") }, opts());
    expect(result.spawnError?.message).toBe(`working directory does not exist: ${path.join(dir, "gone")}`);
  });

  it("the task timeout kills a child that ignores SIGTERM: SIGTERM, then SIGKILL after the grace", async () => {
    const started = Date.now();
    // The timeout leaves the agent time to start and install its handler, even on a busy machine.
    const result = await runChild(agent("ignore-term", ["--chatty"]), opts({ taskTimeoutMs: 2000, killGraceMs: 300 }));
    expect(result.killedBy).toBe("task-timeout");
    expect(result.signal).toBe("SIGKILL");
    expect(result.stderr).toContain("ignoring SIGTERM");
    expect(Date.now() - started).toBeGreaterThanOrEqual(2300);
    const pid = Number(/ignore-term agent (\d+)/.exec(result.stdout)?.[1]);
    expect(await allGone([pid], 2000)).toBe(true);
  });

  it("the idle timeout kills a silent child that ignores SIGTERM, while output keeps a chatty one alive", async () => {
    const silent = await runChild(agent("ignore-term"), opts({ idleTimeoutMs: 1500, killGraceMs: 200 }));
    expect(silent.killedBy).toBe("idle-timeout");
    expect(silent.signal).toBe("SIGKILL");
    // Generous against a slow start under load: the agent prints every 200 ms once it runs.
    const chatty = await runChild(agent("ignore-term", ["--chatty"]), opts({ idleTimeoutMs: 1500, taskTimeoutMs: 3000, killGraceMs: 200 }));
    expect(chatty.killedBy).toBe("task-timeout");
  });

  it("caps a flood of output without stalling the child, which still ends by itself", async () => {
    const result = await runChild(agent("flood", ["30"]), opts({ maxOutputBytes: 64 * 1024 }));
    expect(result.exitCode).toBe(0);
    expect(result.killedBy).toBeNull();
    expect(result.stdoutTruncated).toBe(true);
    expect(Buffer.byteLength(result.stdout)).toBe(64 * 1024);
  });

  it("ends promptly when the agent exits but leaves a child holding stdout, and kills that child", async () => {
    const started = Date.now();
    const result = await runChild(agent("hold-stdout", [path.join(dir, "pid")]), opts());
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("answered before leaving a child behind");
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await allGone([await agentPid()], 2000)).toBe(true);
  });

  it("an abort ends the run with the abort's reason, and the first cause wins", async () => {
    const controller = new AbortController();
    const pending = runChild(agent("sleep", ["30", path.join(dir, "pid")]), opts({ signal: controller.signal, taskTimeoutMs: 20_000 }));
    await waitFor("the sleep agent to start", () => readFile(path.join(dir, "pid"), "utf8").catch(() => ""));
    controller.abort("lease-lost");
    const result = await pending;
    expect(result.killedBy).toBe("lease-lost");
    expect(result.signal).toBe("SIGTERM");
  });

  it("leaves no listener on the caller's abort signal after the run", async () => {
    const controller = new AbortController();
    await runChild(agent("echo"), opts({ signal: controller.signal }));
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("kills the whole group: a grandchild that ignores SIGTERM dies with the run", async () => {
    const controller = new AbortController();
    const pending = runChild(agent("grandchild", [path.join(dir, "pid"), "30"]), opts({ signal: controller.signal, killGraceMs: 300 }));
    const [agentProc, grandchild] = (await waitFor("the pids", () => readFile(path.join(dir, "pid"), "utf8").catch(() => ""))).trim().split(" ").map(Number);
    controller.abort("shutdown");
    const result = await pending;
    expect(result.killedBy).toBe("shutdown");
    expect(await allGone([agentProc as number, grandchild as number], 2000)).toBe(true);
  });

  it.runIf(process.platform === "linux")("the agent starts with no signal ignored or blocked, without the lifeline fd, leading its own session", async () => {
    // Each agent reports on itself: grep and ls are the agent (the guard execs them), not a shell's children.
    const masks = await runChild({ file: "grep", args: ["-E", "^Sig(Blk|Ign)", "/proc/self/status"], input: "", cwd: dir }, opts());
    expect(masks.stdout).toMatch(/^SigBlk:\s+0+\nSigIgn:\s+0+\n$/);
    // The lifeline (fd 3) is closed before the agent starts; $$ is the agent itself here.
    const session = await runChild({ file: "/bin/sh", args: ["-c", "readlink /proc/$$/fd/3 || echo closed; echo $$ $(ps -o sid=,pgid= -p $$)"], input: "", cwd: dir }, opts());
    const [fd3, ids] = session.stdout.trim().split("\n");
    expect(fd3).toBe("closed");
    const [pid, sid, pgid] = (ids ?? "").split(/\s+/).map(Number);
    expect([sid, pgid]).toEqual([pid, pid]);
  });

  it("runs the same through child_process.spawn where libc's posix_spawn is not used (AGENT_LANES_SPAWN=node)", async () => {
    process.env.AGENT_LANES_SPAWN = "node";
    try {
      const ok = await runChild(agent("echo", [], "via node spawn\n"), opts());
      expect(ok.exitCode).toBe(0);
      expect(ok.stdout).toContain("via node spawn");
      const missing = await runChild({ file: path.join(dir, "no-such-agent"), args: [], input: "", cwd: dir }, opts());
      expect((missing.spawnError as NodeJS.ErrnoException).code).toBe("ENOENT");
      const gone = await runChild({ file: "true", args: [], input: "", cwd: path.join(dir, "gone") }, opts());
      expect(gone.spawnError?.message).toBe(`working directory does not exist: ${path.join(dir, "gone")}`);
    } finally {
      delete process.env.AGENT_LANES_SPAWN;
    }
  });
});
