// Shared pieces of the supervisor tests: condition polling with a deadline
// (never fixed sleeps), a log sink, the fake adapter, process checks, and the
// CLI binary as a subprocess.

import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { pino, type Logger } from "pino";
import type { VendorAdapter, VendorConfig } from "../../vendors/types.js";
import { isAlive } from "../../src/supervisor/sweep.js";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const CLI = path.join(REPO, "dist/src/cli/main.js");
export const FAKE_ADAPTER = path.join(REPO, "test/fixtures/adapters/fake-agent.mjs");
export const AGENTS = path.join(REPO, "test/fixtures/agents");
export const FAKE_BIN = path.join(REPO, "test/fixtures/bin");

export { isAlive };

/** Poll `check` until it returns a truthy value; fail with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 20_000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface LogSink {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  /** Lines whose msg contains `text`. */
  find(text: string): Array<Record<string, unknown>>;
}

/** A pino logger that keeps its JSON lines in memory. */
export function logSink(level = "debug"): LogSink {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines, find: (text) => lines.filter((l) => String(l.msg ?? "").includes(text)) };
}

/** The test adapter of test/fixtures/adapters (runs test/fixtures/agents). */
export async function fakeAdapter(config: VendorConfig = {}): Promise<VendorAdapter> {
  const mod = (await import(FAKE_ADAPTER)) as { createAdapter(options: { config: VendorConfig }): VendorAdapter };
  return mod.createAdapter({ config });
}

/** Every pid gone (a zombie counts as gone) within `timeoutMs`? */
export async function allGone(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (pids.every((pid) => !isAlive(pid))) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Kill what a test may have left behind; never throws. */
export function killQuietly(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

export interface CliProcess {
  child: ResultPromise;
  pid: number;
  /** Log lines (JSON) seen on stderr so far. */
  lines: Array<Record<string, unknown>>;
  stderr(): string;
}

/** `node dist/src/cli/main.js <args>` in the background, logs collected. */
export function startCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliProcess {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const child = execa(process.execPath, [CLI, ...args], { cwd: options.cwd, env: options.env, reject: false, buffer: false, stdin: "ignore" });
  const lines: Array<Record<string, unknown>> = [];
  let text = "";
  let pending = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    const s = chunk.toString("utf8");
    text += s;
    pending += s;
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    for (const part of parts) {
      try {
        lines.push(JSON.parse(part) as Record<string, unknown>);
      } catch {
        // plain text
      }
    }
  });
  child.stdout?.resume();
  return { child, pid: child.pid as number, lines, stderr: () => text };
}
