import { describe, expect, it } from "vitest";
import { TransitionError } from "../../src/store/errors.js";
import { LeaseLostError, startLeaseKeeper, type KeeperClock } from "../../src/supervisor/lease-keeper.js";

/** A manual clock: timers fire only when the test advances time. */
function manualClock() {
  let now = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const clock: KeeperClock = {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++seq;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
  };
  const flush = async () => {
    for (let i = 0; i < 10; i += 1) await Promise.resolve();
  };
  return {
    clock,
    pending: () => timers.size,
    /** Advance by `ms`, firing due timers in order and letting their promises settle. */
    async advance(ms: number) {
      const target = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
        await flush();
      }
      now = target;
      await flush();
    },
  };
}

function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const timings = { renewEveryMs: 1000, renewRetryMs: 250, leaseMs: 3000 };

describe("startLeaseKeeper", () => {
  it("renews every third of the lease", async () => {
    const t = manualClock();
    let renewals = 0;
    const keeper = startLeaseKeeper({ taskId: "t1", renew: async () => void (renewals += 1), ...timings, clock: t.clock });
    await t.advance(999);
    expect(renewals).toBe(0);
    await t.advance(1);
    expect(renewals).toBe(1);
    await t.advance(3000);
    expect(renewals).toBe(4);
    await keeper.stop();
    expect(keeper.signal.aborted).toBe(false);
  });

  it("never starts a renewal while one is still in flight", async () => {
    const t = manualClock();
    const slow = deferred();
    let started = 0;
    const keeper = startLeaseKeeper({
      taskId: "t1",
      renew: () => {
        started += 1;
        return started === 1 ? slow.promise : Promise.resolve();
      },
      ...timings,
      clock: t.clock,
    });
    await t.advance(1000);
    expect(started).toBe(1);
    await t.advance(5000);
    expect(started).toBe(1);
    expect(t.pending()).toBe(0);
    slow.resolve();
    await t.advance(0);
    await t.advance(1000);
    expect(started).toBe(2);
    await keeper.stop();
  });

  it("signals a lost lease when the store says the token no longer matches, and stops renewing", async () => {
    const t = manualClock();
    let calls = 0;
    const keeper = startLeaseKeeper({
      taskId: "t9",
      renew: async () => {
        calls += 1;
        throw new TransitionError("token_mismatch", "claim token does not match active lease", { taskId: "t9" });
      },
      ...timings,
      clock: t.clock,
    });
    await t.advance(1000);
    expect(keeper.signal.aborted).toBe(true);
    expect(keeper.signal.reason).toBeInstanceOf(LeaseLostError);
    expect((keeper.signal.reason as Error).message).toBe("lease lost for t9: claim token does not match active lease");
    await t.advance(10_000);
    expect(calls).toBe(1);
    await keeper.stop();
  });

  it("treats a finished task as a lost lease too", async () => {
    const t = manualClock();
    const keeper = startLeaseKeeper({
      taskId: "t2",
      renew: async () => {
        throw new TransitionError("invalid_state", "cannot renew t2; task is completed", { taskId: "t2" });
      },
      ...timings,
      clock: t.clock,
    });
    await t.advance(1000);
    expect(keeper.signal.aborted).toBe(true);
    await keeper.stop();
  });

  it("retries a transient renewal error sooner, then goes back to the normal interval", async () => {
    const t = manualClock();
    const results = [new Error("EIO: i/o error"), null, null];
    const at: number[] = [];
    const retries: unknown[] = [];
    const keeper = startLeaseKeeper({
      taskId: "t3",
      renew: async () => {
        at.push(t.clock.now());
        const next = results.shift();
        if (next) throw next;
      },
      ...timings,
      clock: t.clock,
      onRetry: (error) => retries.push(error),
    });
    await t.advance(2500);
    expect(at).toEqual([1000, 1250, 2250]);
    expect(retries).toHaveLength(1);
    expect(keeper.signal.aborted).toBe(false);
    await keeper.stop();
  });

  it("gives the lease up when transient errors last until it would have run out", async () => {
    const t = manualClock();
    let calls = 0;
    const keeper = startLeaseKeeper({
      taskId: "t4",
      renew: async () => {
        calls += 1;
        throw new Error("EIO");
      },
      ...timings,
      clock: t.clock,
    });
    await t.advance(2500);
    expect(keeper.signal.aborted).toBe(false);
    await t.advance(500);
    expect(keeper.signal.aborted).toBe(true);
    expect((keeper.signal.reason as Error).message).toMatch(/renewals kept failing until the lease ran out \(EIO\)/);
    const before = calls;
    await t.advance(5000);
    expect(calls).toBe(before);
    await keeper.stop();
  });

  it("stop() is idempotent, waits for a renewal in flight and leaves no timer behind", async () => {
    const t = manualClock();
    const slow = deferred();
    const keeper = startLeaseKeeper({ taskId: "t5", renew: () => slow.promise, ...timings, clock: t.clock });
    await t.advance(1000);
    let stopped = false;
    const first = keeper.stop().then(() => (stopped = true));
    expect(keeper.stop()).toBe(keeper.stop());
    await t.advance(0);
    expect(stopped).toBe(false);
    slow.resolve();
    await first;
    expect(stopped).toBe(true);
    expect(t.pending()).toBe(0);
    expect(keeper.signal.aborted).toBe(false);
  });

  it("an observer that throws does not break renewing", async () => {
    const t = manualClock();
    let renewals = 0;
    const keeper = startLeaseKeeper({
      taskId: "t6",
      renew: async () => void (renewals += 1),
      ...timings,
      clock: t.clock,
      onRenewed: () => {
        throw new Error("observer bug");
      },
    });
    await t.advance(3000);
    expect(renewals).toBe(3);
    await keeper.stop();
  });
});
