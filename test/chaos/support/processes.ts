// Real processes for the chaos and interop suites: the built CLI, peers and
// supervisors, with their output collected and their end awaited.

import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

/** The built CLI (`npm run build`); the suites drive the binary users run. */
export const CLI = path.resolve(process.cwd(), "dist", "src", "cli", "main.js");

/** Fail loudly (not skip) when the build is missing. */
export function requireBuild(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before the reliability suites`);
}

export interface Running {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited and its pipes closed. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly done: boolean;
}

export function start(file: string, args: string[], options: SpawnOptions = {}): Running {
  const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  let out = "";
  let err = "";
  let done = false;
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("close", (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
    child.on("error", (error) => {
      err += `spawn error: ${error.message}\n`;
    });
  });
  if (child.pid === undefined) throw new Error(`could not start ${file}`);
  return {
    child,
    pid: child.pid,
    stdout: () => out,
    stderr: () => err,
    exited,
    get done() {
      return done;
    },
  };
}

/** Run to the end; resolve with the output. */
export async function run(file: string, args: string[], options: SpawnOptions = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = start(file, args, options);
  const { code } = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** Signal a process and wait for it to end; SIGKILL after `graceMs` if it has not. */
export async function stop(p: Running, signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<void> {
  if (p.done) return;
  p.child.kill(signal);
  const timer = setTimeout(() => p.child.kill("SIGKILL"), graceMs);
  await p.exited;
  clearTimeout(timer);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll `check` every `everyMs` until it returns true or `timeoutMs` passes; returns whether it did. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}
