import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createCodexAdapter, parseCodexEvents } from "../../vendors/codex.js";
import type { VendorConfig } from "../../vendors/types.js";
import { expectFailed, fakeRun, FIXTURE_BIN, makeContext, makeTask, makeTempDir, runAdapter, type TempDir } from "./harness.js";

const CODEX = path.join(FIXTURE_BIN, "codex");
const base: VendorConfig = { command: CODEX };

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

const run = (metadata: Record<string, unknown>, config: VendorConfig = base, fakeEnv: Record<string, string> = {}) =>
  runAdapter(createCodexAdapter, tmp, metadata, config, fakeEnv);

describe("codex invocation", () => {
  it("runs exec --json with model, quoted effort, the git check skipped and the prompt from stdin", () => {
    const adapter = createCodexAdapter();
    const ctx = makeContext({}, { cwd: "/work/tree", input: "prompt text" });
    expect(adapter.invocation(makeTask(), ctx)).toEqual({
      file: "codex",
      args: ["exec", "--json", "-m", "gpt-6.1-sol", "-c", 'model_reasoning_effort="medium"', "--skip-git-repo-check", "-"],
      env: undefined,
      input: "prompt text",
      cwd: "/work/tree",
      model: "gpt-6.1-sol",
      effort: "medium",
    });
    expect(adapter.supportsEffort).toBe(true);
  });

  it("maps the spark class and an effort, and puts config args before the stdin marker", () => {
    const config: VendorConfig = { args: ["-s", "workspace-write"], env: { OPENAI_BASE_URL: "http://127.0.0.1:1" } };
    const ctx = makeContext(config);
    const invocation = createCodexAdapter({ config }).invocation(makeTask({ model_class: "gpt-5-3-spark", effort: "high" }), ctx);
    expect(invocation.args).toEqual([
      "exec",
      "--json",
      "-m",
      "gpt-6-luna",
      "-c",
      'model_reasoning_effort="high"',
      "--skip-git-repo-check",
      "-s",
      "workspace-write",
      "-",
    ]);
    expect(invocation.env).toEqual({ OPENAI_BASE_URL: "http://127.0.0.1:1" });
    expect(ctx.warnings).toEqual([]);
  });

  it("warns and uses the defaults for a Claude model class or an effort codex lacks", () => {
    const ctx = makeContext({});
    const invocation = createCodexAdapter().invocation(makeTask({ model_class: "opus", effort: "none" }), ctx);
    expect(invocation).toMatchObject({ model: "gpt-6.1-sol", effort: "medium" });
    expect(ctx.warnings.join("\n")).toMatch(/unknown model_class "opus" for codex[\s\S]*unknown effort "none" for codex/);
  });

  it("accepts codex and any, not claude", () => {
    const adapter = createCodexAdapter();
    expect(adapter.accepts(makeTask({ required_vendor: "codex" }))).toBe(true);
    expect(adapter.accepts(makeTask({ required_vendor: "any" }))).toBe(true);
    expect(adapter.accepts(makeTask({ required_vendor: "claude" }))).toBe(false);
  });
});

describe("codex runs through the fake CLI", () => {
  it("delivers argv, cwd and stdin and takes the last agent message with its usage", async () => {
    const { invocation, outcome, ctx } = await run({ model_class: "gpt-5-3", effort: "low" }, base, {
      FAKE_AGENT_SESSION_ID: "thread-1",
      FAKE_CODEX_CACHED_TOKENS: "4",
    });
    const [logged] = await tmp.log();
    expect(logged?.argv).toEqual(invocation.args);
    expect(logged?.cwd).toBe(tmp.dir);
    expect(logged?.stdin).toBe(ctx.input);
    expect(outcome.kind).toBe("completed");
    if (outcome.kind !== "completed") return;
    // Not "Let me look at the request first.": the answer is the last message.
    expect(outcome.body).toBe("fake codex reply to: Review the change in request.md");
    expect(outcome.metadata).toMatchObject({
      model_used: "gpt-6.1-sol",
      effort_used: "low",
      tokens_in: Math.ceil(ctx.input.length / 4),
      tokens_out: Math.ceil(outcome.body.length / 4),
      tokens_cache_read: 4,
      session_id: "thread-1",
      num_turns: 1,
    });
  });

  it("accepts the 2025 spelling (item_type, assistant_message)", async () => {
    const { result, outcome } = await run({}, base, { FAKE_CODEX_SPELLING: "2025", FAKE_AGENT_REPLY: "old spelling" });
    expect(result.stdout).toContain('"item_type":"assistant_message"');
    expect(outcome).toMatchObject({ kind: "completed", body: "old spelling" });
  });

  it("completes without turn.completed, and after a reconnect error event", async () => {
    expect((await run({}, base, { FAKE_AGENT_SCENARIO: "no-turn-completed" })).outcome.kind).toBe("completed");
    expect((await run({}, base, { FAKE_AGENT_SCENARIO: "reconnect-then-ok" })).outcome.kind).toBe("completed");
  });

  it("reads the usage limit from the error events with its reset time", async () => {
    const started = Date.now();
    const { result, outcome } = await run({}, base, { FAKE_AGENT_SCENARIO: "usage-limit", FAKE_AGENT_RESET_SECONDS: "900" });
    expect(result.exitCode).toBe(1);
    expect(outcome).toMatchObject({ kind: "usage-limit", metadata: { limit_kind: "usage-limit" } });
    if (outcome.kind === "usage-limit") {
      expect(Math.abs((outcome.resetAt?.getTime() ?? 0) - (started + 900_000))).toBeLessThanOrEqual(65_000);
    }
    const dated = await run({}, base, { FAKE_AGENT_SCENARIO: "usage-limit-date", FAKE_AGENT_RESET_SECONDS: String(3 * 86400) });
    if (dated.outcome.kind !== "usage-limit") throw new Error(`expected usage-limit, got ${dated.outcome.kind}`);
    expect(Math.abs((dated.outcome.resetAt?.getTime() ?? 0) - (started + 3 * 86_400_000))).toBeLessThanOrEqual(65_000);
  });

  it("a limit found by the plain-text output of a build without --json still counts", () => {
    const outcome = createCodexAdapter().settle(
      fakeRun({ exitCode: 1, stderr: "ERROR: You've hit your usage limit. Try again later." }),
      makeTask(),
    );
    expect(outcome).toMatchObject({ kind: "usage-limit", resetAt: null });
  });
});

describe("codex failure classification", () => {
  const cases: Array<[scenario: string, retry: boolean, text: RegExp]> = [
    ["stream-error", true, /stream disconnected/],
    ["turn-failed", false, /not supported/],
    ["no-message", true, /without an agent message/],
    ["empty", true, /printed no events/],
    ["crash", false, /panicked/],
    ["signal", true, /SIGKILL/],
  ];
  it.each(cases)("%s -> failed, retry %s", async (scenario, retry, text) => {
    expectFailed((await run({}, base, { FAKE_AGENT_SCENARIO: scenario })).outcome, retry, text);
  });

  it("a flag codex does not have is a permanent usage error (exit 2)", async () => {
    const { result, outcome } = await run({}, { ...base, args: ["--reasoning-effort", "high"] });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("error: unexpected argument '--reasoning-effort' found");
    expectFailed(outcome, false, /usage error: error: unexpected argument/);
  });

  it("an effort value the model rejects is a permanent start-up failure", async () => {
    const { outcome } = await run({ effort: "high" }, { ...base, efforts: { high: "ultra" } });
    expectFailed(outcome, false, /unknown variant `ultra`/);
  });

  it("the untrusted-directory refusal names the missing flag", () => {
    const run = fakeRun({ exitCode: 1, stderr: "Not inside a trusted directory and --skip-git-repo-check was not specified." });
    expectFailed(createCodexAdapter().settle(run, makeTask()), false, /--skip-git-repo-check/);
  });
});

describe("parseCodexEvents", () => {
  it("ignores non-JSON lines and sums usage over turns", () => {
    const stdout = [
      "warning: something on stdout",
      JSON.stringify({ type: "turn.completed", usage: { input_tokens: 10, output_tokens: 2, cached_input_tokens: 1 } }),
      "{not json",
      JSON.stringify({ type: "item.completed", item: { type: "agent_message", text: "a" } }),
      JSON.stringify({ type: "turn.completed", usage: { input_tokens: 5, output_tokens: 3 } }),
    ].join("\n");
    expect(parseCodexEvents(stdout)).toMatchObject({ turnsCompleted: 2, tokensIn: 15, tokensOut: 5, tokensCached: 1, lastMessage: "a", eventCount: 3 });
  });
});
