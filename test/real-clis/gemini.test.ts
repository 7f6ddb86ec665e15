// Google Gemini CLI (the pinned build of test/real-clis/versions.json) through
// `agent-lanes dispatch`, against the Gemini API stand-in. Every lab is a
// fresh home: the answer scenario is also the proof that the default
// invocation runs headless in a folder gemini was never told to trust.

import { describe } from "vitest";
import { geminiLimit, geminiModelOf, geminiOverloaded, geminiUnauthorized, geminiUnknownModel } from "../fixtures/model-servers/gemini.js";
import { answerScenario, headlessScenario, credentialsScenario, limitScenario, modelTableScenario, stallScenario, unknownModelScenario, type VendorSpec } from "./contract.js";

const gemini: VendorSpec = {
  vendor: "gemini",
  answerClass: { modelClass: "pro", modelId: /^gemini-[0-9.]+-pro/ },
  modelOf: geminiModelOf,
  effortOf: null,
  limit: () => geminiLimit(3600),
  limitStatesReset: false,
  unauthorized: geminiUnauthorized,
  overloaded: () => geminiOverloaded(503),
  unknownModel: geminiUnknownModel,
  overloadReason: /overloaded/i,
  costEstimated: true,
  permissionTool: {
    call: (marker) => ({ name: "run_shell_command", input: { command: `touch ${marker}`, description: "Create a marker file" } }),
    resultIn: (request) =>
      Array.isArray(request.body?.contents) &&
      request.body.contents.some((c: { parts?: Array<{ functionResponse?: { name?: string } }> }) => (c.parts ?? []).some((p) => p.functionResponse?.name === "run_shell_command")),
  },
};

describe("real gemini", () => {
  answerScenario(gemini);
  limitScenario(gemini);
  credentialsScenario(gemini, 1);
  stallScenario(gemini, 30);
  unknownModelScenario(gemini, "gemini-nope-9");
  modelTableScenario(gemini, /^gemini-/);
  headlessScenario(gemini);
});
