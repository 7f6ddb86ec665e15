// One verdict reader for every adapter, and estimated costs for the vendors
// whose CLIs report none: each built-in adapter is run against its fake CLI
// (or the demo agent / a plain command) and the outcome's metadata checked.

import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createClaudeAdapter } from "../../vendors/claude.js";
import { createCodexAdapter } from "../../vendors/codex.js";
import { createCommandAdapter } from "../../vendors/command.js";
import { createDemoAdapter } from "../../vendors/demo.js";
import { createGeminiAdapter } from "../../vendors/gemini.js";
import { costOf, estimateCost, findPrice, priceTable } from "../../vendors/prices.js";
import type { VendorAdapter, VendorConfig } from "../../vendors/types.js";
import { parseVerdictLines } from "../../vendors/verdict.js";
import { FIXTURE_BIN, makeTempDir, runAdapter, type TempDir } from "./harness.js";

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

const REVIEW = "## Findings\n\n1. The lock is never released on error.\n\nVERDICT: needs-revision\nBLOCKING: 1\nNONBLOCKING: 2\n";

describe("the verdict reader, through every adapter", () => {
  const vendors: Array<[string, (options: { config: VendorConfig }) => VendorAdapter, VendorConfig]> = [
    ["claude", createClaudeAdapter, { command: path.join(FIXTURE_BIN, "claude") }],
    ["codex", createCodexAdapter, { command: path.join(FIXTURE_BIN, "codex") }],
    ["gemini", createGeminiAdapter, { command: path.join(FIXTURE_BIN, "gemini") }],
  ];
  it.each(vendors)("%s fills verdict, blocking_count and nonblocking_count from the trailing lines", async (_name, create, config) => {
    const { outcome } = await runAdapter(create, tmp, {}, config, { FAKE_AGENT_REPLY: REVIEW });
    expect(outcome).toMatchObject({ kind: "completed", metadata: { verdict: "needs-revision", blocking_count: 1, nonblocking_count: 2 } });
  });

  it("command and demo read it too", async () => {
    const echoed = await runAdapter(createCommandAdapter, tmp, {}, { command: [process.execPath, "-e", `process.stdout.write(${JSON.stringify("ok\nVERDICT: accept-with-follow-ups\nNONBLOCKING: 3\n")})`] });
    expect(echoed.outcome).toMatchObject({ kind: "completed", metadata: { verdict: "accept-with-follow-ups", blocking_count: 0, nonblocking_count: 3 } });
    // The harness input asks for a review: the demo agent answers with its findings and a verdict.
    const demo = await runAdapter(createDemoAdapter, tmp, {}, {});
    expect(demo.outcome).toMatchObject({ kind: "completed", metadata: { model_used: "demo-agent", verdict: expect.stringMatching(/^(accept|accept-with-follow-ups|needs-revision)$/) } });
  });

  it("an answer without a verdict line gets no verdict fields", async () => {
    const { outcome } = await runAdapter(createCodexAdapter, tmp, {}, { command: path.join(FIXTURE_BIN, "codex") }, { FAKE_AGENT_REPLY: "I would accept this change." });
    expect(outcome.kind).toBe("completed");
    if (outcome.kind === "completed") expect(outcome.metadata).not.toHaveProperty("verdict");
  });

  it("keeps the store's rule: blocking findings only with needs-revision", () => {
    expect(parseVerdictLines("VERDICT: accept\nBLOCKING: 2")).toEqual({ verdict: "accept", blocking_count: 0, nonblocking_count: 0 });
    expect(parseVerdictLines("**Verdict:** needs-revision")).toEqual({ verdict: "needs-revision", blocking_count: 1, nonblocking_count: 0 });
    expect(parseVerdictLines("BLOCKING: 5\nquoted template\nVERDICT: needs-revision\nBLOCKING: 2")).toMatchObject({ blocking_count: 2 });
  });
});

describe("estimated costs", () => {
  it("codex: the price table gives cost_usd with cost_estimated, cached input at its own price", async () => {
    const { outcome } = await runAdapter(createCodexAdapter, tmp, {}, { command: path.join(FIXTURE_BIN, "codex") }, {
      FAKE_AGENT_TOKENS_IN: "200000",
      FAKE_CODEX_CACHED_TOKENS: "50000",
      FAKE_AGENT_TOKENS_OUT: "10000",
    });
    // gpt-6.1-sol (the default): 150k x $1.75 + 50k x $0.175 + 10k x $14 per million.
    expect(outcome).toMatchObject({ kind: "completed", metadata: { model_used: "gpt-6.1-sol", cost_usd: 0.41125, cost_estimated: true } });
  });

  it("gemini: every model of stats.models is priced (the router's small call included)", async () => {
    const { outcome } = await runAdapter(createGeminiAdapter, tmp, {}, { command: path.join(FIXTURE_BIN, "gemini") }, { FAKE_AGENT_TOKENS_IN: "100000", FAKE_AGENT_TOKENS_OUT: "2000" });
    expect(outcome.kind).toBe("completed");
    if (outcome.kind !== "completed") return;
    // gemini-2.5-pro: 100000 x $1.25 + 4 cached x $0.125 + 2002 x $10; flash-lite: 10 x $0.10 + 1 x $0.40.
    expect(outcome.metadata.cost_usd).toBeCloseTo(0.145022, 5);
    expect(outcome.metadata.cost_estimated).toBe(true);
  });

  it("config prices override the table; an unknown model gets no cost rather than a guess", async () => {
    const config: VendorConfig = { command: path.join(FIXTURE_BIN, "codex"), prices: { "gpt-6.1-sol": { input: 1, cached_input: 0, output: 2 } } };
    const { outcome } = await runAdapter(createCodexAdapter, tmp, {}, config, { FAKE_AGENT_TOKENS_IN: "1000000", FAKE_AGENT_TOKENS_OUT: "1000000" });
    expect(outcome).toMatchObject({ metadata: { cost_usd: 3, cost_estimated: true } });
    const unknown = await runAdapter(createCodexAdapter, tmp, {}, { command: path.join(FIXTURE_BIN, "codex"), models: { any: "house-model" } });
    expect(unknown.outcome.kind).toBe("completed");
    if (unknown.outcome.kind === "completed") expect(unknown.outcome.metadata).not.toHaveProperty("cost_usd");
  });

  it("the longest prefix wins and prices are per million tokens", () => {
    const table = priceTable("codex");
    expect(findPrice(table, "gpt-5.1-codex-mini")).toEqual({ input: 0.25, cachedInput: 0.025, output: 2 });
    expect(findPrice(table, "GPT-5-codex")).toEqual({ input: 1.25, cachedInput: 0.125, output: 10 });
    expect(findPrice(priceTable("gemini"), "models/gemini-2.5-flash-lite-preview")?.input).toBe(0.1);
    // Every model the pinned CLIs name has a price (so cost_estimated is set), the lite ones their own.
    for (const id of ["gemini-3-pro-preview", "gemini-3-flash-preview", "gemini-3.1-pro-preview", "gemini-2.5-pro", "gemini-2.5-flash"]) {
      expect(findPrice(priceTable("gemini"), id), id).toBeDefined();
    }
    expect(findPrice(priceTable("gemini"), "gemini-3.5-flash-lite")?.output).toBe(0.4);
    for (const id of ["gpt-6.1-sol", "gpt-6.1-terra", "gpt-6-luna", "gpt-6-astra"]) expect(findPrice(table, id), id).toBeDefined();
    expect(costOf({ input: 2, cachedInput: 0.5, output: 8 }, { input: 1_000_000, cached: 2_000_000, output: 0 })).toBe(0.5);
    expect(estimateCost("claude", {}, [{ model: "sonnet", input: 10, output: 10 }])).toEqual({});
    expect(priceTable("codex", { prices: { constructor: { input: 1, output: 1 } } }).constructor).toEqual({ input: 1, cachedInput: 1, output: 1 });
  });
});
