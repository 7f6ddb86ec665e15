// The bundled demo agent as a real process (dist/src/demo/agent.js: run
// `npm run build` first), and the demo adapter that runs it.

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { earlierAnswers, inputRef } from "../../src/demo/answers.js";
import { createDemoAdapter, demoAgentPath } from "../../vendors/demo.js";
import { loadAdapter } from "../../vendors/registry.js";
import { makeContext, makeTask, runInvocation } from "../vendors/harness.js";

const agent = fileURLToPath(new URL("../../dist/src/demo/agent.js", import.meta.url));

async function ask(input: string, env: Record<string, string> = { AGENT_LANES_DEMO_DELAY_MS: "0" }) {
  return execa(process.execPath, [agent], { input, env, reject: false });
}

const REVIEW_WITH_TODOS = [
  "Please review this change before merge.",
  "",
  "```ts",
  "export function total(items: number[]) {",
  "  // TODO: handle an empty list",
  "  return items.reduce((a, b) => a + b);",
  "  // FIXME: overflow on large inputs",
  "  // NOTE: rename to sum later",
  "}",
  "```",
].join("\n");

const CLEAN_REVIEW = ["Please review this change.", "", "export const answer = 42;"].join("\n");

describe("demo agent (real process)", () => {
  beforeAll(() => {
    if (!existsSync(agent)) throw new Error(`${agent} is missing: run npm run build first`);
  });

  it("reviews a change with TODO/FIXME as needs-revision with one blocking finding per marker", async () => {
    const { stdout, exitCode } = await ask(REVIEW_WITH_TODOS);
    expect(exitCode).toBe(0);
    expect(stdout).toMatch(/^\[demo-agent ref:[0-9a-f]{8}\] review\n/);
    expect(stdout).toContain("VERDICT: needs-revision");
    expect(stdout).toContain("BLOCKING: 2");
    expect(stdout).toContain("NONBLOCKING: 1");
    expect(stdout).toContain("TODO: handle an empty list");
  });

  it("accepts a clean change", async () => {
    const { stdout } = await ask(CLEAN_REVIEW);
    expect(stdout).toContain("VERDICT: accept\n");
    expect(stdout).toContain("BLOCKING: 0");
  });

  it("answers the same input with the same text, byte for byte", async () => {
    const [first, second] = await Promise.all([ask(REVIEW_WITH_TODOS), ask(REVIEW_WITH_TODOS)]);
    expect(first.stdout).toBe(second.stdout);
    expect(first.stdout).toContain(`ref:${inputRef(REVIEW_WITH_TODOS)}`);
  });

  it("answers a question about a known topic", async () => {
    const { stdout, exitCode } = await ask("What does a lease protect against?");
    expect(exitCode).toBe(0);
    expect(stdout).toMatch(/\] answer\nOn "What does a lease protect against\?": a lease is the time/);
  });

  it("answers a thread step by naming the earlier answers its input quotes, oldest first", async () => {
    const first = (await ask("How do lanes work?")).stdout;
    const second = (await ask(`Earlier responses:\n${first}\nWhat is a claim?`)).stdout;
    const step = await ask(`Thread so far:\n--- 1 ---\n${first}\n--- 2 ---\n${second}\n\nAnd how do verdicts work?`);
    const refs = [first, second].map((text) => /ref:([0-9a-f]{8})/.exec(text)?.[1]);
    expect(step.stdout).toMatch(/\] thread\n/);
    expect(step.stdout).toContain("I read 2 earlier responses");
    const positions = refs.map((ref) => step.stdout.indexOf(`ref:${ref}`));
    expect(positions.every((p) => p > 0)).toBe(true);
    expect(positions[0]).toBeLessThan(positions[1] as number);
    expect(step.stdout).toContain('On "And how do verdicts work?": a review answers with accept');
  });

  it("answers the new question of a thread step, not one quoted in the supervisor's thread context", async () => {
    const first = (await ask("How do lanes work?")).stdout;
    const ref = /ref:([0-9a-f]{8})/.exec(first)?.[1];
    const input = [
      "Follow-up in the same thread.",
      "",
      "Task: 20261124T051809211709Z-thread-2-000000000000 (lane default)",
      "",
      "----- BEGIN REQUEST ARTIFACT: /pool/requests/claims.md -----",
      "What does a claim give the dispatcher?",
      "----- END REQUEST ARTIFACT -----",
      "",
      "----- BEGIN THREAD CONTEXT (earlier tasks of this thread, oldest first) -----",
      "### 1. Task 20261124T051809000000Z-thread-1-000000000000 (lane default, response completed)",
      "Prompt: Is this a review? Answer the question.",
      "----- BEGIN RESPONSE: 20261124T051809000000Z-thread-1-000000000000 -----",
      first.trimEnd(),
      "----- END RESPONSE: 20261124T051809000000Z-thread-1-000000000000 -----",
      "----- END THREAD CONTEXT -----",
      "",
    ].join("\n");
    const { stdout } = await ask(input);
    expect(stdout).toMatch(/\] thread\n/);
    expect(stdout).toContain(`1. ref:${ref}`);
    expect(stdout).toContain('On "What does a claim give the dispatcher?": claiming a task gives');
  });

  it("fails on purpose with DEMO-FAIL: exit 3, message on stderr, nothing on stdout", async () => {
    const { stdout, stderr, exitCode } = await ask("DEMO-FAIL please");
    expect(exitCode).toBe(3);
    expect(stdout).toBe("");
    expect(stderr).toContain("DEMO-FAIL");
  });

  it("takes at least 100 ms by default, to look alive", async () => {
    const started = Date.now();
    await ask("What is a lane?", {});
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });
});

describe("earlierAnswers", () => {
  it("lists each quoted ref once with the line after it", () => {
    const text = "[demo-agent ref:0000000a] answer\nfirst summary\n\n[demo-agent ref:0000000a] answer\nagain\n[demo-agent ref:0000000b] thread\nsecond";
    expect(earlierAnswers(text)).toEqual([
      { ref: "0000000a", summary: "first summary" },
      { ref: "0000000b", summary: "second" },
    ]);
  });
});

describe("demo adapter", () => {
  it("runs the built agent with this node", () => {
    const adapter = createDemoAdapter({ config: {} });
    const invocation = adapter.invocation(makeTask(), makeContext({}, { input: "x" }));
    expect(invocation.file).toBe(process.execPath);
    expect(invocation.args).toEqual([demoAgentPath()]);
    expect(demoAgentPath()).toBe(agent);
  });

  it("is what the registry loads for --vendor demo, and takes tasks for demo or any vendor", async () => {
    const adapter = await loadAdapter("demo", { config: {} });
    expect(adapter.name).toBe("demo");
    expect(adapter.accepts(makeTask({ required_vendor: "demo" }))).toBe(true);
    expect(adapter.accepts(makeTask())).toBe(true);
    expect(adapter.accepts(makeTask({ required_vendor: "codex" }))).toBe(false);
  });

  it("completes a review with the verdict and counts in metadata", async () => {
    const config = { env: { AGENT_LANES_DEMO_DELAY_MS: "0" } };
    const adapter = createDemoAdapter({ config });
    const run = await runInvocation(adapter.invocation(makeTask(), makeContext(config, { input: REVIEW_WITH_TODOS })));
    const outcome = adapter.settle(run, makeTask());
    expect(outcome.kind).toBe("completed");
    if (outcome.kind !== "completed") return;
    expect(outcome.body).toContain("VERDICT: needs-revision");
    expect(outcome.metadata).toMatchObject({ verdict: "needs-revision", blocking_count: 2, nonblocking_count: 1, model_used: "demo-agent" });
  });

  it("turns the agent's deliberate failure into a failed outcome without retry", async () => {
    const config = { env: { AGENT_LANES_DEMO_DELAY_MS: "0" } };
    const adapter = createDemoAdapter({ config });
    const run = await runInvocation(adapter.invocation(makeTask(), makeContext(config, { input: "DEMO-FAIL" })));
    expect(adapter.settle(run, makeTask())).toMatchObject({ kind: "failed", retry: false, metadata: { exit_code: 3 } });
  });
});
