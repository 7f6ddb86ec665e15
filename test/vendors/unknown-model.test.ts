// The failure text of a model id the API refuses, as the pinned real CLIs
// print it (recorded by the real-CLI suite), names the id and where to change it.

import { describe, expect, it } from "vitest";
import { classifyErrorText, unknownModelHint } from "../../vendors/outcome.js";

describe("unknownModelHint", () => {
  const cases: Array<[vendor: string, model: string, text: string]> = [
    ["claude", "claude-nope-9", "API error 404: There's an issue with the selected model (claude-nope-9). It may not exist or you may not have access to it. Run --model to pick a different model."],
    ["codex", "gpt-nope-9", "The requested model 'gpt-nope-9' does not exist."],
    ["gemini", "gemini-nope-9", "models/gemini-nope-9 is not found for API version v1beta, or is not supported for generateContent."],
  ];

  it.each(cases)("%s: names the model and dispatch.vendors.<vendor>.models, and the failure is permanent", (vendor, model, text) => {
    const hint = unknownModelHint(vendor, model, text);
    expect(hint).toContain(JSON.stringify(model));
    expect(hint).toContain(`dispatch.vendors.${vendor}.models`);
    expect(classifyErrorText(text)).toBe("permanent");
  });

  it("ignores codex's fallback-metadata warning and errors about anything else", () => {
    expect(unknownModelHint("codex", "gpt-x", "Model metadata for `gpt-x` not found. Defaulting to fallback metadata; this can degrade performance and cause issues.")).toBeNull();
    expect(unknownModelHint("claude", "opus", "API Error: 500 Internal server error.")).toBeNull();
  });

  it("reads codex's 5xx wording as transient", () => {
    expect(classifyErrorText("We’re currently experiencing high demand, which may cause temporary errors.")).toBe("transient");
  });
});
