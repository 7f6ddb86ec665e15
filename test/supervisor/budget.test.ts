import { describe, expect, it } from "vitest";
import { createDailyCostLedger, nextUtcMidnight, outcomeCostUsd } from "../../src/supervisor/budget.js";

function clock(iso: string) {
  let now = new Date(iso);
  return { now: () => now, set: (next: string) => (now = new Date(next)) };
}

describe("createDailyCostLedger", () => {
  it("adds reported costs and trips once the day's total reaches the ceiling", () => {
    const c = clock("2026-11-24T10:00:00Z");
    const ledger = createDailyCostLedger({ limitUsd: 1, now: c.now });
    expect(ledger.record(0.4)).toBeCloseTo(0.4);
    expect(ledger.exceeded()).toBe(false);
    ledger.record(0.6);
    expect(ledger.spentUsd()).toBeCloseTo(1);
    expect(ledger.exceeded()).toBe(true);
    expect(ledger.resetsAt().toISOString()).toBe("2026-11-25T00:00:00.000Z");
  });

  it("starts afresh at UTC midnight, even when idle across it", () => {
    const c = clock("2026-11-24T23:59:00Z");
    const ledger = createDailyCostLedger({ limitUsd: 1, now: c.now });
    ledger.record(5);
    expect(ledger.exceeded()).toBe(true);
    c.set("2026-11-25T00:00:01Z");
    expect(ledger.exceeded()).toBe(false);
    expect(ledger.snapshot()).toEqual({ day: "2026-11-25", spent_usd: 0, limit_usd: 1 });
  });

  it("ignores costs that are not finite non-negative numbers", () => {
    const ledger = createDailyCostLedger({ now: () => new Date("2026-11-24T10:00:00Z") });
    for (const bad of [undefined, null, "0.5", Number.NaN, -1, Infinity]) ledger.record(bad);
    expect(ledger.spentUsd()).toBe(0);
    // Without a ceiling it counts but never trips.
    ledger.record(1000);
    expect(ledger.exceeded()).toBe(false);
  });

  it("resumes from a snapshot of the same day only", () => {
    const now = () => new Date("2026-11-24T10:00:00Z");
    expect(createDailyCostLedger({ limitUsd: 2, now, initial: { day: "2026-11-24", spent_usd: 1.5, limit_usd: 2 } }).spentUsd()).toBe(1.5);
    expect(createDailyCostLedger({ limitUsd: 2, now, initial: { day: "2026-11-23", spent_usd: 1.5, limit_usd: 2 } }).spentUsd()).toBe(0);
  });

  it("rejects an impossible ceiling with the flag's name", () => {
    expect(() => createDailyCostLedger({ limitUsd: 0 })).toThrow("Expected `--daily-cost-usd` to be a number > 0, got `0` (number)");
    expect(() => createDailyCostLedger({ limitUsd: Number.NaN })).toThrow(/--daily-cost-usd/);
  });
});

describe("helpers", () => {
  it("outcomeCostUsd reads metadata.cost_usd of any outcome", () => {
    expect(outcomeCostUsd({ kind: "completed", body: "x", metadata: { cost_usd: 0.25 } })).toBe(0.25);
    expect(outcomeCostUsd({ kind: "failed", body: "x", retry: false, metadata: { cost_usd: 0.1 } })).toBe(0.1);
    expect(outcomeCostUsd({ kind: "usage-limit", message: "m" })).toBeNull();
  });

  it("nextUtcMidnight crosses months and years", () => {
    expect(nextUtcMidnight(new Date("2026-12-31T23:59:59Z")).toISOString()).toBe("2027-01-01T00:00:00.000Z");
    expect(nextUtcMidnight(new Date("2026-02-28T00:00:00Z")).toISOString()).toBe("2026-03-01T00:00:00.000Z");
  });
});
