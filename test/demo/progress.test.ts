import { describe, expect, it } from "vitest";
import { createProgressTracker, parseLogLine, progressStep } from "../../src/demo/progress.js";

const ID = "20261124T051809211709Z-review-6b1387b40624";

describe("demo progress", () => {
  it("reads JSON log lines and skips anything else", () => {
    expect(parseLogLine(`{"level":30,"msg":"task claimed","task_id":"${ID}"}`)).toMatchObject({ task_id: ID });
    expect(parseLogLine("plain text")).toBeNull();
    expect(parseLogLine("{torn")).toBeNull();
  });

  it("maps claim, answer and failure lines by their event name, and ignores renewals", () => {
    expect(progressStep({ event: "claimed", task_id: ID, time: 5 })).toEqual({ step: "claimed", taskId: ID, at: 5 });
    expect(progressStep({ event: "claimed", task_id: ID, time: "2026-11-24T05:18:09.250Z" })).toMatchObject({ at: Date.parse("2026-11-24T05:18:09.250Z") });
    expect(progressStep({ msg: "responded", taskId: ID, duration_ms: 240 })).toMatchObject({ step: "answered", durationMs: 240 });
    expect(progressStep({ event: "task_failed", task: { id: ID }, reason: "exit 3\nmore" })).toMatchObject({ step: "failed", detail: "exit 3" });
    expect(progressStep({ event: "lease_renewed", task_id: ID })).toBeNull();
    expect(progressStep({ event: "dispatcher_started" })).toMatchObject({ step: "ready" });
    expect(progressStep({ msg: "scan done" })).toBeNull();
  });

  it("reads the supervisor's own messages, and never takes a lost or refused claim for a claim", () => {
    expect(progressStep({ msg: "task claimed", task_id: ID })).toMatchObject({ step: "claimed" });
    expect(progressStep({ msg: "task completed", task_id: ID, duration_ms: 12 })).toMatchObject({ step: "answered", durationMs: 12 });
    expect(progressStep({ msg: "task failed", task_id: ID, reason: "demo exited with code 3" })).toMatchObject({ step: "failed" });
    expect(progressStep({ msg: "task released for another attempt", task_id: ID })).toMatchObject({ step: "released" });
    expect(progressStep({ msg: "cannot claim task; skipping it for a minute", task_id: ID })).toBeNull();
    expect(progressStep({ msg: "claim lost: child stopped, nothing written", task_id: ID })).toBeNull();
    expect(progressStep({ msg: "child starting", task_id: ID })).toBeNull();
  });

  it("shows each task claimed and answered once, timing the answer from the claim when the log has no duration", () => {
    const tracker = createProgressTracker(() => "review");
    expect(tracker.describe({ step: "claimed", taskId: ID, at: 1000 })).toBe(`claimed ${ID} (review)`);
    expect(tracker.describe({ step: "claimed", taskId: ID, at: 1001 })).toBeNull();
    expect(tracker.describe({ step: "answered", taskId: ID, at: 1240 })).toBe(`answered ${ID} (review) in 240 ms`);
    expect(tracker.describe({ step: "answered", taskId: ID, at: 1300 })).toBeNull();
    expect(tracker.describe({ step: "ready" })).toBe("supervisor is watching the queue");
    expect(tracker.describe({ step: "ready" })).toBeNull();
  });
});
