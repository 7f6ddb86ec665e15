// Every known limit message variant (test/fixtures/limits/messages.json):
// session, weekly, Opus/Sonnet, 5-hour, dated forms, epochs, durations,
// 12/24-hour clocks, named time zones, for claude, codex, gemini and agy.
// The text tier of limit detection must read each one the same way.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { detectUsageLimit } from "../../vendors/limits.js";

interface Case {
  vendor: string;
  variant: string;
  text: string;
  kind: string;
  reset: string | null;
  dated: boolean;
}

const fixture = JSON.parse(readFileSync(new URL("../fixtures/limits/messages.json", import.meta.url), "utf8")) as { now: string; zone: string; cases: Case[] };
const options = { now: new Date(fixture.now), timeZone: fixture.zone };

describe("every known limit message", () => {
  it.each(fixture.cases.map((c) => [`${c.vendor}: ${c.variant}`, c] as const))("%s", (_label, c) => {
    const match = detectUsageLimit(`some log line\n${c.text}\n`, options);
    expect(match).not.toBeNull();
    expect(match?.kind).toBe(c.kind);
    expect(match?.message).toBe(c.text);
    expect(match?.resetAt?.toISOString() ?? null).toBe(c.reset);
    expect(match?.dated).toBe(c.dated);
  });

  it("covers every vendor and the variants the issue names", () => {
    const variants = fixture.cases.map((c) => `${c.vendor} ${c.variant}`).join("\n");
    for (const needed of ["claude", "codex", "gemini", "agy", "session", "weekly", "Opus", "dated", "24-hour", "12-hour", "zone", "epoch", "duration"]) {
      expect(variants).toContain(needed);
    }
  });
});
