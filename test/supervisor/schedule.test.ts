// Scheduling: not_before, priority, depends_on (a cycle refused at submit) and
// per-lane WIP limits. First with a fake clock against a real queue folder
// (the store's claim checks, the select layer's plan), then with a running
// dispatcher in-process (the not_before timer, a failed dependency), then
// with real `agent-lanes` processes: submit flags, and two dispatcher
// processes sharing one lane's WIP limit.

import { promises as fs } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeJsonAtomic } from "../../src/store/atomic.js";
import { StoreError, ValidationError } from "../../src/store/errors.js";
import { parseWhen, readSchedule } from "../../src/store/schedule.js";
import type { Task } from "../../src/store/types.js";
import { planSchedule } from "../../src/supervisor/schedule.js";
import { createSelector } from "../../src/supervisor/select.js";
import { startDispatcher, type Dispatcher } from "../../src/supervisor/supervisor.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";
import { CLI, fakeAdapter, FAKE_ADAPTER, logSink, startCli, waitFor, type CliProcess } from "./helpers.js";
import { execa } from "execa";

let clock = new Date("2026-11-25T10:00:00.000Z");
const now = (): Date => clock;
const advance = (ms: number): void => {
  clock = new Date(clock.getTime() + ms);
};

let ws: TestWorkspace;
const dispatchers: Dispatcher[] = [];
const clis: CliProcess[] = [];

beforeEach(async () => {
  clock = new Date("2026-11-25T10:00:00.000Z");
  ws = await makeWorkspace({ now });
});

afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.forceStop("test over")));
  for (const cli of clis.splice(0)) {
    cli.child.kill("SIGKILL");
    await cli.child;
  }
  await ws.cleanup();
});

async function claimError(id: string, input: { maxRunning?: number } = {}): Promise<StoreError> {
  const error = await ws.store.claim(id, { owner: "w", leaseSeconds: 60, ...input }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StoreError);
  return error as StoreError;
}

/** Rewrite a task's metadata by hand, as the Python tool or an editor could. */
async function editMetadata(task: Task, metadata: Record<string, unknown>): Promise<void> {
  const file = path.join(ws.queue, "tasks", task.id, "task.json");
  const current = JSON.parse(await fs.readFile(file, "utf8")) as Task;
  await writeJsonAtomic(file, { ...current, metadata: { ...current.metadata, ...metadata } });
}

describe("scheduling in the store (fake clock)", () => {
  it("not_before: stored in metadata, hidden from next/available and refused at claim until it passes", async () => {
    const later = await ws.submit({ not_before: "+30m" });
    expect(later.metadata.not_before).toBe("2026-11-25T10:30:00Z");
    const plain = await ws.submit();
    expect((await ws.store.available()).map((t) => t.id)).toEqual([plain.id]);
    const error = await claimError(later.id);
    expect(error.code).toBe("not_due");
    expect(error.message).toContain("not before 2026-11-25T10:30:00Z");
    advance(30 * 60 * 1000);
    expect((await ws.store.available()).map((t) => t.id)).toEqual([later.id, plain.id]);
    expect((await ws.store.claim(later.id, { owner: "w" })).state).toBe("claimed");
  });

  it("parses ISO times and +N[s|m|h|d] delays, refusing anything else with the accepted forms", () => {
    expect(parseWhen("2026-12-01T08:00:00+01:00", clock).toISOString()).toBe("2026-12-01T07:00:00.000Z");
    expect(parseWhen("+45s", clock).getTime() - clock.getTime()).toBe(45_000);
    expect(parseWhen("+2h", clock).getTime() - clock.getTime()).toBe(7_200_000);
    expect(parseWhen("+1d", clock).getTime() - clock.getTime()).toBe(86_400_000);
    for (const bad of ["tomorrow", "+5w", "-5m", "2026-13-01T00:00:00Z", 12]) {
      expect(() => parseWhen(bad, clock)).toThrow(/not_before must be an ISO time .* or a delay from now/);
    }
  });

  it("priority: higher first within a lane, then oldest; a bad priority is refused", async () => {
    const low = await ws.submit();
    const highOld = await ws.submit({ priority: 5 });
    const mid = await ws.submit({ metadata: { priority: "2" } });
    const highNew = await ws.submit({ priority: 5 });
    const negative = await ws.submit({ priority: -1 });
    expect((await ws.store.available()).map((t) => t.id)).toEqual([highOld.id, highNew.id, mid.id, low.id, negative.id]);
    expect((await ws.store.next("default"))?.id).toBe(highOld.id);
    expect(mid.metadata.priority).toBe(2);
    await expect(ws.submit({ priority: 1.5 })).rejects.toThrow(/priority must be a whole number/);
    await expect(ws.submit({ metadata: { priority: "high" } })).rejects.toThrow(/priority must be a whole number/);
  });

  it("depends_on: claimable once every dependency completed; unknown ids refused at submit", async () => {
    const a = await ws.submit();
    const b = await ws.submit();
    const c = await ws.submit({ depends_on: [a.id, b.id] });
    expect(c.metadata.depends_on).toEqual([a.id, b.id]);
    expect((await ws.store.available()).map((t) => t.id)).toEqual([a.id, b.id]);
    expect((await claimError(c.id)).message).toContain(`depends on ${a.id}, which is queued`);
    await ws.store.respond(a.id, { body: "done" });
    expect((await claimError(c.id)).message).toContain(`depends on ${b.id}, which is queued`);
    await ws.store.respond(b.id, { body: "done" });
    expect((await ws.store.available()).map((t) => t.id)).toEqual([c.id]);
    await expect(ws.submit({ depends_on: ["20261125T000000000000Z-nope-000000000000"] })).rejects.toThrow(/not in the queue: 20261125T/);
    await expect(ws.submit({ depends_on: ["../etc"] })).rejects.toThrow(/invalid task id/);
  });

  it("a dependency cycle is refused at submit, naming the loop", async () => {
    const a = await ws.submit();
    const b = await ws.submit({ depends_on: [a.id] });
    // Only a hand edit (or another tool) can close a loop: a new task's id does not exist yet.
    await editMetadata(a, { depends_on: [b.id] });
    const error = await ws.submit({ depends_on: [b.id] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toBe(`depends_on would wait on a dependency cycle: ${b.id} -> ${a.id} -> ${b.id}; break the cycle first`);
    // Nothing was written for the refused task.
    expect((await ws.store.list()).length).toBe(2);
  });

  it("max_running: the claim counts live leases of the lane in the queue, other lanes and expired leases aside", async () => {
    const [one, two] = [await ws.submit({ lane: "build" }), await ws.submit({ lane: "build" })];
    const other = await ws.submit({ lane: "docs" });
    await ws.store.claim(one.id, { owner: "d1", leaseSeconds: 60, maxRunning: 1 });
    const full = await claimError(two.id, { maxRunning: 1 });
    expect(full.code).toBe("lane_full");
    expect(full.message).toContain("lane build already runs 1 task(s) (lanes.build.max_running)");
    expect((await ws.store.claim(other.id, { owner: "d2", maxRunning: 1 })).state).toBe("claimed");
    expect((await ws.store.claim(two.id, { owner: "d2", leaseSeconds: 60, maxRunning: 2 })).state).toBe("claimed");
    const three = await ws.submit({ lane: "build" });
    expect((await claimError(three.id, { maxRunning: 2 })).code).toBe("lane_full");
    advance(61_000); // both leases expire: the lane is free again
    expect((await ws.store.claim(three.id, { owner: "d3", maxRunning: 1 })).state).toBe("claimed");
  });
});

describe("the select layer's plan (fake clock)", () => {
  it("orders by priority, holds back what is not due or waits, dooms a failed or missing dependency, and names the next due time", async () => {
    const failedDep = await ws.submit();
    await ws.store.respond(failedDep.id, { body: "tests are red\nmore", status: "failed" });
    const waitingDep = await ws.submit();
    const doomed = await ws.submit({ depends_on: [failedDep.id] });
    const waiting = await ws.submit({ depends_on: [waitingDep.id] });
    const soon = await ws.submit({ not_before: "+10m" });
    const sooner = await ws.submit({ not_before: "+5m" });
    const urgent = await ws.submit({ priority: 9 });
    const selector = createSelector({ store: ws.store, lanes: ["default"], accepts: () => true });
    const selection = await selector.select(now());
    expect(selection.candidates.map((t) => t.id)).toEqual([urgent.id, waitingDep.id]);
    expect(selection.doomed.map((d) => [d.task.id, d.reason])).toEqual([[doomed.id, `dependency ${failedDep.id} failed: tests are red`]]);
    expect(selection.nextDueMs).toBe(clock.getTime() + 5 * 60_000);
    expect(waiting.metadata.depends_on).toEqual([waitingDep.id]);
    advance(10 * 60_000);
    const later = await selector.select(now());
    expect(later.candidates.map((t) => t.id)).toEqual([urgent.id, waitingDep.id, soon.id, sooner.id]);
    expect(later.nextDueMs).toBeNull();
  });

  it("a lane at its WIP limit offers nothing; a cycle written by hand dooms its tasks instead of waiting forever", async () => {
    const running = await ws.submit({ lane: "build" });
    const next = await ws.submit({ lane: "build" });
    await ws.store.claim(running.id, { owner: "x", leaseSeconds: 60 });
    const live = await ws.store.list({ activeOnly: true });
    const limited = await planSchedule({ claimable: [next], live, now: now(), laneLimits: { build: 1 }, lookup: async () => ({ state: "missing" }) });
    expect(limited.ready).toEqual([]);
    const open = await planSchedule({ claimable: [next], live, now: now(), laneLimits: { build: 2 }, lookup: async () => ({ state: "missing" }) });
    expect(open.ready.map((t) => t.id)).toEqual([next.id]);

    const a = await ws.submit();
    const b = await ws.submit({ depends_on: [a.id] });
    await editMetadata(a, { depends_on: [b.id] });
    const selection = await createSelector({ store: ws.store, lanes: ["default"], accepts: () => true }).select(now());
    expect(selection.doomed.map((d) => d.reason).sort()).toEqual([
      `dependency cycle ${a.id} -> ${b.id} -> ${a.id}: no task of it can ever start`,
      `dependency cycle ${b.id} -> ${a.id} -> ${b.id}: no task of it can ever start`,
    ]);
  });

  it("reads values another tool wrote loosely: a numeric string priority, comma-separated depends_on, junk ignored", () => {
    expect(readSchedule({ metadata: { priority: " 7 ", depends_on: "a1, b2 a1", not_before: "soon" } })).toEqual({ notBefore: null, priority: 7, dependsOn: ["a1", "b2"] });
  });
});

describe("a running dispatcher", () => {
  it("wakes for a not_before by timer, with the safety poll an hour away, and never claims before it", async () => {
    await ws.cleanup();
    ws = await makeWorkspace(); // the real clock: the timer is what is under test
    const log = logSink();
    const d = await startDispatcher(
      { vendor: "fake", queueRoot: ws.queue, leaseSeconds: 10, pollSeconds: 3600, graceSeconds: 1 },
      { adapter: await fakeAdapter(), logger: log.logger, sweep: false },
    );
    dispatchers.push(d);
    await new Promise((resolve) => setTimeout(resolve, 200)); // asleep on its hour-long wait
    const t = await ws.submit({ not_before: "+2s", metadata: { agent: "echo" } });
    await waitFor("the task to complete", async () => (await ws.store.get(t.id)).state === "completed", 20_000);
    const done = await ws.store.get(t.id);
    expect(new Date(done.claimed_at as string).getTime()).toBeGreaterThanOrEqual(new Date(t.metadata.not_before as string).getTime());
  });

  it("fails a task whose dependency failed, with a reason naming it, and runs the one whose dependency completed", async () => {
    await ws.cleanup();
    ws = await makeWorkspace();
    const bad = await ws.submit({ metadata: { agent: "crash" } });
    const good = await ws.submit({ metadata: { agent: "echo" } });
    const afterBad = await ws.submit({ depends_on: [bad.id], metadata: { agent: "echo" } });
    const afterGood = await ws.submit({ depends_on: [good.id], metadata: { agent: "echo" } });
    const d = await startDispatcher(
      { vendor: "fake", queueRoot: ws.queue, leaseSeconds: 10, pollSeconds: 0.5, graceSeconds: 1, maxAttempts: 1 },
      { adapter: await fakeAdapter(), logger: logSink().logger, sweep: false },
    );
    dispatchers.push(d);
    await waitFor("the dependants to finish", async () => {
      const states = await Promise.all([afterBad.id, afterGood.id].map(async (id) => (await ws.store.get(id)).state));
      return states.every((s) => s === "completed" || s === "failed");
    });
    const failed = await ws.store.get(afterBad.id);
    expect(failed.state).toBe("failed");
    expect(failed.failure_reason).toMatch(new RegExp(`^dependency ${bad.id} failed: `));
    expect((await ws.store.getResponse(afterBad.id))?.metadata).toMatchObject({ failed_dependency: bad.id });
    expect((await ws.store.readEvents(afterBad.id)).filter((e) => e.type === "claimed")).toEqual([]);
    expect((await ws.store.get(afterGood.id)).state).toBe("completed");
    const goodDone = await ws.store.get(good.id);
    expect(new Date((await ws.store.get(afterGood.id)).claimed_at as string).getTime()).toBeGreaterThanOrEqual(new Date(goodDone.completed_at as string).getTime());
  });
  it("a reload (SIGHUP) takes new lane limits: a second task of a full lane starts once max_running is raised", async () => {
    await ws.cleanup();
    ws = await makeWorkspace();
    const marker = path.join(ws.root, "hold.log");
    // Each run holds until two runs have started: under max_running 1 the first one waits for the reload.
    const tasks = [await ws.submit({ lane: "build", metadata: { agent: "hold", agent_args: [marker, "2", "0"] } }), await ws.submit({ lane: "build", metadata: { agent: "hold", agent_args: [marker, "2", "0"] } })];
    const adapter = await fakeAdapter();
    const d = await startDispatcher(
      { vendor: "fake", queueRoot: ws.queue, lanes: ["build"], concurrency: 2, leaseSeconds: 30, pollSeconds: 0.2, graceSeconds: 1, laneLimits: { build: 1 } },
      { adapter, logger: logSink().logger, sweep: false, reload: async () => ({ adapter, vendorConfig: {}, laneLimits: { build: 2 } }) },
    );
    dispatchers.push(d);
    await waitFor("one run to start", async () => (await fs.readFile(marker, "utf8").catch(() => "")).includes("start"));
    await new Promise((resolve) => setTimeout(resolve, 600)); // several rounds: the lane stays full
    const states = await Promise.all(tasks.map(async (t) => (await ws.store.get(t.id)).state));
    expect(states.sort()).toEqual(["claimed", "queued"]);
    await d.reload();
    for (const t of tasks) await waitFor(`${t.id} to complete`, async () => (await ws.store.get(t.id)).state === "completed");
  });
});

describe("real processes", () => {
  beforeEach(async () => {
    await ws.cleanup();
    ws = await makeWorkspace(); // the real clock, as the processes have
  });

  async function handoff(extra: string): Promise<string> {
    return ws.file("handoff/handoff.yaml", `workspace_id: ws\nworkspace_root: ..\nqueue_root: state\nlanes:\n  default: General\n${extra}`);
  }

  it("submit --at/--after/--priority store the schedule; a cycle and a bad time are one-line errors", async () => {
    const config = await handoff("");
    const run = (args: string[]) => execa(process.execPath, [CLI, "--config", config, ...args], { cwd: ws.root, reject: false });
    await ws.file("req.md", "x\n");
    const submit = async (extra: string[]) => {
      const r = await run(["submit", "--lane", "default", "--request-from", "req.md", "--response-to", "out.md", "--json", ...extra]);
      expect(r.exitCode, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { task: Task }).task;
    };
    const first = await submit([]);
    const second = await submit(["--priority", "3", "--at", "2030-01-01T09:00:00Z", "--after", first.id]);
    expect(second.metadata).toMatchObject({ priority: 3, not_before: "2030-01-01T09:00:00Z", depends_on: [first.id] });
    const relative = await submit(["--at", "+30m"]);
    const delta = new Date(relative.metadata.not_before as string).getTime() - new Date(relative.created_at).getTime();
    expect(Math.abs(delta - 30 * 60_000)).toBeLessThan(60_000);

    await editMetadata(first, { depends_on: [second.id] });
    const cycle = await run(["submit", "--lane", "default", "--request-from", "req.md", "--response-to", "out.md", "--after", second.id]);
    expect(cycle.exitCode).not.toBe(0);
    expect(cycle.stderr.trim().split("\n")).toHaveLength(1);
    expect(cycle.stderr).toContain(`dependency cycle: ${second.id} -> ${first.id} -> ${second.id}`);
    const badTime = await run(["submit", "--lane", "default", "--request-from", "req.md", "--response-to", "out.md", "--at", "soonish"]);
    expect(badTime.exitCode).not.toBe(0);
    expect(badTime.stderr).toMatch(/not_before must be an ISO time/);
    const badPriority = await run(["submit", "--lane", "default", "--request-from", "req.md", "--response-to", "out.md", "--priority", "high"]);
    expect(badPriority.stderr).toMatch(/--priority must be a whole number/);
  });

  it("two dispatcher processes on one queue honour lanes.build.max_running: 1 together", async () => {
    const config = await handoff("  build:\n    description: Builds\n    max_running: 1\n");
    const marker = path.join(ws.root, "overlap.log");
    const tasks: Task[] = [];
    for (let i = 0; i < 4; i += 1) tasks.push(await ws.submit({ lane: "build", metadata: { agent: "sleep", agent_args: ["0.4", marker] } }));
    for (let i = 0; i < 2; i += 1) {
      const cli = startCli(
        ["--config", config, "dispatch", "--vendor", "fake", "--vendor-module", FAKE_ADAPTER, "--lane", "build", "--concurrency", "2", "--lease-seconds", "10", "--poll-seconds", "0.3", "--log-format", "json"],
        { cwd: ws.root },
      );
      clis.push(cli);
    }
    for (const t of tasks) await waitFor(`${t.id} to complete`, async () => (await ws.store.get(t.id)).state === "completed", 30_000);
    const lines = (await fs.readFile(marker, "utf8")).trim().split("\n").map((l) => l.split(" "));
    expect(lines).toHaveLength(8);
    // Runs, by their own start/end marks, never overlap; neither do the queue's claim-to-completion intervals.
    const changes = lines.map(([kind, , at]) => ({ delta: kind === "start" ? 1 : -1, at: Number(at) })).sort((a, b) => a.at - b.at || a.delta - b.delta);
    let live = 0;
    let maxLive = 0;
    for (const c of changes) maxLive = Math.max(maxLive, (live += c.delta));
    expect(maxLive).toBe(1);
    const ms = (iso: string | null): number => new Date(iso as string).getTime();
    const spans = (await Promise.all(tasks.map((t) => ws.store.get(t.id)))).map((t) => [ms(t.claimed_at), ms(t.completed_at)] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i += 1) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  });
});
