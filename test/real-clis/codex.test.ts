// OpenAI Codex (the pinned build of test/real-clis/versions.json) through
// `agent-lanes dispatch`, against the Responses API stand-in.

import { describe } from "vitest";
import { openaiLimit, openaiOverloaded, openaiUnauthorized, openaiUnknownModel } from "../fixtures/model-servers/openai.js";
import { answerScenario, credentialsScenario, limitScenario, modelTableScenario, overloadScenario, resumeScenario, stallScenario, unknownModelScenario, type VendorSpec } from "./contract.js";

const codex: VendorSpec = {
  vendor: "codex",
  answerClass: { modelClass: "terra", modelId: /^gpt-6\.1-terra$/ },
  modelOf: (request) => (typeof request.body?.model === "string" ? request.body.model : null),
  effortOf: (request) => request.body?.reasoning?.effort,
  limit: (resetAt) => openaiLimit(resetAt),
  limitStatesReset: true,
  unauthorized: openaiUnauthorized,
  overloaded: () => openaiOverloaded(500),
  unknownModel: openaiUnknownModel,
  overloadReason: /high demand/,
  costEstimated: true,
};

describe("real codex", () => {
  answerScenario(codex);
  limitScenario(codex);
  credentialsScenario(codex, 2);
  overloadScenario(codex);
  stallScenario(codex);
  unknownModelScenario(codex, "gpt-nope-9");
  modelTableScenario(codex, /^gpt-/);
  resumeScenario(codex);
});
