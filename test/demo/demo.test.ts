// `agent-lanes demo --json` end to end: a real supervisor child, real
// submit/wait subprocesses, the built demo agent (run `npm run build` first).

import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import type { DemoSummary } from "../../src/demo/demo.js";

const cli = fileURLToPath(new URL("../../dist/src/cli/main.js", import.meta.url));

describe("agent-lanes demo", () => {
  it("answers a review, a question and a two-step thread, stops the supervisor cleanly and removes its folder", async () => {
    const run = await execa(process.execPath, [cli, "demo", "--json"], { reject: false, timeout: 120_000 });
    expect(run.stderr).not.toMatch(/agent-lanes: /);
    expect(run.exitCode).toBe(0);
    const summary = JSON.parse(run.stdout) as DemoSummary;

    expect(summary.status).toBe("ok");
    expect(summary.responses).toBe(4);
    expect(summary.tasks.map((task) => task.name)).toEqual(["review", "question", "thread-1", "thread-2"]);
    expect(summary.tasks.every((task) => task.status === "completed" && task.body.startsWith("[demo-agent ref:"))).toBe(true);

    const byName = Object.fromEntries(summary.tasks.map((task) => [task.name, task]));
    expect(byName.review).toMatchObject({ verdict: "needs-revision", verdict_source: "response", blocking_count: 2 });
    expect(byName.review?.body).toContain("VERDICT: needs-revision");
    expect(byName.question?.body).toContain("a lease is the time");

    // The thread step saw the first step's answer in its input and names it.
    const firstRef = /^\[demo-agent ref:([0-9a-f]{8})\]/.exec(byName["thread-1"]?.body ?? "")?.[1];
    expect(firstRef).toBeDefined();
    expect(byName["thread-2"]?.parent_task_id).toBe(byName["thread-1"]?.task_id);
    expect(byName["thread-2"]?.body).toMatch(/\] thread\n/);
    expect(byName["thread-2"]?.body).toContain(`ref:${firstRef}`);

    expect(summary.supervisor.exit_code).toBe(0);
    expect(summary.kept).toBe(false);
    expect(existsSync(summary.temp_dir)).toBe(false);

    // Progress went to stderr as it happened, in the compact form.
    expect(run.stderr).toMatch(new RegExp(`demo: claimed ${byName.review?.task_id} \\(review\\)`));
    expect(run.stderr).toMatch(new RegExp(`demo: answered ${byName.review?.task_id} \\(review\\) in \\d+ ms`));
  });

  it("on Ctrl-C stops early with one error line, and still stops the supervisor and removes its folder", async () => {
    const child = execa(process.execPath, [cli, "demo", "--json"], { reject: false, timeout: 60_000 });
    let stderr = "";
    let pool: string | undefined;
    await new Promise<void>((resolve) => {
      child.stderr?.on("data", (chunk: Buffer) => {
        stderr += String(chunk);
        pool ??= /demo: pool ready: (\S+)/.exec(stderr)?.[1];
        if (/demo: claimed /.test(stderr)) resolve();
      });
      void child.then(() => resolve());
    });
    child.kill("SIGINT");
    const run = await child;
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/^agent-lanes: demo failed: interrupted/m);
    expect(run.stdout).toBe("");
    expect(pool).toBeDefined();
    expect(existsSync(path.dirname(pool as string))).toBe(false);
    const pid = Number(/supervisor started \(pid (\d+)\)/.exec(stderr)?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
