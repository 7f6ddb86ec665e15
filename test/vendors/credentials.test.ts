// Credentials failures are never the task's fault: every built-in adapter
// turns "not logged in", an invalid or expired key and a 401/403 into a
// `needs-login` outcome carrying the CLI's own line and the fix, through the
// fake CLIs of test/fixtures/bin; a successful answer never becomes one.

import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createClaudeAdapter } from "../../vendors/claude.js";
import { createCodexAdapter } from "../../vendors/codex.js";
import { detectCredentialsFailure, loginFix } from "../../vendors/credentials.js";
import { createGeminiAdapter } from "../../vendors/gemini.js";
import type { Outcome } from "../../vendors/types.js";
import { fakeRun, FIXTURE_BIN, makeTask, makeTempDir, runAdapter, type TempDir } from "./harness.js";

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

const adapters = {
  claude: createClaudeAdapter,
  codex: createCodexAdapter,
  gemini: createGeminiAdapter,
} as const;

function expectNeedsLogin(outcome: Outcome, vendor: string, message: RegExp): void {
  expect(outcome.kind).toBe("needs-login");
  if (outcome.kind !== "needs-login") return;
  expect(outcome.message).toMatch(message);
  expect(outcome.fix).toBe(loginFix(vendor));
}

describe("needs-login through the fake CLIs", () => {
  it.each([
    ["claude", "not-logged-in", /^Not logged in · Please run \/login$/],
    ["claude", "auth", /^Invalid API key · Please run \/login$/],
    ["claude", "token-expired", /OAuth token has expired/],
    ["codex", "unauthorized", /401 Unauthorized.*Incorrect API key/],
    ["gemini", "auth", /Please set an Auth method/],
    ["gemini", "invalid-key", /API key not valid/],
  ] as const)("%s %s -> needs-login with the CLI's line and the fix", async (vendor, scenario, message) => {
    const { outcome } = await runAdapter(adapters[vendor], tmp, {}, { command: path.join(FIXTURE_BIN, vendor) }, { FAKE_AGENT_SCENARIO: scenario });
    expectNeedsLogin(outcome, vendor, message);
  });

  it("the fix names the CLI's own login command and the resume command", () => {
    expect(loginFix("claude")).toMatch(/^run `claude \/login` .*, then `agent-lanes resume --vendor claude`$/);
    expect(loginFix("codex")).toContain("run `codex login`");
    expect(loginFix("my-plugin")).toBe("log the my-plugin CLI in again as the dispatcher's user, then `agent-lanes resume --vendor my-plugin`");
  });
});

describe("detectCredentialsFailure", () => {
  it.each([
    "Not logged in · Please run /login",
    "Invalid API key · Please run /login",
    'API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}',
    "OAuth token has expired. Please obtain a new token or refresh your existing token.",
    "unexpected status 401 Unauthorized: Missing bearer or basic authentication in header",
    "exceeded retry limit, last status: 401 Unauthorized",
    "Your access token could not be refreshed because your refresh token was already used. Please log out and sign in again. Run `codex login`",
    "[API Error: API key not valid. Please pass a valid API key.]",
    '{"error":{"code":403,"message":"Forbidden: 403 the caller does not have permission","status":"PERMISSION_DENIED"}}',
    "Error: UNAUTHENTICATED: Request had invalid authentication credentials.",
  ])("recognises %j", (line) => {
    expect(detectCredentialsFailure(`starting\n${line}\n`, "claude")?.message).toBe(line);
  });

  it.each([
    "All tests pass.",
    "API Error: 500 Internal server error",
    "You've hit your session limit · resets 3:45pm",
    "the handler now returns 404 for a missing task",
  ])("ignores %j", (line) => {
    expect(detectCredentialsFailure(line, "claude")).toBeNull();
  });
});

describe("typed signals come before the text", () => {
  it("claude: api_error_status 401/403 is a login failure whatever the wording", () => {
    const stdout = JSON.stringify({ type: "result", subtype: "success", is_error: true, result: "Request not allowed", api_error_status: 403 });
    const outcome = createClaudeAdapter().settle(fakeRun({ stdout, exitCode: 1 }), makeTask());
    expectNeedsLogin(outcome, "claude", /^Request not allowed$/);
  });

  it("codex: a typed status or kind on turn.failed decides; a typed resets_at is a dated reset", () => {
    const failed = (error: Record<string, unknown>) =>
      [JSON.stringify({ type: "thread.started", thread_id: "t" }), JSON.stringify({ type: "turn.failed", error })].join("\n");
    const login = createCodexAdapter().settle(fakeRun({ stdout: failed({ message: "request refused", status: 401 }), exitCode: 1 }), makeTask());
    expectNeedsLogin(login, "codex", /^request refused$/);
    const byCode = createCodexAdapter().settle(fakeRun({ stdout: failed({ message: "refused", type: "invalid_request_error", code: "invalid_api_key" }), exitCode: 1 }), makeTask());
    expect(byCode.kind).toBe("needs-login");
    const limit = createCodexAdapter().settle(fakeRun({ stdout: failed({ message: "quota gone", type: "usage_limit_reached", resets_at: 1795500000 }), exitCode: 1 }), makeTask());
    expect(limit).toMatchObject({ kind: "usage-limit", message: "quota gone", resetDated: true });
    if (limit.kind === "usage-limit") expect(limit.resetAt?.getTime()).toBe(1795500000 * 1000);
  });

  it("gemini: exit 41 is a login failure even without a known text", () => {
    const outcome = createGeminiAdapter().settle(fakeRun({ stderr: "something went wrong\n", exitCode: 41 }), makeTask());
    expectNeedsLogin(outcome, "gemini", /^something went wrong$/);
  });
});
