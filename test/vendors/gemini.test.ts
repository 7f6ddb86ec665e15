import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createGeminiAdapter } from "../../vendors/gemini.js";
import type { VendorConfig } from "../../vendors/types.js";
import { expectFailed, FIXTURE_BIN, makeContext, makeTask, makeTempDir, runAdapter, type TempDir } from "./harness.js";

const GEMINI = path.join(FIXTURE_BIN, "gemini");
const base: VendorConfig = { command: GEMINI };

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

const run = (metadata: Record<string, unknown>, config: VendorConfig = base, fakeEnv: Record<string, string> = {}) =>
  runAdapter(createGeminiAdapter, tmp, metadata, config, fakeEnv);

describe("gemini invocation", () => {
  it("runs headless with JSON output and the default model, no effort flag", () => {
    const adapter = createGeminiAdapter();
    const ctx = makeContext({}, { cwd: "/work/tree", input: "prompt" });
    expect(adapter.invocation(makeTask({ effort: "high" }), ctx)).toEqual({
      file: "gemini",
      args: ["-o", "json", "-m", "auto"],
      // Headless on a fresh machine: the task's folder is trusted by default.
      env: { GEMINI_CLI_TRUST_WORKSPACE: "true" },
      input: "prompt",
      cwd: "/work/tree",
      model: "auto",
      effort: null,
    });
    expect(adapter.supportsEffort).toBe(false);
    expect(ctx.warnings).toEqual([]);
  });

  it("maps pro and flash-lite, appends config args, and warns on an unknown class", () => {
    const config: VendorConfig = { args: ["--approval-mode", "yolo"], env: { GEMINI_CLI_TRUST_WORKSPACE: "true" } };
    const adapter = createGeminiAdapter({ config });
    const pro = adapter.invocation(makeTask({ model_class: "pro" }), makeContext(config));
    expect(pro.args).toEqual(["-o", "json", "-m", "pro", "--approval-mode", "yolo"]);
    expect(pro.env).toEqual({ GEMINI_CLI_TRUST_WORKSPACE: "true" });
    expect(adapter.invocation(makeTask({ model_class: "flash-lite" }), makeContext(config)).model).toBe("flash-lite");
    const ctx = makeContext(config);
    expect(adapter.invocation(makeTask({ model_class: "sonnet" }), ctx).model).toBe("auto");
    expect(ctx.warnings[0]).toContain('unknown model_class "sonnet" for gemini');
  });

  it("accepts gemini and any, not codex", () => {
    const adapter = createGeminiAdapter();
    expect(adapter.accepts(makeTask({ required_vendor: "gemini" }))).toBe(true);
    expect(adapter.accepts(makeTask({}))).toBe(true);
    expect(adapter.accepts(makeTask({ required_vendor: "codex" }))).toBe(false);
  });
});

describe("gemini runs through the fake CLI", () => {
  it("delivers argv, cwd, env and stdin and reads response and token stats", async () => {
    const config: VendorConfig = { ...base, env: { GEMINI_EXTRA: "1" } };
    const { invocation, outcome, ctx } = await run({ model_class: "pro" }, config, { FAKE_AGENT_SESSION_ID: "g-1" });
    const [logged] = await tmp.log();
    expect(logged?.argv).toEqual(invocation.args);
    expect(logged?.cwd).toBe(tmp.dir);
    expect(logged?.stdin).toBe(ctx.input);
    expect(logged?.env).toMatchObject({ GEMINI_EXTRA: "1" });
    expect(outcome.kind).toBe("completed");
    if (outcome.kind !== "completed") return;
    expect(outcome.body).toBe("fake gemini reply to: Review the change in request.md");
    const input = Math.ceil(ctx.input.length / 4);
    expect(outcome.metadata).toMatchObject({
      model_used: "gemini-2.5-pro",
      // Summed over the main model and the router's small call; thoughts count as output.
      tokens_in: input + 10,
      tokens_out: Math.ceil(outcome.body.length / 4) + 2 + 1,
      tokens_cache_read: 4,
      session_id: "g-1",
    });
  });

  it("runs in a folder gemini was never told to trust; with the trust switched off in the config it fails permanently with the fix", async () => {
    expect((await run({}, base, { FAKE_GEMINI_UNTRUSTED: "1" })).outcome.kind).toBe("completed");
    const off = { ...base, env: { GEMINI_CLI_TRUST_WORKSPACE: "false" } };
    const refused = await run({}, off, { FAKE_GEMINI_UNTRUSTED: "1" });
    expect(refused.result.exitCode).toBe(55);
    expectFailed(refused.outcome, false, /untrusted folder.*--skip-trust/);
    expect((await run({}, { ...off, args: ["--skip-trust"] }, { FAKE_GEMINI_UNTRUSTED: "1" })).outcome.kind).toBe("completed");
  });
});

describe("gemini failure classification", () => {
  const cases: Array<[scenario: string, exit: number | null, retry: boolean, text: RegExp]> = [
    ["api-error", 1, true, /500 Internal Server Error/],
    ["input", 42, false, /invalid input/],
    ["sandbox", 44, false, /sandbox error/],
    ["config", 52, false, /configuration error/],
    ["turn-limit", 53, false, /turn limit reached/],
    ["tool-error", 54, false, /tool execution error/],
    ["cancelled", 130, true, /cancelled/],
    ["empty-response", 0, true, /empty response/],
    ["empty", 0, true, /no JSON output/],
    ["crash", 1, false, /unexpected crash/],
  ];
  it.each(cases)("%s (exit %s) -> failed, retry %s", async (scenario, exit, retry, text) => {
    const { result, outcome } = await run({}, base, { FAKE_AGENT_SCENARIO: scenario });
    expect(result.exitCode).toBe(exit);
    expectFailed(outcome, retry, text);
  });

  it("reads errors printed as JSON on stdout as well", async () => {
    const { outcome } = await run({}, base, { FAKE_AGENT_SCENARIO: "config", FAKE_GEMINI_ERRORS_ON_STDOUT: "1" });
    expectFailed(outcome, false, /configuration error: Invalid configuration/);
  });

  it("an unknown flag is refused by yargs and fails permanently", async () => {
    const { result, outcome } = await run({}, { ...base, args: ["--reasoning-effort", "high"] });
    expect(result.stderr).toContain("Unknown argument: reasoning-effort");
    expectFailed(outcome, false, /Unknown argument: reasoning-effort; check dispatch\.vendors\.gemini\.args/);
  });
});

describe("gemini quota", () => {
  it("the daily quota is a usage limit without a reset time", async () => {
    const { outcome } = await run({}, base, { FAKE_AGENT_SCENARIO: "quota" });
    expect(outcome).toMatchObject({ kind: "usage-limit", resetAt: null, metadata: { limit_kind: "quota" } });
  });

  it("a quota error with a retry delay gives a reset time; a 429 is a rate limit", async () => {
    const started = Date.now();
    const retry = await run({}, base, { FAKE_AGENT_SCENARIO: "quota-retry-in", FAKE_AGENT_RESET_SECONDS: "30" });
    if (retry.outcome.kind !== "usage-limit") throw new Error(`expected usage-limit, got ${retry.outcome.kind}`);
    expect(Math.abs((retry.outcome.resetAt?.getTime() ?? 0) - (started + 30_000))).toBeLessThanOrEqual(3000);
    const limited = await run({}, base, { FAKE_AGENT_SCENARIO: "429" });
    expect(limited.outcome).toMatchObject({ kind: "usage-limit", metadata: { limit_kind: "rate-limit" } });
  });
});
