// Usage limits, budget fuses, the attempt cap and reloading: the dispatcher's
// decisions that outlive one run. The usage-limit test drives the real claude
// adapter against the fake claude CLI of test/fixtures/bin.

import { promises as fs } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readPause } from "../../src/supervisor/pauses.js";
import { startDispatcher, type Dispatcher, type StartDispatcherOptions } from "../../src/supervisor/supervisor.js";
import { loadAdapter } from "../../vendors/registry.js";
import type { VendorAdapter, VendorConfig } from "../../vendors/types.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";
import { fakeAdapter, FAKE_BIN, logSink, waitFor } from "./helpers.js";

let ws: TestWorkspace;
let running: Dispatcher[] = [];

beforeEach(async () => {
  ws = await makeWorkspace();
});

afterEach(async () => {
  await Promise.all(running.map((d) => d.forceStop("test over")));
  running = [];
  await ws.cleanup();
});

async function start(options: Partial<StartDispatcherOptions>, adapter: VendorAdapter, deps: { reload?: () => Promise<{ adapter: VendorAdapter; vendorConfig: VendorConfig }> } = {}) {
  const log = logSink();
  const d = await startDispatcher(
    { vendor: "fake", queueRoot: ws.queue, leaseSeconds: 3, pollSeconds: 0.2, killGraceSeconds: 0.3, graceSeconds: 1, pauseJitterSeconds: 0, ...options },
    { adapter, logger: log.logger, sweep: false, ...deps },
  );
  running.push(d);
  return { d, log };
}

const state = async (id: string) => (await ws.store.get(id)).state;
const until = (id: string, wanted: string, timeoutMs = 20_000) => waitFor(`${id} to be ${wanted}`, async () => (await state(id)) === wanted, timeoutMs);

describe("usage limits", () => {
  it("releases the task, pauses the vendor until the reset, keeps a second dispatcher from claiming, and both resume after", async () => {
    const resetAt = Date.now() + 5000;
    const vendorConfig: VendorConfig = {
      command: path.join(FAKE_BIN, "claude"),
      env: { FAKE_AGENT_SCENARIO: "usage-limit-epoch", FAKE_AGENT_RESET_AT: String(resetAt), FAKE_AGENT_DELAY_MS: "1500" },
    };
    const claude = () => loadAdapter("claude", { config: vendorConfig });
    const first = await ws.submit();
    const a = await start({ vendor: "claude", owner: "claude-a", vendorConfig }, await claude());

    const pause = await waitFor("the vendor pause", async () => (await readPause(ws.queue, "claude")).pause);
    await until(first.id, "queued");
    expect(pause.kind).toBe("usage-limit");
    const pausedUntil = Date.parse(pause.until);
    expect(pausedUntil).toBeGreaterThanOrEqual(resetAt);
    expect(pausedUntil).toBeLessThan(resetAt + 2000);
    const limitEvents = (await ws.store.readEvents(first.id)).filter((e) => e.type === "usage_limit");
    expect(limitEvents).toHaveLength(1);
    expect(Date.parse(String(limitEvents[0]?.data.reset_at))).toBe(Math.ceil(resetAt / 1000) * 1000);
    expect(await ws.store.getResponse(first.id)).toBeNull();

    const second = await ws.submit();
    const b = await start({ vendor: "claude", owner: "claude-b", vendorConfig }, await claude());
    await waitFor("dispatcher b to see the pause", () => b.d.stats().pausedUntil !== null);
    expect(a.d.stats().pausedUntil).not.toBeNull();

    await until(first.id, "completed", 30_000);
    await until(second.id, "completed", 30_000);
    const claims = [...(await ws.store.readEvents(first.id)), ...(await ws.store.readEvents(second.id))].filter((e) => e.type === "claimed");
    // The first claim hit the limit; every later one waited for the pause to end.
    const later = claims.slice(1);
    expect(later.length).toBeGreaterThanOrEqual(2);
    for (const claim of later) expect(Date.parse(claim.created_at)).toBeGreaterThanOrEqual(pausedUntil);
    const reviewers = new Set([(await ws.store.getResponse(first.id))?.reviewer, (await ws.store.getResponse(second.id))?.reviewer]);
    expect(reviewers).toEqual(new Set(["claude-a", "claude-b"]));
    expect(a.d.stats().usageLimits).toBe(1);
  });

  it("a usage limit never uses up an attempt", async () => {
    const t = await ws.submit({ metadata: { agent: "cat-stdin" } });
    // Three limit releases on record: a fourth claim still runs the task.
    for (let i = 0; i < 3; i += 1) {
      const claimed = await ws.store.claim(t.id, { owner: "other", leaseSeconds: 60 });
      await ws.store.appendEvent(t.id, { type: "headless_failed", data: { attempt: i + 1, counts_as_attempt: false, reason: "usage limit: x" } });
      await ws.store.release(t.id, { claimToken: claimed.claim_token as string, reason: "usage limit: x" });
    }
    await start({ maxAttempts: 1 }, await fakeAdapter());
    await until(t.id, "completed");
  });
});

describe("attempts", () => {
  it("fails a task at once when earlier runs used up its attempts without finishing", async () => {
    const t = await ws.submit({ metadata: { agent: "echo" } });
    for (let i = 0; i < 2; i += 1) {
      const claimed = await ws.store.claim(t.id, { owner: `crashed-${i}`, leaseSeconds: 60 });
      await ws.store.release(t.id, { claimToken: claimed.claim_token as string });
    }
    await start({ maxAttempts: 2 }, await fakeAdapter());
    await until(t.id, "failed");
    const response = await ws.store.getResponse(t.id);
    expect(response?.body).toMatch(/gave up on .*: 2 earlier attempts did not finish \(--max-attempts 2\)/);
    expect(response?.body).toMatch(/attempt 1 \(claimed .* by crashed-0\)/);
    expect((await ws.store.readEvents(t.id)).some((e) => e.type === "headless_started")).toBe(false);
  });
});

describe("budget", () => {
  it("stops claiming for the rest of the UTC day once this dispatcher's daily cost ceiling is reached; others go on", async () => {
    const a = await ws.submit({ metadata: { agent: "echo" } });
    const { d } = await start({ dailyCostUsd: 0.01, owner: "spender" }, await fakeAdapter({ costUsd: 0.02 }));
    await until(a.id, "completed");
    await waitFor("the dispatcher to pause itself", () => d.stats().pausedUntil !== null);
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    expect(Date.parse(d.stats().pausedUntil ?? "")).toBe(midnight.getTime());
    // The ceiling is per dispatcher: nothing is written to the vendor's shared pause file.
    expect((await readPause(ws.queue, "fake")).pause).toBeNull();
    const b = await ws.submit({ metadata: { agent: "echo" } });
    // Several polls later the new task is still untouched by the paused dispatcher...
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await state(b.id)).toBe("queued");
    // ...while a second dispatcher of the same vendor, without a ceiling, takes it.
    await start({ owner: "frugal" }, await fakeAdapter({ costUsd: 0.02 }));
    await until(b.id, "completed");
    const claims = (await ws.store.readEvents(b.id)).filter((e) => e.type === "claimed");
    expect(claims.map((e) => e.data.owner)).toEqual(["frugal"]);
  });
});

describe("reload", () => {
  it("takes the re-read adapter config for the next task", async () => {
    const catConfig: VendorConfig = { agent: "cat-stdin" };
    const { d } = await start({}, await fakeAdapter({ agent: "echo" }), {
      reload: async () => ({ adapter: await fakeAdapter(catConfig), vendorConfig: catConfig }),
    });
    const before = await ws.submit({ content: "BEFORE\n" });
    await until(before.id, "completed");
    expect((await ws.store.getResponse(before.id))?.body).toMatch(/^echo agent answer/);
    await d.reload();
    const after = await ws.submit({ content: "AFTER\n" });
    await until(after.id, "completed");
    expect((await ws.store.getResponse(after.id))?.body).toContain("----- BEGIN REQUEST ARTIFACT:");
  });
});

describe("stop", () => {
  it("drains: stops claiming, kills what outlives the grace, releases it, and resolves 0", async () => {
    const marker = path.join(ws.root, "m.log");
    const slow = await ws.submit({ metadata: { agent: "sleep", agent_args: ["30", marker] } });
    const { d } = await start({ graceSeconds: 0.5 }, await fakeAdapter());
    await waitFor("the agent to start", () => fs.readFile(marker, "utf8").catch(() => ""));
    const waiting = await ws.submit({ metadata: { agent: "echo" } });
    await d.stop("test");
    expect(await d.done).toBe(0);
    expect(await state(slow.id)).toBe("queued");
    expect(await state(waiting.id)).toBe("queued");
    expect((await ws.store.readEvents(waiting.id)).filter((e) => e.type === "claimed")).toEqual([]);
    const failed = (await ws.store.readEvents(slow.id)).filter((e) => e.type === "headless_failed");
    expect(failed[0]?.data).toMatchObject({ killed_by: "shutdown", action: "release", counts_as_attempt: false });
    expect(d.stop()).toBe(d.stop());
  });
});
