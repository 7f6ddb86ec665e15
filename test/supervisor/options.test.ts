import { describe, expect, it } from "vitest";
import { DISPATCH_DEFAULTS, OptionsError, resolveOptions } from "../../src/supervisor/options.js";

describe("resolveOptions", () => {
  it("fills every default and derives the timings from them", () => {
    const o = resolveOptions({ vendor: "claude" });
    expect(o.lanes).toEqual(["default"]);
    expect(o.concurrency).toBe(1);
    expect(o.leaseSeconds).toBe(900);
    expect(o.renewEveryMs).toBe(300_000);
    expect(o.taskTimeoutMs).toBe(3_600_000);
    expect(o.idleTimeoutMs).toBe(900_000);
    expect(o.maxOutputBytes).toBe(DISPATCH_DEFAULTS.maxOutputBytes);
    expect(o.graceMs).toBe(30_000);
    expect(o.maxAttempts).toBe(3);
    expect(o.owner).toMatch(/^claude@.+:\d+$/);
    expect(o.dailyCostUsd).toBeNull();
  });

  it("accepts numbers given as strings (CLI flags) and renews at a third of the lease", () => {
    const o = resolveOptions({ vendor: "codex", leaseSeconds: "3", concurrency: "4", pollSeconds: "0.2", lanes: ["a", "b", "a"] });
    expect(o.leaseSeconds).toBe(3);
    expect(o.renewEveryMs).toBe(1000);
    expect(o.renewRetryMs).toBeLessThan(o.renewEveryMs);
    expect(o.concurrency).toBe(4);
    expect(o.pollMs).toBe(200);
    expect(o.lanes).toEqual(["a", "b"]);
  });

  it("refuses a lease shorter than 3 s with the flag name, the value and its type", () => {
    expect(() => resolveOptions({ vendor: "claude", leaseSeconds: "1" })).toThrow(new OptionsError("Expected `--lease-seconds` to be a number >= 3, got `1` (string)"));
  });

  it("refuses an idle timeout longer than the task timeout when both are given", () => {
    expect(() => resolveOptions({ vendor: "claude", taskTimeoutSeconds: 10, idleTimeoutSeconds: 20 })).toThrow(/`--idle-timeout` to be at most `--task-timeout` \(10 s\)/);
  });

  it("clamps the default idle timeout to a shorter task timeout instead of refusing it", () => {
    const o = resolveOptions({ vendor: "claude", taskTimeoutSeconds: 60 });
    expect(o.idleTimeoutSeconds).toBe(60);
  });

  it.each([
    [{ concurrency: 1.5 }, /`--concurrency` to be an integer >= 1, got `1.5` \(number\)/],
    [{ concurrency: "x" }, /`--concurrency` to be an integer >= 1, got `x` \(string\)/],
    [{ maxAttempts: 0 }, /`--max-attempts` to be an integer >= 1/],
    [{ taskTimeoutSeconds: 0 }, /`--task-timeout` to be a number > 0/],
    [{ maxOutputBytes: 10 }, /`--max-output-bytes` to be an integer >= 1024/],
    [{ logFormat: "xml" }, /`--log-format` to be json or pretty, got `xml`/],
    [{ logLevel: "loud" }, /`--log-level` to be one of fatal, error/],
    [{ dailyCostUsd: "-1" }, /`--daily-cost-usd` to be a number > 0/],
    [{ lanes: [""] }, /`--lane` to be a non-empty lane name/],
  ])("refuses %j", (bad, message) => {
    expect(() => resolveOptions({ vendor: "claude", ...bad } as never)).toThrow(message);
  });

  it("refuses a vendor name that cannot name a pause file", () => {
    expect(() => resolveOptions({ vendor: "../x" })).toThrow(/`--vendor` to be a vendor name/);
  });
});
