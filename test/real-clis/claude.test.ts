// Claude Code (the pinned build of test/real-clis/versions.json) through
// `agent-lanes dispatch`, against the Anthropic stand-in.

import { describe, expect } from "vitest";
import { anthropicLimit, anthropicOverloaded, anthropicUnauthorized, anthropicUnknownModel } from "../fixtures/model-servers/anthropic.js";
import { answerScenario, headlessScenario, resumeScenario, credentialsScenario, limitScenario, modelTableScenario, overloadScenario, stallScenario, unknownModelScenario, type VendorSpec } from "./contract.js";

const claude: VendorSpec = {
  vendor: "claude",
  answerClass: { modelClass: "opus", modelId: /^claude-opus-/ },
  modelOf: (request) => (typeof request.body?.model === "string" ? request.body.model : null),
  effortOf: (request) => request.body?.output_config?.effort,
  limit: (resetAt) => anthropicLimit(resetAt),
  // The subscription limit text comes with a subscription token, not an API key.
  limitEnv: { CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-stand-in", ANTHROPIC_API_KEY: "" },
  limitStatesReset: true,
  unauthorized: anthropicUnauthorized,
  // 500, not 529: a 529 "Overloaded" reads as a vendor-wide overload and pauses the vendor instead.
  overloaded: () => anthropicOverloaded(500),
  unknownModel: anthropicUnknownModel,
  overloadReason: /API Error: 500/,
  // CLAUDE_CODE_MAX_RETRIES=2: three requests a run (2 runs), each wait longer than the one before.
  backoffShown: (turns) => {
    expect(turns.length).toBe(6);
    const [a, b, c] = turns.slice(0, 3).map((t) => t.at) as [number, number, number];
    expect(c - b).toBeGreaterThan(b - a);
  },
  costEstimated: false,
  permissionTool: {
    call: (marker) => ({ name: "Bash", input: { command: `touch ${marker}`, description: "Create a marker file" } }),
    resultIn: (request, callId) =>
      Array.isArray(request.body?.messages) &&
      request.body.messages.some((m: { content?: unknown }) => Array.isArray(m.content) && m.content.some((c: { type?: string; tool_use_id?: string }) => c.type === "tool_result" && c.tool_use_id === callId)),
  },
};

describe("real claude", () => {
  answerScenario(claude);
  limitScenario(claude);
  // The "done when": five tasks, a CLI whose key the API refuses.
  credentialsScenario(claude, 5);
  credentialsScenario(claude, 1, { noCredentials: true, fix: /\/login/ });
  overloadScenario(claude);
  stallScenario(claude);
  unknownModelScenario(claude, "claude-nope-9");
  modelTableScenario(claude, /^claude-/);
  headlessScenario(claude);
  resumeScenario(claude);
});
