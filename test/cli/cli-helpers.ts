// Run the built agent-lanes binary as a subprocess, in throw-away workspaces.
// The binary must be built first (`npm run build`; `npm test` does it).

import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { initWorkspace } from "../../src/cli/commands/init.js";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The package's bin, as npm installs it. */
export const CLI = path.join(REPO, (JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { bin: Record<string, string> }).bin["agent-lanes"] as string);

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build before the CLI tests`);

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON. */
  json<T = Record<string, unknown>>(): T;
  /** stderr split into non-empty lines. */
  errLines: string[];
}

export interface RunOptions {
  cwd?: string;
  /** Text on stdin; without it stdin is closed (empty). */
  input?: string;
  env?: Record<string, string | undefined>;
  /** Kill after this many ms. @default 20000 */
  timeoutMs?: number;
}

export function toResult(r: { exitCode?: number; stdout?: unknown; stderr?: unknown }): CliResult {
  const stdout = String(r.stdout ?? "");
  const stderr = String(r.stderr ?? "");
  return {
    exitCode: r.exitCode ?? -1,
    stdout,
    stderr,
    errLines: stderr.split("\n").filter((line) => line.trim() !== ""),
    json<T>() {
      try {
        return JSON.parse(stdout) as T;
      } catch (error) {
        throw new Error(`stdout is not JSON: ${JSON.stringify(stdout)} (stderr: ${JSON.stringify(stderr)})`, { cause: error });
      }
    },
  };
}

/** Start the CLI; await `.then(toResult)` via run(), or keep the process to talk to it. */
export function start(args: readonly string[], options: RunOptions = {}): ResultPromise {
  return execa(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    reject: false,
    input: options.input ?? "",
    env: { AGENT_LANES_DEBUG: undefined, ...options.env },
    timeout: options.timeoutMs ?? 20_000,
    stripFinalNewline: false,
  });
}

export async function run(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  return toResult(await start(args, options));
}

/** Wait for a started CLI and wrap its result. */
export async function finish(child: ResultPromise): Promise<CliResult> {
  return toResult(await child);
}

export interface CliWorkspace {
  /** Workspace root (holds handoff/); the cwd of every run. */
  root: string;
  queue: string;
  config: string;
  /** Run the CLI with the workspace root as cwd. */
  run(args: readonly string[], options?: RunOptions): Promise<CliResult>;
  start(args: readonly string[], options?: RunOptions): ResultPromise;
  /** Write a file under the root; returns its path relative to the root. */
  file(relative: string, content?: string): Promise<string>;
  /** Submit a task on `lane` with a fresh request file; returns its id. */
  submit(lane?: string, extra?: readonly string[]): Promise<string>;
  cleanup(): Promise<void>;
}

let counter = 0;

/** A temp folder with handoff/ scaffolded (the same code `agent-lanes init` runs). */
export async function makeCliWorkspace(prefix = "al-cli-"): Promise<CliWorkspace> {
  const root = await realpath(await mkdtemp(path.join(os.tmpdir(), prefix)));
  await initWorkspace({ path: root, workspaceId: "ws", cliEntry: CLI });
  const ws: CliWorkspace = {
    root,
    queue: path.join(root, "handoff", "state"),
    config: path.join(root, "handoff", "handoff.yaml"),
    run: (args, options = {}) => run(args, { cwd: root, ...options }),
    start: (args, options = {}) => start(args, { cwd: root, ...options }),
    async file(relative, content = "request\n") {
      const target = path.join(root, relative);
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, content);
      return relative;
    },
    async submit(lane = "default", extra = []) {
      counter += 1;
      const request = await ws.file(`requests/r${counter}.md`, `request ${counter}\n`);
      const result = await ws.run(["submit", "--lane", lane, "--request-from", request, "--response-to", `responses/r${counter}.md`, "--json", ...extra]);
      if (result.exitCode !== 0) throw new Error(`submit failed: ${result.stderr}`);
      return result.json<{ task_id: string }>().task_id;
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
  return ws;
}

/** Keys of an object, sorted (for payload shape assertions). */
export function keys(value: unknown): string[] {
  return Object.keys(value as Record<string, unknown>).sort();
}
