// The agy (Antigravity CLI) adapter against the strict fake of
// test/fixtures/bin/agy: argv as its print mode documents it, the answer and
// usage from the stream-json events, verdicts, estimated cost, limits and
// logins from the error channel, Go-flag refusals.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AGY_MAX_PROMPT_BYTES, createAgyAdapter, parseAgyOutput } from "../../vendors/agy.js";
import { loginFix } from "../../vendors/credentials.js";
import { loadAdapter } from "../../vendors/registry.js";
import type { VendorConfig } from "../../vendors/types.js";
import { expectFailed, FIXTURE_BIN, makeContext, makeTask, makeTempDir, runAdapter, type TempDir } from "./harness.js";

const AGY = path.join(FIXTURE_BIN, "agy");
const base: VendorConfig = { command: AGY };

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

const run = (metadata: Record<string, unknown> = {}, config: VendorConfig = base, fakeEnv: Record<string, string> = {}) => runAdapter(createAgyAdapter, tmp, metadata, config, fakeEnv);

describe("agy invocation", () => {
  it("puts the input in -p, asks for stream-json with a print timeout an hour long, and closes an empty stdin", async () => {
    const { invocation, outcome } = await run();
    expect(invocation.args).toEqual(["-p", "Review the change in request.md\nsecond line\n", "--output-format", "stream-json", "--print-timeout", "60m"]);
    expect(invocation.input).toBe("");
    expect(outcome.kind).toBe("completed");
    const [logged] = (await readFile(tmp.logFile, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { argv: string[] });
    expect(logged?.argv).toEqual(invocation.args);
  });

  it("passes --model for a configured class, print_timeout and extra args from the config", async () => {
    const config: VendorConfig = { ...base, models: { pro: "gemini-3-pro" }, print_timeout: "2h", args: ["--dangerously-skip-permissions"] };
    const { invocation, outcome } = await run({ model_class: "pro" }, config);
    expect(invocation.args.slice(2)).toEqual(["--output-format", "stream-json", "--print-timeout", "2h", "--model", "gemini-3-pro", "--dangerously-skip-permissions"]);
    expect(outcome).toMatchObject({ kind: "completed", metadata: { model_used: "gemini-3-pro" } });
  });

  it("refuses an input longer than one argv entry may be, before anything runs", () => {
    const adapter = createAgyAdapter({ config: base });
    const ctx = makeContext(base, { input: "x".repeat(AGY_MAX_PROMPT_BYTES + 1) });
    expect(() => adapter.invocation(makeTask(), ctx)).toThrow(/agy takes the prompt as an argument, at most \d+ bytes/);
  });

  it("is a built-in vendor", async () => {
    expect((await loadAdapter("agy", { config: {} })).name).toBe("agy");
  });
});

describe("agy answers", () => {
  it("reads the answer, conversation id, steps, tokens and an estimated cost from the events", async () => {
    const { outcome } = await run({}, base, {
      FAKE_AGENT_REPLY: "Looks good.\n\nVERDICT: accept-with-follow-ups\nNONBLOCKING: 1",
      FAKE_AGENT_SESSION_ID: "conv-1",
      FAKE_AGENT_TOKENS_IN: "1000000",
      FAKE_AGENT_TOKENS_OUT: "100000",
    });
    expect(outcome).toMatchObject({
      kind: "completed",
      body: "Looks good.\n\nVERDICT: accept-with-follow-ups\nNONBLOCKING: 1",
      metadata: {
        session_id: "conv-1",
        model_used: "gemini-3-pro",
        num_turns: 2,
        tokens_in: 1_000_000,
        tokens_out: 100_000,
        verdict: "accept-with-follow-ups",
        blocking_count: 0,
        nonblocking_count: 1,
        cost_estimated: true,
      },
    });
    // gemini-3-pro: $2 per million in, $12 per million out.
    if (outcome.kind === "completed") expect(outcome.metadata.cost_usd).toBeCloseTo(3.2, 6);
  });

  it("reads the single object of --output-format json too", () => {
    const events = parseAgyOutput('{"type":"result","status":"success","response":"hi","conversation_id":"c"}');
    expect(events).toMatchObject({ conversationId: "c", eventCount: 1, result: { response: "hi" } });
  });
});

describe("agy failures", () => {
  it("not signed in -> needs-login with the fix", async () => {
    const { outcome } = await run({}, base, { FAKE_AGENT_SCENARIO: "not-logged-in" });
    expect(outcome).toMatchObject({ kind: "needs-login", message: expect.stringContaining("You are not signed in"), fix: loginFix("agy") });
  });

  it("a quota error is a usage limit with the announced reset", async () => {
    const started = Date.now();
    const { outcome } = await run({}, base, { FAKE_AGENT_SCENARIO: "quota", FAKE_AGENT_RESET_SECONDS: "120" });
    expect(outcome).toMatchObject({ kind: "usage-limit", metadata: { limit_kind: "quota" } });
    if (outcome.kind === "usage-limit") expect(Math.abs((outcome.resetAt?.getTime() ?? 0) - (started + 120_000))).toBeLessThan(5000);
    expect((await run({}, base, { FAKE_AGENT_SCENARIO: "rate-limit" })).outcome).toMatchObject({ kind: "usage-limit", resetAt: null });
  });

  it("an error result is a failure; a 500 may be retried", async () => {
    expectFailed((await run({}, base, { FAKE_AGENT_SCENARIO: "error-result" })).outcome, true, /internal error/);
  });

  it("its own print timeout is a permanent failure naming the config key", async () => {
    expectFailed((await run({}, base, { FAKE_AGENT_SCENARIO: "print-timeout" })).outcome, false, /print_timeout/);
  });

  it("a run without a result event is a failure worth retrying", async () => {
    expectFailed((await run({}, base, { FAKE_AGENT_SCENARIO: "no-result" })).outcome, true, /ended without a result event/);
  });

  it("an unknown flag is refused the Go way and fails naming the args key", async () => {
    const { result, outcome } = await run({}, { ...base, args: ["--effort", "high"] });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("flag provided but not defined: -effort");
    expectFailed(outcome, false, /flag provided but not defined: -effort; check dispatch\.vendors\.agy\.args/);
  });

  it("a successful answer that starts like a quota message is still an answer", async () => {
    const { outcome } = await run({}, base, { FAKE_AGENT_REPLY: "You have exhausted your quota on this model.\nThat is what the client shows now." });
    expect(outcome.kind).toBe("completed");
  });
});
