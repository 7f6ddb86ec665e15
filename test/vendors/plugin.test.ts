import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadAdapter } from "../../vendors/registry.js";
import { makeContext, makeTask, makeTempDir, runInvocation, type TempDir } from "./harness.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const EXAMPLE = "docs/plugin-example/index.mjs";

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

describe("the example plugin in docs/", () => {
  it("loads from a relative path and runs a task through a real process", async () => {
    const adapter = await loadAdapter("echo", { config: {}, modulePath: `./${EXAMPLE}`, cwd: REPO });
    expect(adapter.name).toBe("echo");
    expect(adapter.supportsEffort).toBe(false);
    const task = makeTask({ required_vendor: "echo", model_class: "large" });
    expect(adapter.accepts(task)).toBe(true);
    expect(adapter.accepts(makeTask({ required_vendor: "claude" }))).toBe(false);

    const ctx = makeContext({}, { cwd: tmp.dir, input: "Summarise the request\nmore text" });
    const invocation = adapter.invocation(task, ctx);
    expect(invocation.file).toBe(process.execPath);
    expect(invocation.args.slice(-2)).toEqual(["--model", "echo-2"]);
    const outcome = adapter.settle(await runInvocation(invocation), task);
    expect(outcome).toMatchObject({ kind: "completed", body: "echo: Summarise the request", metadata: { model_used: "echo-2", input_chars: 31 } });
  });

  it("takes its config: models and args from the vendor section, warnings for unknown classes", async () => {
    const config = { models: { large: "echo-9" }, args: ["--shout"] };
    const adapter = await loadAdapter("echo", { config, modulePath: path.join(REPO, EXAMPLE) });
    const ctx = makeContext(config, { cwd: tmp.dir, input: "hi" });
    const outcome = adapter.settle(await runInvocation(adapter.invocation(makeTask({ model_class: "large" }), ctx)), makeTask());
    expect(outcome).toMatchObject({ kind: "completed", body: "ECHO: HI", metadata: { model_used: "echo-9" } });
    const warned = makeContext(config, { cwd: tmp.dir });
    expect(adapter.invocation(makeTask({ model_class: "opus" }), warned).model).toBe("echo-1");
    expect(warned.warnings[0]).toContain('unknown model_class "opus" for echo');
  });

  it("reports a usage limit with the reset time, and a crash as a retryable failure", async () => {
    const adapter = await loadAdapter("echo", { config: {}, modulePath: EXAMPLE, cwd: REPO });
    const task = makeTask();
    const started = Date.now();
    const limited = adapter.settle(
      await runInvocation(adapter.invocation(task, makeContext({}, { cwd: tmp.dir })), { ECHO_AGENT_FAIL: "limit", ECHO_AGENT_RETRY_SECONDS: "120" }),
      task,
    );
    expect(limited.kind).toBe("usage-limit");
    if (limited.kind === "usage-limit") expect(Math.abs((limited.resetAt?.getTime() ?? 0) - (started + 120_000))).toBeLessThan(5000);
    const crashed = adapter.settle(await runInvocation(adapter.invocation(task, makeContext({}, { cwd: tmp.dir })), { ECHO_AGENT_FAIL: "crash" }), task);
    expect(crashed).toMatchObject({ kind: "failed", retry: true });
    if (crashed.kind === "failed") expect(crashed.body).toContain("out of cheese");
  });
});
