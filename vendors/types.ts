// The adapter contract: everything the supervisor needs to know about one
// agent CLI, and nothing else. Adapters never touch the store, the lease or
// the process tree; the supervisor owns all of that (ARCHITECTURE.md).

import type { Task } from "../src/store/types.js";

/** What the supervisor knows when it asks an adapter for an invocation. */
export interface RunContext {
  /** The full text to give the agent: prompt, artifact, thread context (built by the supervisor). */
  input: string;
  /** worktree_path if it exists, else workspace_root. */
  cwd: string;
  /** 1-based attempt number (claimed events so far). */
  attempt: number;
  /** This vendor's merged configuration (defaults + handoff.yaml dispatch: + --vendor-config). */
  config: VendorConfig;
  /** Record a warning on the task (an event of type `dispatcher_warning`). */
  warn(message: string, data?: Record<string, unknown>): void;
  /**
   * The vendor session to continue (the parent task's `session_id`), for an
   * adapter with `supportsResume`; `input` then holds only this task's request.
   */
  resumeSession?: string | null;
}

/** Per-vendor settings; every field optional, adapters supply defaults. */
export interface VendorConfig {
  /** Executable (and leading args) to run instead of the adapter's default, e.g. "/opt/bin/claude". */
  command?: string | string[];
  /** model_class -> model id. */
  models?: Record<string, string>;
  /** effort -> the value passed to the CLI's effort flag. */
  efforts?: Record<string, string>;
  /** Extra argv appended to every invocation (permission mode, sandbox, allowed tools...). */
  args?: string[];
  /** Extra environment for the child. */
  env?: Record<string, string>;
  /** Per-task cost ceiling in USD (claude: --max-budget-usd). */
  maxCostUsd?: number;
  /**
   * Whether the CLI has an effort flag (claude: `--effort`, missing in older builds).
   * When false the adapter passes none and reports `supportsEffort: false`.
   * @default true
   */
  effortFlag?: boolean;
  /** model id (prefix) -> {input, cached_input, output} USD per million tokens, over the built-in price table (vendors/prices.ts). */
  prices?: Record<string, { input: number; cached_input?: number; output: number }>;
  [key: string]: unknown;
}

export interface Invocation {
  file: string;
  args: string[];
  env?: Record<string, string>;
  /** Written to the child's stdin, which is then closed. */
  input: string;
  cwd: string;
  /** What the run asked for, reported in response metadata. */
  model?: string | null;
  effort?: string | null;
}

/** What the supervisor observed of one child run. */
export interface ChildResult {
  exitCode: number | null;
  signal: string | null;
  /** Captured stdout (possibly truncated, see stdoutTruncated). */
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  durationMs: number;
  /** Why the supervisor ended the run, if it did. */
  killedBy?: "task-timeout" | "idle-timeout" | "lease-lost" | "shutdown" | null;
  /** Set when the process could not be started at all. */
  spawnError?: Error | null;
  invocation: Invocation;
}

export type Outcome =
  | { kind: "completed"; body: string; metadata: Record<string, unknown> }
  | { kind: "failed"; body: string; retry: boolean; metadata?: Record<string, unknown> }
  | {
      kind: "usage-limit";
      message: string;
      resetAt?: Date | null;
      /**
       * True when the reset came with a date (an epoch, a calendar date, a
       * structured `resets_at`): only such a pause may last up to 7 days; any
       * other is clamped to a day.
       */
      resetDated?: boolean;
      metadata?: Record<string, unknown>;
    }
  /**
   * The CLI cannot authenticate (not logged in, key invalid or expired, 401/403):
   * the task is released without counting the attempt and the vendor paused
   * (kind `needs-login`) until someone logs in and runs `agent-lanes resume`.
   */
  | { kind: "needs-login"; message: string; fix: string; metadata?: Record<string, unknown> };

export interface VendorAdapter {
  /** "claude", "codex", "gemini", "command", "demo", ... */
  readonly name: string;
  /**
   * True when invocation() passes the task's effort to the CLI. When false or
   * absent the supervisor puts an effort hint into the input text instead.
   */
  readonly supportsEffort?: boolean;
  /**
   * True when invocation() continues `ctx.resumeSession` (claude --resume,
   * codex exec resume) and settle() marks a session that is gone with
   * metadata `resume_failed: <id>`, so the supervisor can run again with the pasted thread.
   */
  readonly supportsResume?: boolean;
  /** Usually metadata.required_vendor in {name, "any", undefined}. */
  accepts(task: Task): boolean;
  invocation(task: Task, ctx: RunContext): Invocation;
  settle(run: ChildResult, task: Task): Outcome;
}

/** How a plugin module exposes its adapter: a default export or `createAdapter` (may be async). */
export type AdapterFactory = (options: { config: VendorConfig }) => VendorAdapter | Promise<VendorAdapter>;
