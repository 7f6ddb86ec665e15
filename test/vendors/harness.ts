// Test plumbing for adapters: in-memory tasks and run contexts, and running an
// adapter's invocation through a real process (the fake CLIs) the way the
// supervisor will, so settle() sees what a real run produces.

import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { expect } from "vitest";
import type { Task } from "../../src/store/types.js";
import type { ChildResult, Invocation, Outcome, RunContext, VendorAdapter, VendorConfig } from "../../vendors/types.js";

export const FIXTURE_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/bin");

/** A queued task as the store would hand it over. */
export function makeTask(metadata: Record<string, unknown> = {}, overrides: Partial<Task> = {}): Task {
  return {
    id: "20261124T051809211709Z-default-6b1387b40624",
    workspace_id: "ws",
    correlation_id: "default",
    source_agent: "orchestrator",
    lane: "default",
    workspace_root: "/tmp",
    worktree_path: null,
    expected_branch: null,
    request_path: "/tmp/request.md",
    request_sha256: "0".repeat(64),
    supporting_paths: [],
    response_path: "/tmp/response.md",
    prompt: null,
    metadata,
    state: "claimed",
    created_at: "2026-11-24T05:18:09.211709Z",
    updated_at: "2026-11-24T05:18:09.211709Z",
    claim_owner: "test",
    claim_token: "t",
    lease_expires_at: null,
    claimed_at: null,
    completed_at: null,
    failed_at: null,
    failure_reason: null,
    ...overrides,
  };
}

/** A run context that records warnings. */
export function makeContext(config: VendorConfig, overrides: Partial<RunContext> = {}): RunContext & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    input: "Review the change in request.md\nsecond line\n",
    cwd: os.tmpdir(),
    attempt: 1,
    config,
    warn: (message: string) => void warnings.push(message),
    warnings,
    ...overrides,
  };
}

/** Runs an invocation as the supervisor would (argv, cwd, env added to ours, input then stdin closed). */
export async function runInvocation(invocation: Invocation, testEnv: Record<string, string> = {}): Promise<ChildResult> {
  const result = await execa(invocation.file, invocation.args, {
    input: invocation.input,
    cwd: invocation.cwd,
    env: { ...(invocation.env ?? {}), ...testEnv },
    reject: false,
    // The supervisor keeps output as the child wrote it.
    stripFinalNewline: false,
    timeout: 20_000,
  });
  const spawnFailed = result.exitCode === undefined && !result.signal;
  return {
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    stdout: String(result.stdout ?? ""),
    stderr: String(result.stderr ?? ""),
    stdoutTruncated: false,
    stderrTruncated: false,
    durationMs: Math.round(result.durationMs),
    killedBy: result.timedOut ? "task-timeout" : null,
    spawnError: spawnFailed ? ((result as { cause?: Error }).cause ?? new Error(result.message)) : null,
    invocation,
  };
}

/** A ChildResult built by hand, for classification tests that need no process. */
export function fakeRun(partial: Partial<ChildResult> & { invocation?: Partial<Invocation> } = {}): ChildResult {
  const { invocation, ...rest } = partial;
  return {
    exitCode: 0,
    signal: null,
    stdout: "",
    stderr: "",
    stdoutTruncated: false,
    stderrTruncated: false,
    durationMs: 10,
    killedBy: null,
    spawnError: null,
    ...rest,
    invocation: { file: "x", args: [], input: "", cwd: "/tmp", model: "m", effort: "medium", ...invocation },
  };
}

export interface TempDir {
  dir: string;
  /** The JSON lines a fake appended to its log. */
  log(): Promise<Array<{ vendor: string; argv: string[]; cwd: string; stdin: string; env: Record<string, string> }>>;
  logFile: string;
  cleanup(): Promise<void>;
}

export async function makeTempDir(): Promise<TempDir> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "agent-lanes-vendors-"));
  const logFile = path.join(dir, "fake.log.jsonl");
  return {
    dir,
    logFile,
    async log() {
      const text = await readFile(logFile, "utf8").catch(() => "");
      return text
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line));
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * One real run of a built-in adapter against its fake CLI: invocation for a
 * task with `metadata`, the process (logging its argv/stdin to tmp.logFile),
 * and the adapter's settlement of it.
 */
export async function runAdapter(
  create: (options: { config: VendorConfig }) => VendorAdapter,
  tmp: TempDir,
  metadata: Record<string, unknown>,
  config: VendorConfig,
  fakeEnv: Record<string, string> = {},
) {
  const adapter = create({ config });
  const ctx = makeContext(config, { cwd: tmp.dir });
  const task = makeTask(metadata);
  const invocation = adapter.invocation(task, ctx);
  const result = await runInvocation(invocation, { FAKE_AGENT_LOG: tmp.logFile, ...fakeEnv });
  return { invocation, result, outcome: adapter.settle(result, task), ctx };
}

/** Assert a failed outcome with the given retry decision (and body text). */
export function expectFailed(outcome: Outcome, retry: boolean, text?: string | RegExp): void {
  expect(outcome.kind).toBe("failed");
  if (outcome.kind !== "failed") return;
  expect(outcome.retry).toBe(retry);
  if (text) expect(outcome.body).toMatch(text);
}
