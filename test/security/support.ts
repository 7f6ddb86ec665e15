// Shared by the security suites: a CLI workspace, and a way to run the CLI as
// an ordinary user. Permission checks (an unreadable folder, EACCES) do not
// apply to root, so when the tests run as root the CLI runs as `nobody` on a
// workspace handed over to it; as an ordinary user it runs as is.

import { spawn, type ChildProcess } from "node:child_process";
import { chown, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach } from "vitest";
import { CLI, makeCliWorkspace, toResult, type CliResult, type CliWorkspace, type RunOptions } from "../cli/cli-helpers.js";

export { makeCliWorkspace, type CliResult, type CliWorkspace };

export const IS_ROOT = process.getuid?.() === 0;
/** The user permission tests run as when the suite runs as root. */
export const NOBODY = 65534;

async function chownTree(dir: string, uid: number): Promise<void> {
  await chown(dir, uid, uid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(full, uid);
    else await chown(full, uid, uid).catch(() => undefined);
  }
}

/** Hand the workspace to the unprivileged user the CLI will run as (no-op when not root). */
export async function handOver(ws: CliWorkspace): Promise<void> {
  if (IS_ROOT) await chownTree(ws.root, NOBODY);
}

/** Run the CLI as an ordinary user (nobody when the suite runs as root), cwd the workspace root. */
export async function runUnprivileged(ws: CliWorkspace, args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  const r = await execa(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ws.root,
    reject: false,
    input: options.input ?? "",
    env: { AGENT_LANES_DEBUG: undefined, HOME: ws.root, ...options.env },
    timeout: options.timeoutMs ?? 20_000,
    ...(IS_ROOT ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  return toResult(r);
}

/**
 * A process holding an exclusive flock on `file` until stopped: flock(1)
 * running sleep, the way a stuck peer (or a hung Python CLI) holds the queue lock.
 */
export async function holdLock(file: string): Promise<{ pid: number; stop(): Promise<void> }> {
  // Its own process group, so stop() ends flock and its sleeping child together.
  const child: ChildProcess = spawn("flock", ["--exclusive", file, "sh", "-c", "echo locked; exec sleep 600"], {
    stdio: ["ignore", "pipe", "inherit"],
    detached: true,
  });
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.stdout?.once("data", () => resolve());
  });
  return {
    pid: child.pid as number,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      process.kill(-(child.pid as number), "SIGKILL");
      await exited;
    },
  };
}

/** The mode bits of a path (permissions only). */
export async function modeOf(p: string): Promise<number> {
  return (await stat(p)).mode & 0o7777;
}

/** A fresh CLI workspace for each test of the file, removed after it; `set` receives it. */
export function eachCliWorkspace(prefix: string, set: (ws: CliWorkspace) => void): void {
  let current: CliWorkspace | undefined;
  beforeEach(async () => {
    current = await makeCliWorkspace(prefix);
    set(current);
  });
  afterEach(async () => {
    await current?.cleanup();
  });
}
