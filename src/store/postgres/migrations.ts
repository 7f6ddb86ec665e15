// The PostgreSQL queue's schema, as numbered migrations. Everything lives in
// the `agent_lanes` schema of the database, so the queue can share a database
// with other applications. Rules for whoever adds one:
//   - append a migration with the next version; never edit or renumber one
//     that has shipped (a database records which versions it has applied);
//   - never destructive: no DROP, TRUNCATE or DELETE of queue data, no column
//     type change that loses information (test/store/postgres-migrations.test.ts
//     checks the words); add columns and tables, backfill with UPDATE;
//   - a build refuses a database whose schema is newer than it knows
//     (SchemaError), so old dispatchers never write rows they do not understand.
// `migrate()` applies what is missing in one transaction under an advisory
// lock, so concurrent dispatchers starting on a fresh database are safe.

import type pg from "pg";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Advisory lock key of migrations (any constant; "agent-lanes" in ASCII, folded to 63 bits). */
export const MIGRATION_LOCK_KEY = "6757319432094528114";

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "queue tables",
    sql: `
-- One row per task. doc holds the task exactly as task.json does
-- (PROTOCOL.md §4, unknown keys included); the other columns copy what the
-- queries filter and sort on, and are written with doc in one statement.
CREATE TABLE agent_lanes.tasks (
  id text PRIMARY KEY,
  lane text NOT NULL,
  state text NOT NULL CHECK (state IN ('queued', 'claimed', 'completed', 'failed')),
  workspace_id text NOT NULL,
  correlation_id text NOT NULL,
  -- created_at in microseconds since the epoch: the listing order (then id).
  created_us bigint NOT NULL,
  -- The lease's end on the database clock (claimed tasks only).
  lease_expires_at timestamptz,
  -- When the task became completed or failed (retention).
  finished_at timestamptz,
  doc jsonb NOT NULL
);
CREATE INDEX tasks_order ON agent_lanes.tasks (created_us, id);
CREATE INDEX tasks_live ON agent_lanes.tasks (lane, created_us, id) WHERE state IN ('queued', 'claimed');
CREATE INDEX tasks_correlation ON agent_lanes.tasks (workspace_id, correlation_id);
CREATE INDEX tasks_finished ON agent_lanes.tasks (finished_at) WHERE state IN ('completed', 'failed');

-- events.jsonl: one row per event, in seq order per task.
CREATE TABLE agent_lanes.events (
  seq bigserial PRIMARY KEY,
  task_id text NOT NULL REFERENCES agent_lanes.tasks (id) ON DELETE CASCADE,
  created_at text NOT NULL,
  type text NOT NULL,
  message text NOT NULL,
  data jsonb NOT NULL
);
CREATE INDEX events_task ON agent_lanes.events (task_id, seq);

-- response.json. fetched_at is set when a waiter wrote the body to
-- response_path on its host (prune keeps unfetched answers).
CREATE TABLE agent_lanes.responses (
  task_id text PRIMARY KEY REFERENCES agent_lanes.tasks (id) ON DELETE CASCADE,
  doc jsonb NOT NULL,
  answered_at timestamptz NOT NULL DEFAULT now(),
  fetched_at timestamptz
);

-- The request (position 0) and supporting files (1..n) as submitted: hosts
-- share no files, so the dispatcher materialises these for the agent.
CREATE TABLE agent_lanes.files (
  task_id text NOT NULL REFERENCES agent_lanes.tasks (id) ON DELETE CASCADE,
  position integer NOT NULL,
  role text NOT NULL CHECK (role IN ('request', 'supporting')),
  path text NOT NULL,
  sha256 text NOT NULL,
  content bytea NOT NULL,
  PRIMARY KEY (task_id, position)
);

-- Vendor pauses (supervisor/pauses.ts): doc is the pause file's JSON.
CREATE TABLE agent_lanes.pauses (
  vendor text PRIMARY KEY,
  doc jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
`,
  },
  {
    version: 2,
    name: "shared dispatcher state",
    sql: `
-- What every dispatcher of the queue must agree on, whatever host it runs on
-- (store/postgres/shared.ts): notifications already sent, the cost the
-- vendors' CLIs reported (the daily budget), and periodic jobs' last runs
-- (the daily retention). Times are the database's now().
CREATE TABLE agent_lanes.notifications_sent (
  -- sha256 of the sink id and the notification key (postgres/shared.ts).
  marker text PRIMARY KEY,
  sent_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_sent_at ON agent_lanes.notifications_sent (sent_at);

CREATE TABLE agent_lanes.costs (
  seq bigserial PRIMARY KEY,
  vendor text NOT NULL,
  owner text NOT NULL,
  task_id text,
  cost_usd double precision NOT NULL CHECK (cost_usd >= 0),
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX costs_vendor_day ON agent_lanes.costs (vendor, recorded_at);

CREATE TABLE agent_lanes.periodic (
  name text PRIMARY KEY,
  last_run_at timestamptz NOT NULL
);
`,
  },
];

/** The newest schema this build knows. */
export const SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

/** The schema's state in one database. */
export interface SchemaState {
  /** Highest applied version (0: never migrated). */
  current: number;
  /** What this build knows. */
  latest: number;
}

type Queryable = Pick<pg.PoolClient, "query">;

/** The applied version; 0 when agent_lanes.schema_migrations does not exist. */
export async function schemaVersion(db: Queryable): Promise<number> {
  const exists = await db.query<{ t: string | null }>("SELECT to_regclass('agent_lanes.schema_migrations')::text AS t");
  if (!exists.rows[0]?.t) return 0;
  const { rows } = await db.query<{ v: number | null }>("SELECT max(version) AS v FROM agent_lanes.schema_migrations");
  return rows[0]?.v ?? 0;
}

export interface MigrateResult {
  /** Version before. */
  from: number;
  /** Version after. */
  to: number;
  /** Migrations applied now, in order. */
  applied: Array<{ version: number; name: string }>;
}

/**
 * Apply every missing migration in one transaction, holding an advisory lock
 * (a concurrent migrator waits, then finds nothing to do). Refuses a schema
 * newer than this build: `tooNew` builds the error.
 */
export async function migrate(client: pg.PoolClient, tooNew: (current: number) => Error): Promise<MigrateResult> {
  await client.query("BEGIN");
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await client.query("CREATE SCHEMA IF NOT EXISTS agent_lanes");
    await client.query(
      "CREATE TABLE IF NOT EXISTS agent_lanes.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const from = await schemaVersion(client);
    if (from > SCHEMA_VERSION) throw tooNew(from);
    const applied: MigrateResult["applied"] = [];
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      await client.query(m.sql);
      await client.query("INSERT INTO agent_lanes.schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      applied.push({ version: m.version, name: m.name });
    }
    await client.query("COMMIT");
    return { from, to: Math.max(from, SCHEMA_VERSION), applied };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
