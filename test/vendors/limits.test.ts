import { describe, expect, it } from "vitest";
import { detectUsageLimit, parseDuration, parseResetTime } from "../../vendors/limits.js";

const now = new Date("2026-11-24T10:00:00Z");
const utc = { now, timeZone: "UTC" };

describe("detectUsageLimit: Claude texts", () => {
  it("reads a session limit with a clock time as the next such time today", () => {
    const match = detectUsageLimit("You've hit your session limit · resets 3:45pm", utc);
    expect(match).toMatchObject({ kind: "session-limit", message: "You've hit your session limit · resets 3:45pm" });
    expect(match?.resetAt?.toISOString()).toBe("2026-11-24T15:45:00.000Z");
  });

  it("rolls a clock time that has already passed today over to tomorrow", () => {
    const match = detectUsageLimit("You've hit your session limit · resets 9am", utc);
    expect(match?.resetAt?.toISOString()).toBe("2026-11-25T09:00:00.000Z");
  });

  it("resolves a time zone in parentheses with Intl, in winter and in summer time", () => {
    expect(detectUsageLimit("You've hit your session limit · resets 3pm (Europe/Berlin)", utc)?.resetAt?.toISOString()).toBe("2026-11-24T14:00:00.000Z");
    const july = { now: new Date("2026-07-01T10:00:00Z"), timeZone: "UTC" };
    expect(detectUsageLimit("You've hit your session limit · resets 3pm (Europe/Berlin)", july)?.resetAt?.toISOString()).toBe("2026-07-01T13:00:00.000Z");
    expect(detectUsageLimit("You've hit your session limit · resets 9:30am (America/New_York)", utc)?.resetAt?.toISOString()).toBe("2026-11-24T14:30:00.000Z");
  });

  it("falls back to the configured zone when the zone in parentheses is unknown", () => {
    const match = detectUsageLimit("You've hit your session limit · resets 3pm (Mars/Olympus)", { now, timeZone: "Asia/Tokyo" });
    // 15:00 in Tokyo (UTC+9) on the 24th is 06:00Z, already past at 10:00Z: the next one is the 25th.
    expect(match?.resetAt?.toISOString()).toBe("2026-11-25T06:00:00.000Z");
  });

  it("uses the machine's local zone when no zone is named or configured", () => {
    const match = detectUsageLimit("You've hit your session limit · resets 11:59pm", { now });
    const expected = new Date(now);
    expected.setHours(23, 59, 0, 0);
    if (expected.getTime() <= now.getTime()) expected.setDate(expected.getDate() + 1);
    expect(match?.resetAt?.getTime()).toBe(expected.getTime());
  });

  it("reads weekly and Opus limits, with a date, and the 5-hour wording", () => {
    const weekly = detectUsageLimit("You've hit your weekly limit · resets Nov 27, 10am (UTC)", utc);
    expect(weekly).toMatchObject({ kind: "weekly-limit" });
    expect(weekly?.resetAt?.toISOString()).toBe("2026-11-27T10:00:00.000Z");
    const opus = detectUsageLimit("You’ve hit your Opus limit · resets 8pm", utc);
    expect(opus).toMatchObject({ kind: "model-limit" });
    expect(opus?.resetAt?.toISOString()).toBe("2026-11-24T20:00:00.000Z");
    expect(detectUsageLimit("5-hour limit reached ∙ resets 3pm", utc)).toMatchObject({ kind: "session-limit" });
  });

  it("takes a date already past this year as next year's", () => {
    expect(detectUsageLimit("You've hit your weekly limit · resets Jan 2, 10am", utc)?.resetAt?.toISOString()).toBe("2027-01-02T10:00:00.000Z");
  });

  it("reads the 2025 epoch form", () => {
    const match = detectUsageLimit("Claude AI usage limit reached|1795500000", utc);
    expect(match).toMatchObject({ kind: "usage-limit" });
    expect(match?.resetAt?.getTime()).toBe(1795500000 * 1000);
  });

  it("recognises 429s, rate limits and 529s without a reset time", () => {
    expect(detectUsageLimit("API Error: Request rejected (429) · This request would exceed your rate limit", utc)).toMatchObject({ kind: "rate-limit", resetAt: null });
    expect(detectUsageLimit("API Error: Rate limit reached", utc)).toMatchObject({ kind: "rate-limit", resetAt: null });
    expect(detectUsageLimit("API Error: Repeated 529 Overloaded errors", utc)).toMatchObject({ kind: "overloaded", resetAt: null });
  });

  it("finds a limit on any line of a longer stderr", () => {
    const text = "starting\nloading config\nAPI Error: Rate limit reached\nbye";
    expect(detectUsageLimit(text, utc)?.message).toBe("API Error: Rate limit reached");
  });
});

describe("detectUsageLimit: Codex and Gemini texts", () => {
  it("reads the Codex usage limit with a local clock time", () => {
    const match = detectUsageLimit("You've hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro) or try again at 3:28 PM.", utc);
    expect(match).toMatchObject({ kind: "usage-limit" });
    expect(match?.resetAt?.toISOString()).toBe("2026-11-24T15:28:00.000Z");
  });

  it("reads the Codex form with a date and an ordinal day", () => {
    expect(detectUsageLimit("ERROR: You've hit your usage limit. Try again at Sep 26th, 2027 3:05 PM.", utc)?.resetAt?.toISOString()).toBe("2027-09-26T15:05:00.000Z");
  });

  it("reads a relative 'try again in' duration", () => {
    const match = detectUsageLimit("You've hit your usage limit. Upgrade to Plus or try again in 4 days 19 hours 41 minutes.", utc);
    expect(match?.resetAt?.getTime()).toBe(now.getTime() + ((4 * 24 + 19) * 60 + 41) * 60_000);
  });

  it("treats 'try again later' as a limit without a reset", () => {
    expect(detectUsageLimit("You've hit your usage limit. Try again later.", utc)).toMatchObject({ kind: "usage-limit", resetAt: null });
  });

  it("recognises the Gemini daily quota, and a retry delay when one is given", () => {
    expect(detectUsageLimit("You have exhausted your daily quota on this model.", utc)).toMatchObject({ kind: "quota", resetAt: null });
    const retry = detectUsageLimit("[API Error: Quota exceeded for quota metric 'requests'. Please retry in 2.5s.]", utc);
    expect(retry).toMatchObject({ kind: "quota" });
    expect(retry?.resetAt?.getTime()).toBe(now.getTime() + 2500);
  });
});

describe("no false positives", () => {
  it("ignores ordinary text", () => {
    expect(detectUsageLimit("All tests pass. The retry loop now handles errors.", utc)).toBeNull();
    expect(detectUsageLimit("", utc)).toBeNull();
  });

});

describe("parseResetTime and parseDuration", () => {
  it("reads 24-hour times, midnight and noon", () => {
    expect(parseResetTime("15:45", utc)?.toISOString()).toBe("2026-11-24T15:45:00.000Z");
    expect(parseResetTime("12am", utc)?.toISOString()).toBe("2026-11-25T00:00:00.000Z");
    expect(parseResetTime("12pm", utc)?.toISOString()).toBe("2026-11-24T12:00:00.000Z");
  });

  it("returns null for text without a time", () => {
    expect(parseResetTime("soon", utc)).toBeNull();
    expect(parseResetTime("25:00", utc)).toBeNull();
    expect(parseDuration("later", now)).toBeNull();
  });

  it("adds up mixed duration units", () => {
    expect(parseDuration("2h 5m 3s", now)?.getTime()).toBe(now.getTime() + (2 * 3600 + 5 * 60 + 3) * 1000);
  });
});
