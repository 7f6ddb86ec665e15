// nowMicros: the wall clock with microseconds, strictly increasing, and
// following the wall clock across a sleep or a clock step (the monotonic
// clock stops while a laptop sleeps). Both clocks are stood in for, so the
// sleep takes no time; a fresh copy of the module per test starts unanchored.

import { afterEach, describe, expect, it, vi } from "vitest";

let wallMs = 0;
let hrNs = 0n;

async function freshClock(): Promise<typeof import("../../src/store/time.js")> {
  vi.resetModules();
  vi.spyOn(Date, "now").mockImplementation(() => wallMs);
  vi.spyOn(process.hrtime, "bigint").mockImplementation(() => hrNs);
  return import("../../src/store/time.js");
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("nowMicros", () => {
  it("adds the monotonic clock's microseconds to the wall clock's milliseconds", async () => {
    wallMs = Date.UTC(2026, 10, 26, 7, 0, 0, 500);
    hrNs = 1_000_000_000n;
    const { nowMicros, isoNow } = await freshClock();
    expect(nowMicros()).toBe(BigInt(wallMs) * 1000n);
    hrNs += 250_000n; // 250 µs later, still the same millisecond
    expect(nowMicros()).toBe(BigInt(wallMs) * 1000n + 250n);
    wallMs += 1;
    hrNs += 900_000n; // 1.15 ms after the anchor
    expect(nowMicros()).toBe(BigInt(wallMs - 1) * 1000n + 1150n);
    expect(isoNow()).toBe("2026-11-26T07:00:00.501151Z");
  });

  it("follows the wall clock after a sleep the monotonic clock did not count", async () => {
    wallMs = Date.UTC(2026, 10, 26, 0, 0, 0, 0);
    hrNs = 5_000_000_000n;
    const { nowMicros, formatIso } = await freshClock();
    nowMicros();
    // Eight hours asleep: the wall clock moved, the monotonic clock 2 ms.
    wallMs += 8 * 3600_000;
    hrNs += 2_000_000n;
    expect(formatIso(nowMicros())).toBe("2026-11-26T08:00:00Z");
    hrNs += 10_000n;
    expect(formatIso(nowMicros())).toBe("2026-11-26T08:00:00.000010Z");
  });

  it("stays strictly increasing when the wall clock steps back", async () => {
    wallMs = Date.UTC(2026, 10, 26, 12, 0, 0, 0);
    hrNs = 0n;
    const { nowMicros } = await freshClock();
    const before = nowMicros();
    wallMs -= 5000;
    hrNs += 1_000n;
    const after = nowMicros();
    expect(after).toBe(before + 1n);
    // Once the wall clock is past the last stamp again, it is followed.
    wallMs += 10_000;
    hrNs += 1_000n;
    expect(nowMicros()).toBe(BigInt(wallMs) * 1000n);
  });
});
