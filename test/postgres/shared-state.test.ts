// What dispatchers on different hosts must agree on, on a PostgreSQL queue:
// each "host" here is its own PostgresStore (own pool, own local folder) on
// one embedded server, and the dispatchers are real ones (startDispatcher
// with the fake adapter's agents as child processes). Checked: one
// notification per transition across hosts and restarts; the daily retention
// run by one host only; the --daily-cost-usd budget summed over every host's
// dispatchers of the vendor (and kept across a restart); max_running,
// priority, not_before and depends_on honoured across dispatchers.

import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createNotifier, type Notifier } from "../../src/notify/notifier.js";
import type { NotifyConfig, Sink } from "../../src/notify/types.js";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/store.js";
import type { Task } from "../../src/store/types.js";
import { startRetention } from "../../src/supervisor/retention.js";
import { startDispatcher, type Dispatcher, type StartDispatcherOptions } from "../../src/supervisor/supervisor.js";
import type { VendorAdapter } from "../../vendors/types.js";
import { usePostgres } from "../helpers/postgres.js";
import { fakeAdapter, logSink, waitFor } from "../supervisor/helpers.js";

const server = usePostgres();
let base: string;
let url: string;
let hosts: PostgresStore[] = [];
let dispatchers: Dispatcher[] = [];
let counter = 0;

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), "al-pg-shared-"));
});
afterAll(async () => {
  if (base) await rm(base, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(dispatchers.map((d) => d.forceStop("test over")));
  dispatchers = [];
  await Promise.all(hosts.map((h) => h.close()));
  hosts = [];
});

/** A store standing for one host: its own pool and local folder. */
async function host(name: string): Promise<PostgresStore> {
  const store = await openPostgresStore(url, { localRoot: path.join(base, `${path.basename(url)}-${name}`, "state"), pollMs: 200 });
  hosts.push(store);
  return store;
}

async function submit(store: PostgresStore, overrides: Record<string, unknown> = {}): Promise<Task> {
  counter += 1;
  const { writeFile, mkdir } = await import("node:fs/promises");
  const ws = path.join(base, "submitter");
  await mkdir(path.join(ws, "requests"), { recursive: true });
  const request = path.join(ws, "requests", `r${counter}.md`);
  await writeFile(request, `request ${counter}\n`);
  return store.create({ workspace_id: "ws", correlation_id: `t${counter}`, lane: "default", workspace_root: ws, request_path: request, response_path: `responses/r${counter}.md`, ...overrides });
}

async function dispatch(store: PostgresStore, options: Partial<StartDispatcherOptions>, adapter?: VendorAdapter): Promise<Dispatcher> {
  const d = await startDispatcher(
    { vendor: "fake", queueRoot: url, leaseSeconds: 30, pollSeconds: 0.3, killGraceSeconds: 0.3, graceSeconds: 1, pauseJitterSeconds: 0, ...options },
    { store, adapter: adapter ?? (await fakeAdapter()), logger: logSink().logger, sweep: false },
  );
  dispatchers.push(d);
  return d;
}

async function sql<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

const allDone = (store: PostgresStore, ids: string[], timeoutMs = 60_000) =>
  waitFor("every task answered", async () => (await Promise.all(ids.map((id) => store.get(id)))).every((t) => t.state === "completed"), timeoutMs, 100);

describe("PostgreSQL queue: state shared across hosts", () => {
  beforeAll(async () => {
    url = await server.freshDatabase();
  });

  it("a vendor pause read by dispatchers on several hosts is notified once, also after a restart; another sink gets its own", async () => {
    const [a, b, c] = [await host("a"), await host("b"), await host("c")];
    const sent: string[] = [];
    const sink = (id: string): Sink => ({ id, send: async (n) => void sent.push(`${id} ${n.key}`) });
    const config = (n: number): NotifyConfig =>
      ({ sinks: Array.from({ length: n }, () => ({ spec: { kind: "webhook", url: "http://127.0.0.1:9/hook" }, events: [], lanes: [] })), rateLimit: { max: 100, perSeconds: 60 }, timeoutMs: 1000 }) as unknown as NotifyConfig;
    const quiet = { warn: () => undefined, info: () => undefined };
    const notifierOf = (store: PostgresStore, sinks: Sink[]): Notifier =>
      createNotifier({ config: config(sinks.length), queueRoot: store.root, shared: store.shared, log: quiet, sinks, batchMs: 10 });
    // Every dispatcher of the vendor reads the same pause (on each host).
    const event = { type: "vendor.paused" as const, vendor: "fake", kind: "usage-limit", until: "2026-11-26T05:00:00Z", reason: "limit", owner: "x" };
    const notifiers = [notifierOf(a, [sink("webhook team")]), notifierOf(b, [sink("webhook team")])];
    for (const n of notifiers) n.observe(event);
    await Promise.all(notifiers.map((n) => n.close()));
    // "Restarted" on a third host, with the team's sink and a sink of its own.
    const later = notifierOf(c, [sink("webhook team"), sink("desktop c")]);
    later.observe(event);
    await later.close();
    const key = sent[0]?.split(" ").at(-1) as string;
    expect(key).toMatch(/^vendor\.paused:fake:/);
    expect(sent.sort()).toEqual([`desktop c ${key}`, `webhook team ${key}`]);
    expect((await sql<{ n: string }>("SELECT count(*)::text AS n FROM agent_lanes.notifications_sent"))[0]?.n).toBe("2");
    // Each host's own folder holds no marker: the database does.
    for (const store of [a, b, c]) expect(existsSync(path.join(store.root, "notify", "sent"))).toBe(false);
  });

  it("the daily retention runs on one host only, on the database's clock", async () => {
    const [a, b] = [await host("ra"), await host("rb")];
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const t = await submit(a, { lane: "retained" });
      const claimed = await a.claim(t.id, { owner: "w" });
      const done = await a.respond(t.id, { claimToken: claimed.claim_token, body: "ok\n" });
      await a.writeResponseOutput(done.task, done.response);
      ids.push(t.id);
    }
    const logs = [logSink("info"), logSink("info")];
    const runs = [a, b].map((store, i) =>
      startRetention({ store, policy: { olderThanMs: 0, lane: "retained" }, log: (logs[i] as ReturnType<typeof logSink>).logger, firstDelayMs: 0 }),
    );
    await waitFor("a retention turn", () => logs.some((l) => l.find("retention: pruned").length > 0), 20_000);
    await new Promise((r) => setTimeout(r, 300));
    runs.forEach((r) => r.stop());
    await Promise.all(runs.map((r) => r.done()));
    const pruneLines = logs.flatMap((l) => l.find("retention: pruned"));
    expect(pruneLines).toHaveLength(1);
    expect(pruneLines[0]?.pruned).toBe(3);
    for (const id of ids) await expect(a.get(id)).rejects.toThrow(/unknown task/);
    // The turn is the database's: a third "host" starting now waits about a day.
    const turn = await (await host("rc")).shared?.takeTurn("retention", 24 * 3600_000);
    expect(turn?.due).toBe(false);
    expect(turn?.inMs).toBeGreaterThan(23 * 3600_000);
  });

  it("--daily-cost-usd holds for every host's dispatchers of the vendor together, and across a restart", async () => {
    const [a, b, c] = [await host("ba"), await host("bb"), await host("bc")];
    const ids = [];
    for (let i = 0; i < 8; i += 1) ids.push((await submit(a, { lane: "paid" })).id);
    const adapter = await fakeAdapter({ costUsd: 0.6 });
    const options = { lanes: ["paid"], dailyCostUsd: 1, concurrency: 1 };
    const da = await dispatch(a, { ...options, owner: "fake@host-a" }, adapter);
    const db = await dispatch(b, { ...options, owner: "fake@host-b" }, adapter);
    await waitFor("both dispatchers paused by the budget", () => [da, db].every((d) => d.stats().pause?.startsWith("budget")), 30_000, 100);
    await new Promise((r) => setTimeout(r, 500));
    const finished = (await Promise.all(ids.map((id) => a.get(id)))).filter((t) => t.state === "completed");
    // $0.60 a run, $1 a day: two runs reach the ceiling. The dispatcher that records last sees both costs;
    // the other may have claimed one more before it did. (Budgets per dispatcher would allow four.)
    expect(finished.length).toBeGreaterThanOrEqual(2);
    expect(finished.length).toBeLessThanOrEqual(3);
    const rows = await sql<{ owner: string; cost_usd: number; task_id: string }>("SELECT owner, cost_usd, task_id FROM agent_lanes.costs WHERE vendor = 'fake'");
    expect(rows.map((r) => r.task_id).sort()).toEqual(finished.map((t) => t.id).sort());
    expect(new Set(rows.map((r) => r.owner))).toEqual(new Set(["fake@host-a", "fake@host-b"]));
    // A dispatcher (re)started on a third host reads today's spending from the database and does not claim.
    const dc = await dispatch(c, { ...options, owner: "fake@host-c" }, adapter);
    await waitFor("the new dispatcher paused by the budget", () => dc.stats().pause?.startsWith("budget"), 10_000, 50);
    await new Promise((r) => setTimeout(r, 800));
    expect(dc.stats().claimed).toBe(0);
    expect(dc.stats().pausedUntil).not.toBeNull();
  });

  it("max_running, priority, not_before and depends_on hold across dispatchers on different hosts", async () => {
    const [a, b, c, d] = [await host("sa"), await host("sb"), await host("sc"), await host("sd")];
    const marker = path.join(base, "overlap.log");
    const sleep = (extra: Record<string, unknown> = {}) => ({ metadata: { agent: "sleep", agent_args: ["0.3", marker], ...extra } });
    const notBefore = new Date(Date.now() + 2500).toISOString();
    const early = await submit(a, { lane: "serial", ...sleep(), correlation_id: "low-1" });
    const later = await submit(a, { lane: "serial", ...sleep(), correlation_id: "low-2" });
    const urgent = await submit(a, { lane: "serial", ...sleep(), correlation_id: "high", priority: 5 });
    const timed = await submit(a, { lane: "serial", ...sleep(), correlation_id: "timed", not_before: notBefore });
    const after = await submit(a, { lane: "serial", ...sleep(), correlation_id: "after", depends_on: [timed.id], priority: 9 });
    const options = { lanes: ["serial"], concurrency: 2, laneLimits: { serial: 1 } };
    for (const [store, name] of [[b, "b"], [c, "c"], [d, "d"]] as const) await dispatch(store, { ...options, owner: `fake@host-${name}` });
    const ids = [early.id, later.id, urgent.id, timed.id, after.id];
    await allDone(a, ids);

    // Never two runs of the lane at once, although three dispatchers with two slots each served it.
    const lines = (await readFile(marker, "utf8")).trim().split("\n").map((l) => l.split(" "));
    let runningNow = 0;
    let most = 0;
    for (const [kind] of lines) {
      runningNow += kind === "start" ? 1 : -1;
      most = Math.max(most, runningNow);
    }
    expect(lines.filter(([k]) => k === "start")).toHaveLength(5);
    expect(most).toBe(1);

    // Claim order on the database clock: priority first, then age; not_before and the dependency held.
    const claimedAt = async (id: string) => (await a.readEvents(id)).find((e) => e.type === "claimed")?.created_at as string;
    const at = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await claimedAt(id)] as const)));
    const order = [...ids].sort((x, y) => ((at[x] as string) < (at[y] as string) ? -1 : 1));
    expect(order.slice(0, 3)).toEqual([urgent.id, early.id, later.id]);
    expect(order.slice(3)).toEqual([timed.id, after.id]);
    expect(at[timed.id] as string >= notBefore.replace(/\.(\d{3})Z$/, ".$1000Z")).toBe(true);
    const timedDone = (await a.get(timed.id)).completed_at as string;
    expect(at[after.id] as string > timedDone).toBe(true);
  }, 90_000);
});
