// Runs an adapter's Invocation as a real child process and reports it as the
// supervisor would (a ChildResult), so adapter tests need no supervisor.

import { execa } from "execa";
import type { Task } from "../../src/store/types.js";
import type { ChildResult, Invocation, RunContext, VendorConfig } from "../../vendors/types.js";

export async function runInvocation(invocation: Invocation, options: { timeoutMs?: number } = {}): Promise<ChildResult> {
  const started = Date.now();
  const child = await execa(invocation.file, invocation.args, {
    cwd: invocation.cwd,
    env: invocation.env,
    input: invocation.input,
    reject: false,
    stripFinalNewline: false,
    timeout: options.timeoutMs ?? 10_000,
  });
  const spawnError = child.failed && child.exitCode === undefined && !child.signal ? (child.cause as Error) : null;
  return {
    exitCode: child.exitCode ?? null,
    signal: child.signal ?? null,
    stdout: String(child.stdout ?? ""),
    stderr: String(child.stderr ?? ""),
    stdoutTruncated: false,
    stderrTruncated: false,
    durationMs: Date.now() - started,
    killedBy: child.timedOut ? "task-timeout" : null,
    spawnError,
    invocation,
  };
}

/** A task.json-shaped object for adapter calls (adapters read only metadata and paths). */
export function taskWith(metadata: Record<string, unknown> = {}): Task {
  return {
    id: "20261124T051809211709Z-t-000000000000",
    workspace_id: "ws",
    correlation_id: "t",
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
    claim_token: "token",
    lease_expires_at: null,
    claimed_at: null,
    completed_at: null,
    failed_at: null,
    failure_reason: null,
  };
}

/** A RunContext with the given input; warnings are collected in `warnings`. */
export function contextFor(input: string, config: VendorConfig, cwd = process.cwd()): RunContext & { warnings: string[] } {
  const warnings: string[] = [];
  return { input, cwd, attempt: 1, config, warnings, warn: (message: string) => void warnings.push(message) };
}
