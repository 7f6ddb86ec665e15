import { describe, expect, it } from "vitest";
import type { TaskEvent } from "../../src/store/types.js";
import type { ChildResult, Outcome } from "../../vendors/types.js";
import { attemptInfo, EVENT } from "../../src/supervisor/attempts.js";
import { decideSettlement, reviewOf } from "../../src/supervisor/settle.js";

function run(fields: Partial<ChildResult> = {}): ChildResult {
  return {
    exitCode: 0,
    signal: null,
    stdout: "",
    stderr: "",
    stdoutTruncated: false,
    stderrTruncated: false,
    durationMs: 42,
    killedBy: null,
    spawnError: null,
    invocation: { file: "agent", args: [], input: "", cwd: "/w", model: "m-1", effort: "high" },
    ...fields,
  };
}

function ev(type: string, data: Record<string, unknown> = {}, at = "2026-11-24T05:00:00Z"): TaskEvent {
  return { created_at: at, type, message: "", data };
}

const ctx = (events: TaskEvent[], maxAttempts = 3) => ({ info: attemptInfo(events), maxAttempts, vendor: "fake", owner: "fake@h:1" });
const failed = (retry: boolean, body = "fake exited with 1\nmore"): Outcome => ({ kind: "failed", body, retry });

describe("attemptInfo", () => {
  it("numbers the attempt by claimed events and leaves out runs that were not the task's fault", () => {
    const info = attemptInfo([
      ev("created"),
      ev("claimed", { owner: "a" }, "2026-11-24T05:00:01Z"),
      ev(EVENT.headlessFailed, { attempt: 1, reason: "usage limit: resets soon", counts_as_attempt: false }),
      ev("released"),
      ev("claimed", { owner: "b" }, "2026-11-24T05:00:02Z"),
      ev("claimed", { owner: "c" }, "2026-11-24T05:00:03Z"),
    ]);
    expect(info.attempt).toBe(3);
    expect(info.counted).toBe(2);
    expect(info.history).toEqual([
      "attempt 1 (claimed 2026-11-24T05:00:01Z by a): usage limit: resets soon",
      "attempt 2 (claimed 2026-11-24T05:00:02Z by b): ended without a recorded result (the dispatcher may have died; the lease ran out)",
    ]);
  });
});

describe("decideSettlement", () => {
  it("completes with the adapter's body and metadata plus the run's facts", () => {
    const s = decideSettlement({ kind: "completed", body: "answer", metadata: { tokens_in: 5, model_used: "m-2" } }, run(), ctx([ev("claimed")]));
    expect(s).toEqual({
      action: "complete",
      body: "answer",
      metadata: { model_used: "m-2", effort_used: "high", tokens_in: 5, duration_ms: 42, exit_code: 0, attempt: 1, vendor: "fake", dispatcher: "fake@h:1" },
    });
  });

  it("treats exit 0 with an empty answer as a failure that may be retried", () => {
    const s = decideSettlement({ kind: "completed", body: " \n", metadata: {} }, run(), ctx([ev("claimed")]));
    expect(s.action).toBe("release");
    expect(s.action === "release" && s.reason).toMatch(/exited 0 without any output/);
  });

  it("fails an empty answer with the attempt history once attempts are used up", () => {
    const events = [ev("claimed", { owner: "a" }), ev(EVENT.headlessFailed, { attempt: 1, reason: "first try broke" }), ev("claimed", { owner: "b" })];
    const s = decideSettlement({ kind: "completed", body: "", metadata: {} }, run(), ctx(events, 2));
    expect(s.action).toBe("fail");
    if (s.action !== "fail") return;
    expect(s.body).toMatch(/gave up after 2 attempts \(--max-attempts 2\)/);
    expect(s.body).toMatch(/Attempt history \(2 of at most 2 counted\):\n- attempt 1 \(claimed .* by a\): first try broke\n- attempt 2 \(this run\): fake exited 0 without any output/);
  });

  it("fails at once when the adapter says retrying will not help", () => {
    const s = decideSettlement(failed(false), run({ exitCode: 1 }), ctx([ev("claimed")]));
    expect(s).toMatchObject({ action: "fail", body: "fake exited with 1\nmore", reason: "fake exited with 1" });
  });

  it("releases a shutdown-stopped run without counting it, even on the last attempt", () => {
    const events = [ev("claimed"), ev("claimed"), ev("claimed")];
    const s = decideSettlement(failed(true, "stopped: shutting down"), run({ killedBy: "shutdown", exitCode: null, signal: "SIGTERM" }), ctx(events));
    expect(s).toMatchObject({ action: "release", countsAsAttempt: false });
  });

  it("drops a run whose claim was lost, whatever it printed", () => {
    const s = decideSettlement({ kind: "completed", body: "late answer", metadata: {} }, run({ killedBy: "lease-lost" }), ctx([ev("claimed")]));
    expect(s.action).toBe("drop");
  });

  it("passes a usage limit through with its reset time", () => {
    const resetAt = new Date("2026-11-24T07:00:00Z");
    const s = decideSettlement({ kind: "usage-limit", message: "limit hit", resetAt }, run({ exitCode: 1 }), ctx([ev("claimed")]));
    expect(s).toMatchObject({ action: "usage-limit", message: "limit hit", resetAt });
  });
});

describe("reviewOf", () => {
  it("passes a verdict the adapter parsed on to the response", () => {
    expect(reviewOf({ verdict: "needs-revision", blocking_count: 2, nonblocking_count: 1 })).toEqual({
      verdict: "needs-revision",
      blockingCount: 2,
      nonblockingCount: 1,
    });
    expect(reviewOf({ verdict: "accept" })).toEqual({ verdict: "accept", blockingCount: 0, nonblockingCount: 0 });
  });
  it("keeps anything the store would refuse as metadata only", () => {
    expect(reviewOf({})).toEqual({});
    expect(reviewOf({ verdict: "LGTM" })).toEqual({});
    expect(reviewOf({ verdict: "accept", blocking_count: 3 })).toEqual({});
  });
});
