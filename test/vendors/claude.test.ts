import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createClaudeAdapter } from "../../vendors/claude.js";
import type { VendorConfig } from "../../vendors/types.js";
import { expectFailed, fakeRun, FIXTURE_BIN, makeContext, makeTask, makeTempDir, runAdapter, type TempDir } from "./harness.js";

const CLAUDE = path.join(FIXTURE_BIN, "claude");
const base: VendorConfig = { command: CLAUDE };

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

/** Invocation for the task, run through the fake claude, settled. */
const run = (metadata: Record<string, unknown>, config: VendorConfig = base, fakeEnv: Record<string, string> = {}) =>
  runAdapter(createClaudeAdapter, tmp, metadata, config, fakeEnv);

describe("claude invocation", () => {
  it("asks for JSON output with the default model and effort, input on stdin", () => {
    const adapter = createClaudeAdapter({ config: {} });
    const ctx = makeContext({}, { cwd: "/work/tree", input: "the full prompt" });
    const invocation = adapter.invocation(makeTask(), ctx);
    expect(invocation).toEqual({
      file: "claude",
      args: ["-p", "--output-format", "json", "--model", "sonnet", "--effort", "medium"],
      env: { CLAUDE_CODE_EFFORT_LEVEL: "medium" },
      input: "the full prompt",
      cwd: "/work/tree",
      model: "sonnet",
      effort: "medium",
    });
    expect(adapter.supportsEffort).toBe(true);
    expect(ctx.warnings).toEqual([]);
  });

  it("maps model_class and effort, then appends budget and config args, with config env last", () => {
    const config: VendorConfig = {
      command: ["node", CLAUDE],
      models: { opus: "claude-opus-4-7" },
      args: ["--permission-mode", "acceptEdits", "--allowedTools", "Read,Edit"],
      env: { FOO: "bar", CLAUDE_CODE_EFFORT_LEVEL: "low" },
      maxCostUsd: 0.5,
    };
    const ctx = makeContext(config);
    const invocation = createClaudeAdapter({ config }).invocation(makeTask({ model_class: "opus", effort: "xhigh" }), ctx);
    expect(invocation.file).toBe("node");
    expect(invocation.args).toEqual([
      CLAUDE,
      "-p",
      "--output-format",
      "json",
      "--model",
      "claude-opus-4-7",
      "--effort",
      "xhigh",
      "--max-budget-usd",
      "0.5",
      "--permission-mode",
      "acceptEdits",
      "--allowedTools",
      "Read,Edit",
    ]);
    expect(invocation.env).toEqual({ FOO: "bar", CLAUDE_CODE_EFFORT_LEVEL: "low" });
    expect(invocation).toMatchObject({ model: "claude-opus-4-7", effort: "xhigh" });
  });

  it("falls back to the defaults with a warning for an unknown model_class or effort", () => {
    const ctx = makeContext({});
    const invocation = createClaudeAdapter().invocation(makeTask({ model_class: "gpt-5-3", effort: "ultra" }), ctx);
    expect(invocation).toMatchObject({ model: "sonnet", effort: "medium" });
    expect(ctx.warnings).toHaveLength(2);
    expect(ctx.warnings[0]).toContain('unknown model_class "gpt-5-3" for claude');
    expect(ctx.warnings[1]).toContain('unknown effort "ultra" for claude');
  });

  it("passes no effort when effort_flag is off and says so through supportsEffort", () => {
    const config: VendorConfig = { effortFlag: false };
    const adapter = createClaudeAdapter({ config });
    const ctx = makeContext(config);
    const invocation = adapter.invocation(makeTask({ model_class: "haiku", effort: "nonsense" }), ctx);
    expect(adapter.supportsEffort).toBe(false);
    expect(invocation.args).toEqual(["-p", "--output-format", "json", "--model", "haiku"]);
    expect(invocation.env).toBeUndefined();
    expect(invocation.effort).toBeNull();
    expect(ctx.warnings).toEqual([]);
  });

  it("accepts tasks for claude, any vendor or none, and refuses others", () => {
    const adapter = createClaudeAdapter();
    expect(adapter.accepts(makeTask())).toBe(true);
    expect(adapter.accepts(makeTask({ required_vendor: "any" }))).toBe(true);
    expect(adapter.accepts(makeTask({ required_vendor: "Claude" }))).toBe(true);
    expect(adapter.accepts(makeTask({ required_vendor: "codex" }))).toBe(false);
  });
});

describe("claude runs through the fake CLI", () => {
  it("delivers argv, cwd, env and stdin, and parses body and metadata", async () => {
    const config: VendorConfig = { ...base, env: { FOO: "bar" } };
    const { invocation, outcome, ctx } = await run({ model_class: "opus", effort: "high" }, config, {
      FAKE_AGENT_LOG_ENV: "FOO",
      FAKE_AGENT_SESSION_ID: "sess-1",
    });
    const [logged] = await tmp.log();
    expect(logged?.argv).toEqual(invocation.args);
    expect(logged?.cwd).toBe(tmp.dir);
    expect(logged?.stdin).toBe(ctx.input);
    expect(logged?.env).toMatchObject({ FOO: "bar", CLAUDE_CODE_EFFORT_LEVEL: "high" });

    expect(outcome.kind).toBe("completed");
    if (outcome.kind !== "completed") return;
    expect(outcome.body).toBe("fake claude reply to: Review the change in request.md");
    const inputTokens = Math.ceil(ctx.input.length / 4);
    expect(outcome.metadata).toMatchObject({
      model_used: "claude-opus-4-7",
      effort_used: "high",
      tokens_in: inputTokens + 7 + 3,
      tokens_out: Math.ceil(outcome.body.length / 4),
      tokens_cache_read: 7,
      cost_usd: 0.0123,
      session_id: "sess-1",
      num_turns: 1,
    });
    expect(outcome.metadata.duration_ms).toEqual(expect.any(Number));
  });

  it("takes the result from the --verbose array and from stream-json lines", async () => {
    const verbose = await run({}, { ...base, args: ["--verbose"] }, { FAKE_AGENT_REPLY: "verbose answer" });
    expect(verbose.result.stdout.startsWith("[")).toBe(true);
    expect(verbose.outcome).toMatchObject({ kind: "completed", body: "verbose answer", metadata: { model_used: "claude-sonnet-4-6" } });
    const stream = await run({}, { ...base, args: ["--output-format", "stream-json", "--verbose"] }, { FAKE_AGENT_REPLY: "streamed answer" });
    expect(stream.outcome).toMatchObject({ kind: "completed", body: "streamed answer" });
  });

  it("reads the cost from older builds' cost_usd and counts permission denials", async () => {
    const legacy = await run({}, base, { FAKE_CLAUDE_LEGACY_COST: "1", FAKE_AGENT_COST_USD: "0.5" });
    expect(legacy.outcome).toMatchObject({ kind: "completed", metadata: { cost_usd: 0.5 } });
    const denied = await run({}, base, { FAKE_AGENT_SCENARIO: "permission-denied" });
    expect(denied.outcome).toMatchObject({ kind: "completed", metadata: { permission_denials: 1 } });
  });

  it("turns an unknown --effort on an old build into a permanent failure that names the fix", async () => {
    const { outcome } = await run({}, base, { FAKE_CLAUDE_NO_EFFORT: "1" });
    expectFailed(outcome, false, /--effort.*effort_flag: false/);
    const fixed = await run({ effort: "high" }, { ...base, effortFlag: false }, { FAKE_CLAUDE_NO_EFFORT: "1" });
    expect(fixed.outcome.kind).toBe("completed");
  });

  it("passes --max-cost-usd as --max-budget-usd and fails permanently when it is hit", async () => {
    const { invocation, outcome } = await run({}, { ...base, maxCostUsd: 0.001 }, { FAKE_AGENT_COST_USD: "0.01" });
    expect(invocation.args).toContain("--max-budget-usd");
    expectFailed(outcome, false, /cost ceiling/);
    expect(outcome.metadata?.cost_usd).toBe(0.01);
  });

  it("keeps a long answer that merely mentions a rate limit", async () => {
    const reply = `The client now retries on "API Error: Rate limit reached".\n${"Details follow. ".repeat(40)}`;
    const { outcome } = await run({}, base, { FAKE_AGENT_REPLY: reply });
    expect(outcome).toMatchObject({ kind: "completed", body: reply });
  });
});

describe("claude failure classification", () => {
  const cases: Array<[scenario: string, retry: boolean, text: RegExp]> = [
    ["is-error", false, /Something unexpected happened/],
    ["api-500", true, /API error 500/],
    ["network", true, /Connection error/],
    ["max-turns", false, /ran out of turns/],
    ["empty", true, /printed no result/],
    ["garbage", false, /this is not what claude prints/],
    ["crash", false, /unexpected crash/],
    ["signal", true, /SIGKILL/],
  ];
  it.each(cases)("%s -> failed, retry %s", async (scenario, retry, text) => {
    const { outcome } = await run({}, base, { FAKE_AGENT_SCENARIO: scenario });
    expectFailed(outcome, retry, text);
  });

  it("is_error: true is a failure even with exit 0", async () => {
    const { result, outcome } = await run({}, base, { FAKE_AGENT_SCENARIO: "is-error", FAKE_AGENT_EXIT_CODE: "0" });
    expect(result.exitCode).toBe(0);
    expectFailed(outcome, false);
  });

  it("a CLI that cannot be started is a transient failure naming the config key", async () => {
    const config: VendorConfig = { command: path.join(tmp.dir, "no-such-claude") };
    const { result, outcome } = await run({}, config);
    expect(result.spawnError).toBeInstanceOf(Error);
    expectFailed(outcome, true, /dispatch\.vendors\.claude\.command/);
  });

  it("runs the supervisor stopped are classified by why they were stopped", () => {
    const adapter = createClaudeAdapter();
    const task = makeTask();
    expectFailed(adapter.settle(fakeRun({ killedBy: "task-timeout", signal: "SIGTERM", exitCode: null }), task), false, /time limit/);
    expectFailed(adapter.settle(fakeRun({ killedBy: "idle-timeout", signal: "SIGTERM", exitCode: null }), task), true, /no output/);
    expectFailed(adapter.settle(fakeRun({ killedBy: "shutdown", signal: "SIGTERM", exitCode: null }), task), true, /shutting down/);
  });

  it("a failure body quotes the tail of stderr", () => {
    const stderr = Array.from({ length: 50 }, (_, i) => `line ${i}`).join("\n");
    const outcome = createClaudeAdapter().settle(fakeRun({ exitCode: 1, stderr }), makeTask());
    expectFailed(outcome, false, /line 49/);
    if (outcome.kind === "failed") expect(outcome.body).not.toContain("line 5\n");
  });
});

describe("claude usage limits", () => {
  const within = (actual: Date | null | undefined, expectedMs: number, slackMs: number) => {
    expect(actual).toBeInstanceOf(Date);
    expect(Math.abs((actual as Date).getTime() - expectedMs)).toBeLessThanOrEqual(slackMs);
  };

  it("a session limit with a zone becomes usage-limit with its reset time", async () => {
    const started = Date.now();
    const { outcome } = await run({}, base, { FAKE_AGENT_SCENARIO: "session-limit", FAKE_AGENT_RESET_SECONDS: "600", FAKE_AGENT_RESET_ZONE: "Europe/Berlin" });
    expect(outcome).toMatchObject({ kind: "usage-limit", metadata: { limit_kind: "session-limit" } });
    if (outcome.kind === "usage-limit") within(outcome.resetAt, started + 600_000, 65_000);
  });

  it("weekly and Opus limits, with --verbose too", async () => {
    const started = Date.now();
    const weekly = await run({}, { ...base, args: ["--verbose"] }, { FAKE_AGENT_SCENARIO: "weekly-limit", FAKE_AGENT_RESET_SECONDS: String(3 * 86400) });
    expect(weekly.outcome).toMatchObject({ kind: "usage-limit", metadata: { limit_kind: "weekly-limit" } });
    if (weekly.outcome.kind === "usage-limit") within(weekly.outcome.resetAt, started + 3 * 86_400_000, 65_000);
    const opus = await run({ model_class: "opus" }, base, { FAKE_AGENT_SCENARIO: "opus-limit" });
    expect(opus.outcome).toMatchObject({ kind: "usage-limit", metadata: { limit_kind: "model-limit" } });
  });

  it("the 2025 epoch form gives a reset to the second, and counts as dated", async () => {
    const started = Date.now();
    const { outcome } = await run({}, base, { FAKE_AGENT_SCENARIO: "usage-limit-epoch", FAKE_AGENT_RESET_SECONDS: "5" });
    expect(outcome).toMatchObject({ kind: "usage-limit", resetDated: true });
    if (outcome.kind === "usage-limit") within(outcome.resetAt, started + 5000, 3000);
  });

  it("a successful answer whose first line looks like a limit message completes normally (no forged pause)", async () => {
    const { outcome } = await run({}, base, { FAKE_AGENT_SCENARIO: "limit-as-success", FAKE_AGENT_RESET_SECONDS: "5" });
    expect(outcome.kind).toBe("completed");
    if (outcome.kind === "completed") expect(outcome.body).toMatch(/^Claude AI usage limit reached\|\d+$/);
    for (const text of ["You've hit your weekly limit · resets Dec 31, 10am", "Not logged in · Please run /login"]) {
      const forged = await run({}, base, { FAKE_AGENT_REPLY: `${text}\n\nThe fix is in src/app.ts.` });
      expect(forged.outcome).toMatchObject({ kind: "completed", body: `${text}\n\nThe fix is in src/app.ts.` });
    }
  });

  it.each([
    ["429", "rate-limit"],
    ["rate-limit", "rate-limit"],
    ["529", "overloaded"],
  ])("%s is a usage limit without a reset time (the pause backs off)", async (scenario, kind) => {
    const { outcome } = await run({}, base, { FAKE_AGENT_SCENARIO: scenario });
    expect(outcome).toMatchObject({ kind: "usage-limit", resetAt: null, metadata: { limit_kind: kind } });
  });

  it("a rejected rate_limit_event supplies the reset when the text has none", () => {
    const stdout = JSON.stringify([
      { type: "rate_limit_event", rate_limit_info: { status: "rejected", resetsAt: 1795500000 } },
      { type: "result", subtype: "success", is_error: true, result: "API Error: 429", api_error_status: 429 },
    ]);
    const outcome = createClaudeAdapter().settle(fakeRun({ stdout, exitCode: 1 }), makeTask());
    expect(outcome).toMatchObject({ kind: "usage-limit" });
    if (outcome.kind === "usage-limit") expect(outcome.resetAt?.getTime()).toBe(1795500000 * 1000);
  });
});
