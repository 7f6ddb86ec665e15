import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { toJsonFile } from "../../src/store/json.js";
import { backoffMs, clearPause, describePause, listPauses, pausePath, readPause, setPause } from "../../src/supervisor/pauses.js";

let queue: string;
beforeEach(async () => {
  queue = await mkdtemp(path.join(os.tmpdir(), "agent-lanes-pauses-"));
});
afterEach(async () => {
  await rm(queue, { recursive: true, force: true });
});

const T0 = new Date("2026-11-24T10:00:00Z");
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const fixed = (value: number) => () => value;

describe("usage-limit pauses with a reset time", () => {
  it("last until the reset plus jitter, written as a pause file every supervisor reads", async () => {
    const pause = await setPause(
      queue,
      "claude",
      { until: at(600), reason: "You've hit your session limit · resets 10:10am", kind: "usage-limit", owner: "host-a:1" },
      { now: T0, random: fixed(0.5) },
    );
    expect(pause).toEqual({
      vendor: "claude",
      until: "2026-11-24T10:10:30Z",
      reason: "You've hit your session limit · resets 10:10am",
      kind: "usage-limit",
      set_at: "2026-11-24T10:00:00Z",
      set_by: "host-a:1",
      consecutive: 1,
      reset_at: "2026-11-24T10:10:00Z",
    });
    const text = await readFile(pausePath(queue, "claude"), "utf8");
    // The queue's JSON style: sorted keys, 2-space indent, ASCII escapes, trailing newline.
    expect(text).toBe(toJsonFile(pause));
    expect(text).toContain('"reason": "You\'ve hit your session limit \\u00b7 resets 10:10am"');
    expect((await stat(pausePath(queue, "claude"))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(queue, "pauses"))).mode & 0o777).toBe(0o700);

    // Two supervisors of the vendor on the same queue, at different moments.
    expect((await readPause(queue, "claude", at(1))).pause?.until).toBe("2026-11-24T10:10:30Z");
    expect((await readPause(queue, "claude", at(629))).pause?.set_by).toBe("host-a:1");
    expect(await readPause(queue, "claude", at(630))).toEqual({ pause: null, warning: null });
    expect(await readPause(queue, "claude", at(631))).toEqual({ pause: null, warning: null });
    // Another vendor is not paused.
    expect((await readPause(queue, "codex", at(1))).pause).toBeNull();
  });

  it("jitter stays within resetJitterSeconds", async () => {
    const low = await setPause(queue, "a", { until: at(60), reason: "r", kind: "usage-limit", owner: "o" }, { now: T0, random: fixed(0) });
    const high = await setPause(queue, "b", { until: at(60), reason: "r", kind: "usage-limit", owner: "o" }, { now: T0, random: fixed(0.999), timings: { resetJitterSeconds: 10 } });
    expect(low.until).toBe("2026-11-24T10:01:00Z");
    expect(high.until).toBe("2026-11-24T10:01:10Z");
    const none = await setPause(queue, "c", { until: at(60), reason: "r", kind: "budget", owner: "o", jitter: false }, { now: T0, random: fixed(0.9) });
    expect(none.until).toBe("2026-11-24T10:01:00Z");
  });

  it("a pause is only ever extended, never shortened", async () => {
    const long = await setPause(queue, "claude", { until: at(3600), reason: "weekly", kind: "usage-limit", owner: "a" }, { now: T0, random: fixed(0) });
    const short = await setPause(queue, "claude", { until: at(60), reason: "session", kind: "usage-limit", owner: "b" }, { now: at(5), random: fixed(0) });
    expect(short).toEqual(long);
    expect((await readPause(queue, "claude", at(100))).pause?.reason).toBe("weekly");
    const longer = await setPause(queue, "claude", { until: at(7200), reason: "later", kind: "usage-limit", owner: "b" }, { now: at(10), random: fixed(0) });
    expect(longer.until).toBe("2026-11-24T12:00:00Z");
  });

  it("clamps every pause: 7 days for an explicitly dated reset, 1 day for any other", async () => {
    const dated = await setPause(queue, "x", { until: at(30 * 86400), reason: "r", kind: "usage-limit", owner: "o", dated: true }, { now: T0, random: fixed(0) });
    expect(dated.until).toBe("2026-12-01T10:00:00Z");
    const weekly = await setPause(queue, "w", { until: at(5 * 86400), reason: "weekly", kind: "usage-limit", owner: "o", dated: true }, { now: T0, random: fixed(0) });
    expect(weekly.until).toBe("2026-11-29T10:00:00Z");
    const undated = await setPause(queue, "y", { until: at(30 * 86400), reason: "r", kind: "usage-limit", owner: "o" }, { now: T0, random: fixed(0) });
    expect(undated.until).toBe("2026-11-25T10:00:00Z");
  });
});

describe("backoff pauses without a reset time", () => {
  it("double per consecutive pause with equal jitter, up to the cap", async () => {
    const limit = { reason: "API Error: Rate limit reached", kind: "usage-limit", owner: "o" } as const;
    const first = await setPause(queue, "claude", { ...limit, until: null }, { now: T0, random: fixed(0) });
    expect(first).toMatchObject({ consecutive: 1, until: "2026-11-24T10:00:30Z", reset_at: null });
    // The next limit right after the first pause ended counts as consecutive.
    const second = await setPause(queue, "claude", limit, { now: at(31), random: fixed(0) });
    expect(second).toMatchObject({ consecutive: 2, until: "2026-11-24T10:01:31Z" });
    const third = await setPause(queue, "claude", limit, { now: at(92), random: fixed(0.999) });
    expect(third.consecutive).toBe(3);
    expect(Date.parse(third.until) - at(92).getTime()).toBe(240_000);
  });

  it("a reset time in the past is treated as none", async () => {
    const pause = await setPause(queue, "claude", { until: at(-60), reason: "r", kind: "usage-limit", owner: "o" }, { now: T0, random: fixed(0) });
    expect(pause).toMatchObject({ reset_at: null, until: "2026-11-24T10:00:30Z" });
  });

  it("the count starts again when the previous pause ended long ago", async () => {
    await setPause(queue, "claude", { reason: "r", kind: "usage-limit", owner: "o" }, { now: T0, random: fixed(0) });
    const later = await setPause(queue, "claude", { reason: "r", kind: "usage-limit", owner: "o" }, { now: at(3 * 3600), random: fixed(0) });
    expect(later.consecutive).toBe(1);
  });

  it("backoffMs is capped and never below half the step", () => {
    const timings = { backoffBaseSeconds: 60, backoffCapSeconds: 3600 };
    expect(backoffMs(1, timings, fixed(0))).toBe(30_000);
    expect(backoffMs(4, timings, fixed(0.5))).toBe(360_000);
    expect(backoffMs(50, timings, fixed(0))).toBe(1_800_000);
    expect(backoffMs(50, timings, fixed(0.9999))).toBeLessThanOrEqual(3_600_000);
  });
});

describe("clearPause, listPauses and broken files", () => {
  it("clearPause removes the file; onlyExpired leaves an active pause alone", async () => {
    await setPause(queue, "codex", { until: at(600), reason: "r", kind: "usage-limit", owner: "o" }, { now: T0, random: fixed(0) });
    expect(await clearPause(queue, "codex", { onlyExpired: true, now: at(10) })).toBe(false);
    expect((await readPause(queue, "codex", at(10))).pause).not.toBeNull();
    expect(await clearPause(queue, "codex", { onlyExpired: true, now: at(700) })).toBe(true);
    expect(await clearPause(queue, "codex")).toBe(false);
  });

  it("listPauses shows active and expired pauses for status --all and skips temp files", async () => {
    await setPause(queue, "gemini", { until: at(120), reason: "quota", kind: "usage-limit", owner: "o" }, { now: T0, random: fixed(0) });
    await setPause(queue, "claude", { until: at(30), reason: "budget", kind: "budget", owner: "o", jitter: false }, { now: T0 });
    await writeFile(path.join(queue, "pauses", ".claude.json.abcd.tmp"), "{");
    const { pauses, warnings } = await listPauses(queue, at(60));
    expect(warnings).toEqual([]);
    expect(pauses.map((p) => [p.vendor, p.active, p.remaining_seconds])).toEqual([
      ["claude", false, 0],
      ["gemini", true, 60],
    ]);
    expect(await listPauses(path.join(queue, "no-such-queue"))).toEqual({ pauses: [], warnings: [] });
  });

  it("a malformed pause file is no pause plus a warning, and can be overwritten", async () => {
    await mkdir(path.join(queue, "pauses"), { recursive: true });
    await writeFile(pausePath(queue, "claude"), "{not json");
    await writeFile(pausePath(queue, "codex"), JSON.stringify({ vendor: "codex", until: "soon" }));
    const claude = await readPause(queue, "claude", T0);
    expect(claude.pause).toBeNull();
    expect(claude.warning).toMatch(/pause file .*claude\.json is not valid JSON .*ignoring it/);
    expect((await readPause(queue, "codex", T0)).warning).toMatch(/has no valid "until" timestamp/);
    expect((await listPauses(queue, T0)).warnings).toHaveLength(2);
    const fresh = await setPause(queue, "claude", { reason: "r", kind: "usage-limit", owner: "o" }, { now: T0, random: fixed(0) });
    expect(fresh.consecutive).toBe(1);
    expect((await readPause(queue, "claude", T0)).pause).toEqual(fresh);
  });

  it("two supervisors hitting the limit at once leave one valid pause file", async () => {
    const results = await Promise.all(
      ["a", "b", "c", "d"].map((owner, i) => setPause(queue, "claude", { until: at(600 + i), reason: owner, kind: "usage-limit", owner }, { now: T0, random: fixed(0) })),
    );
    const { pause, warning } = await readPause(queue, "claude", T0);
    expect(warning).toBeNull();
    expect(results.map((r) => r.set_by)).toContain(pause?.set_by);
  });

  it("refuses vendor names that are not safe file names", async () => {
    expect(() => pausePath(queue, "../evil")).toThrow(/invalid vendor name/);
    await expect(readPause(queue, "a/b")).rejects.toThrow(/invalid vendor name/);
  });

  it("describePause is one log line with the time left", async () => {
    const pause = await setPause(queue, "claude", { until: at(2530), reason: "limit", kind: "usage-limit", owner: "o" }, { now: T0, random: fixed(0) });
    expect(describePause(pause, T0)).toBe("claude paused until 2026-11-24T10:42:10Z (in 42m 10s; usage-limit: limit)");
  });
});

describe("needs-login pauses", () => {
  const login = { reason: "Not logged in · Please run /login", kind: "needs-login", owner: "o", fix: "run `claude /login`, then `agent-lanes resume --vendor claude`" } as const;

  it("re-probe after exactly 1, 2, 4 ... 30 minutes, each probe right after the previous pause ended", async () => {
    let now = T0;
    const minutes: number[] = [];
    for (let i = 0; i < 8; i += 1) {
      const pause = await setPause(queue, "claude", login, { now, random: fixed(0) });
      minutes.push((Date.parse(pause.until) - now.getTime()) / 60_000);
      now = new Date(Date.parse(pause.until) + 1000);
    }
    expect(minutes).toEqual([1, 2, 4, 8, 16, 30, 30, 30]);
  });

  it("several runs failing while the pause is in force do not escalate it, and the fix is kept and shown", async () => {
    const first = await setPause(queue, "claude", login, { now: T0 });
    const second = await setPause(queue, "claude", login, { now: at(2) });
    expect(second.consecutive).toBe(1);
    expect(Date.parse(second.until) - at(2).getTime()).toBe(60_000);
    expect(first.fix).toBe(login.fix);
    const read = (await readPause(queue, "claude", at(3))).pause;
    expect(read).toMatchObject({ kind: "needs-login", fix: login.fix });
    expect(describePause(read!, at(3))).toBe(
      "claude needs a login (Not logged in · Please run /login); fix: run `claude /login`, then `agent-lanes resume --vendor claude`; paused until 2026-11-24T10:01:02Z (re-probe in 59s)",
    );
  });
});
