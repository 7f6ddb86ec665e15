// PostgresStore: the Store interface over a PostgreSQL database, for queues
// that dispatchers and submitters on many hosts share (issue 18). Same
// operations, states, rules, error classes and messages, and JSON shapes as
// the file store: the rules themselves are the file store's functions
// (claim.ts, respond.ts, cancel.ts, release.ts, renew.ts, create.ts), only the
// reading and writing differ.
//
// How it maps (schema in migrations.ts):
//   - every transition is one transaction that locks the task's row
//     (SELECT … FOR UPDATE; a claim first tries SKIP LOCKED so a dispatcher
//     never queues behind another's claim of the same task), writes the row,
//     its event and a NOTIFY, and commits: there is no half-written task;
//   - the clock of leases and timestamps is the database's now(), never a
//     host's, so hosts with skewed clocks agree on who holds a lease;
//   - the request and supporting files are read at submit and kept in
//     agent_lanes.files (size-capped and hashed as the file store does); the
//     request is therefore never "changed after submit" here: what was
//     submitted is what the dispatcher materialises (requestFiles());
//   - the response body is kept in agent_lanes.responses; writeResponseOutput
//     writes it on the waiting host and records it as fetched (prune keeps
//     unfetched answers);
//   - `root` is a folder on this host (url.ts localStateDir) for what never
//     leaves it: run records of this host's dispatchers, notification markers.

import pg from "pg";
import { trustDeferredExtraCaCerts } from "../../extra-ca-certs.js";
import { checkClaimInput, checkLeaseSeconds, claimedTask, DEFAULT_LEASE_SECONDS, refuseUnclaimable, refuseUnscheduled } from "../claim.js";
import { cancelResponse, checkCancelInput, refuseCancel } from "../cancel.js";
import { isClaimable } from "../context.js";
import { newTask, validateCreate } from "../create.js";
import { StoreError, StoreUnavailableError, SchemaVersionError, UnknownTaskError, ValidationError } from "../errors.js";
import { checkedEvents, checkEventInput } from "../events.js";
import { assertTaskId, makeTaskId } from "../layout.js";
import { assertPauseVendor, pauseFromJson, type PauseBackend, type PauseRecord } from "../pause-records.js";
import { checkPruneOptions, choosePrune, finishedAt, type PrunedTask, type PruneOptions, type PruneResult } from "../prune.js";
import { checkReleaseReason, released } from "../release.js";
import { assertClaimHolder } from "../renew.js";
import { checkRespondInput, finished, refuseResponse, type ResponseFields } from "../respond.js";
import { writeResponseBody } from "../response-output.js";
import { derivedReads } from "../derived.js";
import { FactsFold, factOf, timesOf, type FinishedFactsOptions, type FinishedFactsResult } from "../finished-facts.js";
import { waitLoop } from "../wait.js";
import { DEFAULT_REQUEST_MAX_BYTES } from "../safe-file.js";
import { byPriority, readSchedule, readyToRun } from "../schedule.js";
import { formatIdStamp, formatIso } from "../time.js";
import type {
  AvailableOptions,
  ChangeNotifier,
  EventInput,
  ListOptions,
  RespondResult,
  Store,
  StoredFile,
  Task,
  TaskEvent,
  TaskResponse,
  TaskSummary,
  WaitOptions,
} from "../types.js";
import { migrate, schemaVersion, SCHEMA_VERSION, type MigrateResult } from "./migrations.js";
import { CHANNEL, createPgNotifier } from "./notifier.js";
import { localStateDir } from "./local-dir.js";
import { createSharedLedger } from "./shared.js";
import { maskUrl } from "./url.js";

export interface PostgresStoreOptions {
  /** Safety poll of waiters when no notification arrives. @default 2000 */
  pollMs?: number;
  /** Largest request or supporting file carried. @default 8 MiB (DEFAULT_REQUEST_MAX_BYTES) */
  requestMaxBytes?: number;
  /**
   * Apply missing migrations on open (dispatch, serve, migrate). Without it a
   * schema older than this build is an error naming `agent-lanes migrate`.
   */
  migrate?: boolean;
  /** Connections of the pool. @default 4 */
  poolSize?: number;
  /** Host-local folder (the Store's `root`). @default localStateDir(url) */
  localRoot?: string;
}

/** A PostgreSQL-backed Store, with the migration result of its opening. */
export interface PostgresStore extends Store {
  readonly kind: "postgres";
  /** The URL, password masked. */
  readonly location: string;
  /** Migrations applied when this store was opened (empty unless `migrate`). */
  readonly migrated: MigrateResult | null;
}

/** SQLSTATE classes and Node error codes that mean "the server cannot be reached". */
const UNREACHABLE = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "57P01", "57P02", "57P03"]);

function errorCode(error: unknown): string {
  return String((error as { code?: unknown })?.code ?? "");
}

/** Whether `error` says the server could not be reached (or went away). */
export function isUnreachable(error: unknown): boolean {
  const code = errorCode(error);
  if (UNREACHABLE.has(code) || code.startsWith("08") || code.startsWith("28") || code === "3D000") return true;
  const message = error instanceof Error ? error.message : String(error);
  return /Connection terminated|connect ECONNREFUSED|timeout expired|Client has encountered a connection error/i.test(message);
}

function microsOf(text: string | number | bigint): bigint {
  return BigInt(text);
}

function dateOf(micros: bigint): Date {
  return new Date(Number(micros / 1000n));
}

/** The listing order key of a task id's own timestamp (a cursor whose task is gone): µs since the epoch, or -1. */
function microsFromId(id: string): bigint {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{6})Z/.exec(id);
  if (!m) return -1n;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return BigInt(ms) * 1000n + BigInt(Number(m[7]));
}

type Client = pg.PoolClient;

/** Open the queue in the database at `url`: connects, checks (or with `migrate` brings up to date) the schema. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const shown = maskUrl(url);
  const pollMs = options.pollMs ?? 2000;
  const requestMaxBytes = options.requestMaxBytes ?? DEFAULT_REQUEST_MAX_BYTES;
  const unreachable = (error: unknown): StoreUnavailableError =>
    new StoreUnavailableError(
      `cannot reach the PostgreSQL queue at ${shown}: ${error instanceof Error ? error.message : String(error)} ` +
        "(start the server or fix the URL in --store, queue_root or AGENT_LANES_STORE; the password can come from PGPASSWORD or ~/.pgpass)",
      { cause: error },
    );
  trustDeferredExtraCaCerts(); // sslmode in the URL: TLS with the user's extra CA certificates
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 4, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 10_000 });
  // An idle connection dropped by a restarting server must not crash the process; the next query reconnects.
  pool.on("error", () => undefined);

  /** Map driver errors to the store's: an unreachable server, text PostgreSQL cannot hold. */
  const mapError = (error: unknown): unknown => {
    if (error instanceof StoreError) return error;
    const code = errorCode(error);
    if (code === "22P05" || code === "22021") {
      return new ValidationError(`PostgreSQL cannot store this value: ${(error as Error).message} (a NUL character in a text or JSON field?)`);
    }
    if (isUnreachable(error)) return unreachable(error);
    return error;
  };

  // A checked-out client has no error listener of the pool's: a server that
  // ends the connection between two statements of a transaction (a restart)
  // would emit an unhandled 'error' and end the process. The statement in
  // flight, or the next one, fails instead, and the pool drops the client.
  const guarded = new WeakSet<Client>();
  const connect = async (): Promise<Client> => {
    try {
      const client = await pool.connect();
      if (!guarded.has(client)) {
        guarded.add(client);
        client.on("error", () => undefined);
      }
      return client;
    } catch (error) {
      throw mapError(error);
    }
  };

  let migrated: MigrateResult | null = null;
  const tooNew = (current: number): SchemaVersionError =>
    new SchemaVersionError(
      `the PostgreSQL queue at ${shown} has schema version ${current}, newer than this agent-lanes knows (${SCHEMA_VERSION}): upgrade agent-lanes on this host`,
      current,
      SCHEMA_VERSION,
    );
  {
    const client = await connect();
    try {
      if (options.migrate) {
        migrated = await migrate(client, tooNew);
      } else {
        const current = await schemaVersion(client);
        if (current > SCHEMA_VERSION) throw tooNew(current);
        if (current < SCHEMA_VERSION) {
          const what = current === 0 ? "has no agent-lanes tables yet" : `has schema version ${current}, older than this agent-lanes (${SCHEMA_VERSION})`;
          throw new SchemaVersionError(`the PostgreSQL queue at ${shown} ${what}: run \`agent-lanes migrate --store ${shown}\` (dispatch and serve migrate by themselves)`, current, SCHEMA_VERSION);
        }
      }
    } catch (error) {
      client.release();
      await pool.end().catch(() => undefined);
      throw mapError(error);
    }
    client.release();
  }

  let notifier: Promise<ChangeNotifier> | undefined;
  let closed: Promise<void> | undefined;

  /** A statement outside any transaction. */
  async function query<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await pool.query<R>(text, params);
    } catch (error) {
      throw mapError(error);
    }
  }

  /** Run `body` in one transaction; `now` is the database's now() in µs. Wakes this process's waiters after the commit. */
  async function tx<T>(body: (c: Client, now: bigint) => Promise<T>): Promise<T> {
    const c = await connect();
    try {
      await c.query("BEGIN");
      const { rows } = await c.query<{ us: string }>("SELECT (extract(epoch FROM now()) * 1000000)::bigint::text AS us");
      const result = await body(c, microsOf((rows[0] as { us: string }).us));
      await c.query("COMMIT");
      void notifier?.then((n) => n.bump(), () => undefined);
      return result;
    } catch (error) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw mapError(error);
    } finally {
      c.release();
    }
  }

  const notify = (c: Client, payload: string): Promise<unknown> => c.query("SELECT pg_notify($1, $2)", [CHANNEL, payload]);

  /** Append an event in the caller's transaction. */
  async function addEvent(c: Client, taskId: string, now: bigint, input: EventInput): Promise<TaskEvent> {
    const event: TaskEvent = { created_at: formatIso(now), type: input.type, message: input.message ?? "", data: input.data ?? {} };
    await c.query("INSERT INTO agent_lanes.events (task_id, created_at, type, message, data) VALUES ($1, $2, $3, $4, $5::jsonb)", [
      taskId,
      event.created_at,
      event.type,
      event.message,
      JSON.stringify(event.data),
    ]);
    return event;
  }

  /** The task's row, locked for this transaction; UnknownTaskError when there is none. */
  async function lockTask(c: Client, taskId: string, skipLocked = false): Promise<Task | null> {
    const { rows } = await c.query<{ doc: Task }>(
      `SELECT doc FROM agent_lanes.tasks WHERE id = $1 FOR UPDATE${skipLocked ? " SKIP LOCKED" : ""}`,
      [taskId],
    );
    if (rows[0]) return rows[0].doc;
    if (skipLocked) {
      const exists = await c.query("SELECT 1 FROM agent_lanes.tasks WHERE id = $1", [taskId]);
      if (exists.rowCount === 0) throw new UnknownTaskError(taskId);
      return null;
    }
    throw new UnknownTaskError(taskId);
  }

  /**
   * Rewrite a task's row. `lease`: seconds from the database's now() for a
   * claim or renew, "clear" when the claim ends, "keep" otherwise.
   */
  async function saveTask(c: Client, task: Task, lease: number | "clear" | "keep"): Promise<void> {
    const leaseSql = lease === "keep" ? "lease_expires_at" : lease === "clear" ? "NULL" : "now() + make_interval(secs => $4)";
    const params: unknown[] = [task.id, task.state, JSON.stringify(task)];
    if (typeof lease === "number") params.push(lease);
    await c.query(
      `UPDATE agent_lanes.tasks SET state = $2, doc = $3::jsonb, lease_expires_at = ${leaseSql},
         finished_at = CASE WHEN $2 IN ('completed', 'failed') THEN coalesce(finished_at, now()) ELSE NULL END
       WHERE id = $1`,
      params,
    );
  }

  const leaseEnd = (now: bigint, seconds: number): string => formatIso(now + BigInt(Math.round(seconds * 1_000_000)));

  /** Record a response (its row, its event, the finished task) in the caller's transaction. */
  async function recordResponse(
    c: Client,
    task: Task,
    now: bigint,
    fields: ResponseFields,
    event: { message?: string; data?: Record<string, unknown> } = {},
    /** The caller's events (RespondInput.events), logged just before the response event. */
    extra: readonly EventInput[] = [],
  ): Promise<RespondResult> {
    const stamp = formatIso(now);
    const response: TaskResponse = { task_id: task.id, ...fields, created_at: stamp };
    const done = finished(task, response, stamp);
    await c.query("INSERT INTO agent_lanes.responses (task_id, doc) VALUES ($1, $2::jsonb)", [task.id, JSON.stringify(response)]);
    for (const e of extra) await addEvent(c, task.id, now, e);
    await addEvent(c, task.id, now, {
      type: "response",
      message: event.message ?? `${response.status} response from ${response.reviewer}`,
      data: { reviewer: response.reviewer, ...event.data },
    });
    await saveTask(c, done, "keep");
    await notify(c, task.id);
    return { task: done, response };
  }

  async function get(taskId: string): Promise<Task> {
    assertTaskId(taskId);
    const { rows } = await query<{ doc: Task }>("SELECT doc FROM agent_lanes.tasks WHERE id = $1", [taskId]);
    if (!rows[0]) throw new UnknownTaskError(taskId);
    return rows[0].doc;
  }

  async function dbNow(): Promise<bigint> {
    const { rows } = await query<{ us: string }>("SELECT (extract(epoch FROM now()) * 1000000)::bigint::text AS us");
    return microsOf((rows[0] as { us: string }).us);
  }

  async function create(input: Parameters<Store["create"]>[0]): Promise<Task> {
    const { fields, contents } = await validateCreate(input, {
      requestMaxBytes,
      now: dateOf(await dbNow()),
      lookup: (id) =>
        get(id).catch((error) => {
          if (error instanceof UnknownTaskError) return null;
          throw error;
        }),
      keepContent: true,
    });
    return tx(async (c, now) => {
      // The id embeds the microsecond; if another writer took the same one, move on a microsecond.
      let micros = now;
      let task: Task;
      for (;;) {
        const id = makeTaskId(formatIdStamp(micros), fields.correlation_id, fields.request_sha256);
        task = newTask(id, fields, formatIso(micros));
        const inserted = await c.query(
          `INSERT INTO agent_lanes.tasks (id, lane, state, workspace_id, correlation_id, created_us, doc)
           VALUES ($1, $2, 'queued', $3, $4, $5, $6::jsonb) ON CONFLICT (id) DO NOTHING`,
          [id, fields.lane, fields.workspace_id, fields.correlation_id, micros.toString(), JSON.stringify(task)],
        );
        if (inserted.rowCount === 1) break;
        micros += 1n;
      }
      const files: Array<[string, string, string, Buffer]> = [["request", fields.request_path, fields.request_sha256, contents.request as Buffer]];
      fields.supporting_paths.forEach((s, i) => files.push(["supporting", s.path, s.sha256, contents.supporting[i] as Buffer]));
      for (const [position, [role, file, sha, content]] of files.entries()) {
        await c.query("INSERT INTO agent_lanes.files (task_id, position, role, path, sha256, content) VALUES ($1, $2, $3, $4, $5, $6)", [
          task.id,
          position,
          role,
          file,
          sha,
          content,
        ]);
      }
      await addEvent(c, task.id, micros, { type: "created", message: `task created on lane ${fields.lane}`, data: { lane: fields.lane } });
      await notify(c, task.id);
      return task;
    });
  }

  /** Live leases of `lane`, counted under the lane's advisory lock (held to the end of the transaction). */
  async function laneRunning(c: Client, lane: string): Promise<number> {
    await c.query("SELECT pg_advisory_xact_lock(hashtext('agent_lanes.lane'), hashtext($1))", [lane]);
    const { rows } = await c.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM agent_lanes.tasks WHERE lane = $1 AND state = 'claimed' AND lease_expires_at > now()",
      [lane],
    );
    return Number((rows[0] as { n: string }).n);
  }

  async function claim(taskId: string, input: Parameters<Store["claim"]>[1]): Promise<Task> {
    assertTaskId(taskId);
    const { owner, leaseSeconds, maxRunning } = checkClaimInput(taskId, input);
    return tx(async (c, now) => {
      // SKIP LOCKED: a row another transaction holds is not waited for at once;
      // when the caller still wants this very task, it then waits its turn and
      // sees the outcome (so the loser of a race hears who won).
      const task = (await lockTask(c, taskId, true)) ?? ((await lockTask(c, taskId)) as Task);
      const at = dateOf(now);
      refuseUnclaimable(task, at);
      const stateOf = async (dep: string): Promise<string> => {
        const { rows } = await c.query<{ state: string }>("SELECT state FROM agent_lanes.tasks WHERE id = $1", [dep]);
        return rows[0]?.state ?? "missing";
      };
      await refuseUnscheduled(stateOf, task, at, maxRunning, (lane) => laneRunning(c, lane));
      const stamp = formatIso(now);
      const claimed = claimedTask(task, owner, stamp, leaseEnd(now, leaseSeconds));
      await addEvent(c, taskId, now, { type: "claimed", message: `claimed by ${owner}`, data: { owner } });
      if (input.events) {
        // The caller's events, right after `claimed` in the same transaction (whose rows it reads, `claimed` included).
        const history = await eventsOf(c, taskId);
        for (const event of checkedEvents(taskId, input.events(claimed, history))) await addEvent(c, taskId, now, event);
      }
      await saveTask(c, claimed, leaseSeconds);
      await notify(c, taskId);
      return claimed;
    });
  }

  async function renew(taskId: string, input: Parameters<Store["renew"]>[1]): Promise<Task> {
    assertTaskId(taskId);
    const leaseSeconds = checkLeaseSeconds(input.leaseSeconds ?? DEFAULT_LEASE_SECONDS);
    return tx(async (c, now) => {
      const task = (await lockTask(c, taskId)) as Task;
      assertClaimHolder(task, input.claimToken, "renew");
      const renewed: Task = { ...task, lease_expires_at: leaseEnd(now, leaseSeconds), updated_at: formatIso(now) };
      await addEvent(c, taskId, now, { type: "renewed", message: `lease renewed by ${task.claim_owner ?? "unknown"}`, data: { owner: task.claim_owner } });
      await saveTask(c, renewed, leaseSeconds);
      await notify(c, taskId);
      return renewed;
    });
  }

  async function release(taskId: string, input: Parameters<Store["release"]>[1]): Promise<Task> {
    assertTaskId(taskId);
    const reason = checkReleaseReason(taskId, input);
    return tx(async (c, now) => {
      const task = (await lockTask(c, taskId)) as Task;
      assertClaimHolder(task, input.claimToken, "release");
      const next = released(task, reason, formatIso(now));
      await addEvent(c, taskId, now, next.event);
      await saveTask(c, next.task, "clear");
      await notify(c, taskId);
      return next.task;
    });
  }

  async function respond(taskId: string, input: Parameters<Store["respond"]>[1]): Promise<RespondResult> {
    assertTaskId(taskId);
    const { expectSha, ...fields } = checkRespondInput(taskId, input);
    const extra = checkedEvents(taskId, input.events ?? []);
    return tx(async (c, now) => {
      const task = (await lockTask(c, taskId)) as Task;
      refuseResponse(task, input.claimToken, expectSha);
      // The request is the bytes carried since submit: it cannot have changed.
      return recordResponse(c, task, now, { ...fields, reviewed_request_sha256: task.request_sha256, request_changed_before_response: false }, {}, extra);
    });
  }

  async function cancel(taskId: string, input: Parameters<Store["cancel"]>[1] = {}): Promise<RespondResult> {
    assertTaskId(taskId);
    const { by, reason } = checkCancelInput(taskId, input);
    return tx(async (c, now) => {
      const task = (await lockTask(c, taskId)) as Task;
      refuseCancel(task);
      const { fields, event } = cancelResponse(task, by, reason, task.request_sha256);
      return recordResponse(c, task, now, fields, event);
    });
  }

  async function appendEvent(taskId: string, event: EventInput): Promise<TaskEvent> {
    assertTaskId(taskId);
    checkEventInput(taskId, event);
    return tx(async (c, now) => {
      // KEY SHARE: transitions may go on meanwhile; only a prune's delete waits.
      const { rowCount } = await c.query("SELECT 1 FROM agent_lanes.tasks WHERE id = $1 FOR KEY SHARE", [taskId]);
      if (rowCount === 0) throw new UnknownTaskError(taskId);
      const written = await addEvent(c, taskId, now, event);
      await notify(c, taskId);
      return written;
    });
  }

  async function readEvents(taskId: string): Promise<TaskEvent[]> {
    assertTaskId(taskId);
    return eventsOf(null, taskId);
  }

  /** A task's events, oldest first (inside transaction `c`, or on the pool). */
  async function eventsOf(c: Client | null, taskId: string): Promise<TaskEvent[]> {
    const sql = "SELECT created_at, type, message, data FROM agent_lanes.events WHERE task_id = $1 ORDER BY seq";
    const { rows } = c ? await c.query<TaskEvent>(sql, [taskId]) : await query<TaskEvent>(sql, [taskId]);
    return rows.map((r) => ({ created_at: r.created_at, type: r.type, message: r.message, data: r.data }));
  }

  async function getResponse(taskId: string): Promise<TaskResponse | null> {
    assertTaskId(taskId);
    const { rows } = await query<{ doc: TaskResponse }>("SELECT doc FROM agent_lanes.responses WHERE task_id = $1", [taskId]);
    return rows[0]?.doc ?? null;
  }

  /** The rows of a listing, in its order, with or without the facts (response_exists, last_event). */
  async function summaries(opts: ListOptions, withFacts: boolean): Promise<TaskSummary[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    if (opts.lane) where.push(`t.lane = ${param(opts.lane)}`);
    if (opts.activeOnly) where.push("t.state IN ('queued', 'claimed')");
    if (opts.states) where.push(`t.state = ANY(${param([...opts.states])}::text[])`);
    if (opts.since) where.push(`t.created_us >= ${param((BigInt(opts.since.getTime()) * 1000n).toString())}`);
    const dir = opts.newestFirst ? "DESC" : "ASC";
    if (opts.after) {
      const { rows } = await query<{ us: string }>("SELECT created_us::text AS us FROM agent_lanes.tasks WHERE id = $1", [opts.after]);
      const us = rows[0] ? rows[0].us : microsFromId(opts.after).toString();
      where.push(`(t.created_us, t.id) ${opts.newestFirst ? "<" : ">"} (${param(us)}::bigint, ${param(opts.after)}::text)`);
    }
    const limit = opts.limit !== undefined && opts.limit >= 0 ? `LIMIT ${Math.floor(opts.limit)}` : "";
    const facts = withFacts
      ? `, EXISTS (SELECT 1 FROM agent_lanes.responses r WHERE r.task_id = t.id) AS response_exists,
         (SELECT json_build_object('created_at', e.created_at, 'type', e.type, 'message', e.message, 'data', e.data)
            FROM agent_lanes.events e WHERE e.task_id = t.id ORDER BY e.seq DESC LIMIT 1) AS last_event`
      : "";
    const { rows } = await query<{ doc: Task; response_exists?: boolean; last_event?: TaskEvent | null }>(
      `SELECT t.doc${facts} FROM agent_lanes.tasks t ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY t.created_us ${dir}, t.id ${dir} ${limit}`,
      params,
    );
    return rows.map((r) => ({ task: r.doc, response_exists: Boolean(r.response_exists), last_event: r.last_event ?? null }));
  }

  /**
   * The dashboard's facts of finished tasks: counts by one GROUP BY, the
   * recent ones and the window by bounded queries over the finished_at index;
   * only the fields a fact holds leave the database (factOf builds it).
   */
  async function finishedFacts(opts: FinishedFactsOptions): Promise<FinishedFactsResult> {
    const field = (key: string): string => `'${key}', t.doc->'${key}'`;
    const card = (key: string): string => `'${key}', t.doc->'metadata'->'${key}'`;
    const columns = `jsonb_build_object('id', t.id, 'correlation_id', t.correlation_id, 'lane', t.lane, 'state', t.state,
        ${["created_at", "updated_at", "claimed_at", "completed_at", "failed_at", "claim_owner"].map(field).join(", ")},
        'metadata', jsonb_build_object(${["vendor", "model", "model_class", "effort"].map(card).join(", ")})) AS task,
      CASE WHEN r.task_id IS NULL THEN NULL ELSE jsonb_build_object('created_at', r.doc->'created_at',
        'metadata', jsonb_build_object('vendor', r.doc->'metadata'->'vendor', 'cost_usd', r.doc->'metadata'->'cost_usd')) END AS response`;
    const from = "FROM agent_lanes.tasks t LEFT JOIN agent_lanes.responses r ON r.task_id = t.id WHERE t.state IN ('completed', 'failed')";
    type Row = { task: Task; response: TaskResponse | null };
    const [counts, recent, window] = await Promise.all([
      query<{ lane: string; state: "completed" | "failed"; n: number }>(
        "SELECT lane, state, count(*)::int AS n FROM agent_lanes.tasks WHERE state IN ('completed', 'failed') GROUP BY lane, state",
      ),
      query<Row>(`SELECT ${columns} ${from} ORDER BY t.finished_at DESC NULLS LAST, t.id DESC LIMIT $1`, [Math.max(0, Math.floor(opts.recent))]),
      query<Row>(`SELECT ${columns} ${from} AND t.finished_at >= $1`, [opts.since]),
    ]);
    const result = new FactsFold({ since: opts.since, recent: 0 }).result;
    for (const { lane, state, n } of counts.rows) {
      (result.counts[lane] ??= { completed: 0, failed: 0 })[state] += n;
      result.total += n;
    }
    result.recent = recent.rows.map((r) => factOf(r.task, r.response));
    result.window = window.rows.map((r) => timesOf(factOf(r.task, r.response)));
    return result;
  }

  async function available(opts: AvailableOptions = {}): Promise<Task[]> {
    const params: unknown[] = [];
    let laneFilter = "";
    if (opts.lanes) {
      params.push([...opts.lanes]);
      laneFilter = "AND lane = ANY($1::text[])";
    }
    const { rows } = await query<{ doc: Task; us: string }>(
      `SELECT doc, (extract(epoch FROM now()) * 1000000)::bigint::text AS us FROM agent_lanes.tasks
       WHERE state IN ('queued', 'claimed') ${laneFilter}
       ORDER BY created_us, id`,
      params,
    );
    if (rows.length === 0) return [];
    // Leases and not_before are judged on the database's clock.
    const now = dateOf(microsOf((rows[0] as { us: string }).us));
    const live = rows.map((r) => r.doc);
    const candidates = live.filter((t) => isClaimable(t, now) && (!opts.accept || opts.accept(t)));
    const liveIds = new Set(live.map((t) => t.id));
    const wanted = new Set<string>();
    for (const t of candidates) for (const id of readSchedule(t).dependsOn) if (!liveIds.has(id)) wanted.add(id);
    let finishedDeps: Task[] = [];
    if (wanted.size > 0) {
      const deps = await query<{ doc: Task }>("SELECT doc FROM agent_lanes.tasks WHERE id = ANY($1::text[])", [[...wanted]]);
      finishedDeps = deps.rows.map((r) => r.doc);
    }
    const ready = readyToRun([...live, ...finishedDeps], now);
    return byPriority(candidates.filter(ready));
  }

  async function waitForResponse(taskId: string, opts: WaitOptions = {}): Promise<TaskResponse | null> {
    assertTaskId(taskId);
    // An unknown task is an error at the loop's first look; a database that
    // is down meanwhile is waited out (wait.ts).
    return waitLoop(taskId, opts, { get, getResponse, notifier: await changes(), pollMs });
  }

  async function writeResponseOutput(task: Task, response: TaskResponse, opts: { workspaceRoot?: string } = {}): Promise<string> {
    const written = await writeResponseBody(task.response_path, response.body, { workspaceRoot: opts.workspaceRoot ?? task.workspace_root, taskId: task.id });
    // Fetched: prune may now remove the task (the answer reached a host).
    await query("UPDATE agent_lanes.responses SET fetched_at = now() WHERE task_id = $1", [task.id]);
    return written;
  }

  function changes(): Promise<ChangeNotifier> {
    notifier ??= createPgNotifier({ connectionString: url });
    return notifier;
  }

  async function prune(opts: PruneOptions = {}): Promise<PruneResult> {
    const { olderThanMs, keepLast, states } = checkPruneOptions(opts);
    if (opts.archiveDir) {
      throw new ValidationError(
        `archive_dir is not supported on a PostgreSQL queue (${shown}): back the database up (pg_dump) before pruning, or prune without --archive`,
      );
    }
    return tx(async (c, dbNowUs) => {
      // One pruner at a time; transitions go on (finished tasks never change).
      await c.query("SELECT pg_advisory_xact_lock(hashtext('agent_lanes.prune'))");
      const { rows } = await c.query<{ doc: Task; answered: boolean; fetched: boolean }>(
        `SELECT t.doc, r.task_id IS NOT NULL AS answered, r.fetched_at IS NOT NULL AS fetched
         FROM agent_lanes.tasks t LEFT JOIN agent_lanes.responses r ON r.task_id = t.id
         WHERE t.state IN ('completed', 'failed')`,
      );
      const facts = new Map(rows.map((r) => [r.doc.id, r]));
      const selected = rows.map((r) => r.doc).filter((t) => (opts.lane === undefined || t.lane === opts.lane) && states.has(t.state));
      const now = opts.now ?? dateOf(dbNowUs);
      const { victims, kept } = await choosePrune(selected, { keepLast, cutoff: now.getTime() - olderThanMs, force: Boolean(opts.force) }, async (task) => {
        const f = facts.get(task.id);
        if (!f?.answered || f.fetched) return null;
        return `its response was never fetched (no wait wrote it to ${task.response_path} on any host): run wait ${task.id}, or prune with --force`;
      });
      const pruned: PrunedTask[] = victims.map((t) => ({ id: t.id, lane: t.lane, state: t.state as "completed" | "failed", finished_at: finishedAt(t), archive: null }));
      if (!opts.dryRun) {
        for (const task of victims) {
          await opts.beforeRemove?.(task);
          // Events, the response and the carried files go with it (ON DELETE CASCADE).
          await c.query("DELETE FROM agent_lanes.tasks WHERE id = $1", [task.id]);
        }
        if (victims.length > 0) await notify(c, "prune");
      }
      return { dry_run: Boolean(opts.dryRun), pruned, kept, archives: [], index_files: [], remaining_finished: rows.length - (opts.dryRun ? 0 : victims.length) };
    });
  }

  async function requestFiles(taskId: string): Promise<StoredFile[]> {
    assertTaskId(taskId);
    const { rows } = await query<{ role: "request" | "supporting"; path: string; sha256: string; content: Buffer }>(
      "SELECT role, path, sha256, content FROM agent_lanes.files WHERE task_id = $1 ORDER BY position",
      [taskId],
    );
    return rows;
  }

  const pauses: PauseBackend = {
    async get(vendor) {
      assertPauseVendor(vendor);
      const { rows } = await query<{ doc: unknown }>("SELECT doc FROM agent_lanes.pauses WHERE vendor = $1", [vendor]);
      return rows[0] ? pauseFromJson(rows[0].doc, vendor, `${shown} pauses/${vendor}`) : { pause: null, warning: null };
    },
    async set(record: PauseRecord) {
      assertPauseVendor(record.vendor);
      await tx(async (c) => {
        await c.query(
          "INSERT INTO agent_lanes.pauses (vendor, doc) VALUES ($1, $2::jsonb) ON CONFLICT (vendor) DO UPDATE SET doc = EXCLUDED.doc, updated_at = now()",
          [record.vendor, JSON.stringify(record)],
        );
        await notify(c, `pause:${record.vendor}`);
      });
    },
    async clear(vendor) {
      assertPauseVendor(vendor);
      return tx(async (c) => {
        const { rowCount } = await c.query("DELETE FROM agent_lanes.pauses WHERE vendor = $1", [vendor]);
        await notify(c, `pause:${vendor}`);
        return (rowCount ?? 0) > 0;
      });
    },
    async list() {
      const { rows } = await query<{ vendor: string; doc: unknown }>("SELECT vendor, doc FROM agent_lanes.pauses ORDER BY vendor");
      const records: PauseRecord[] = [];
      const warnings: string[] = [];
      for (const row of rows) {
        const read = pauseFromJson(row.doc, row.vendor, `${shown} pauses/${row.vendor}`);
        if (read.warning) warnings.push(read.warning);
        if (read.pause) records.push(read.pause);
      }
      return { records, warnings };
    },
    where(vendor) {
      assertPauseVendor(vendor);
      return `${shown} (table agent_lanes.pauses, vendor ${vendor})`;
    },
  };

  const store: PostgresStore = {
    root: options.localRoot ?? localStateDir(url),
    kind: "postgres",
    location: shown,
    transitionEvents: true,
    migrated,
    pauses,
    create,
    get,
    ...derivedReads(summaries, available),
    available,
    finishedFacts,
    async finishedCount() {
      const { rows } = await query<{ n: number }>("SELECT count(*)::int AS n FROM agent_lanes.tasks WHERE state IN ('completed', 'failed')");
      return rows[0]?.n ?? 0;
    },
    problems: () => [],
    claim,
    renew,
    release,
    respond,
    cancel,
    appendEvent,
    readEvents,
    getResponse,
    waitForResponse,
    writeResponseOutput,
    changes,
    prune,
    // Nothing of a database queue lives in temp files.
    sweepTempFiles: async () => [],
    requestFiles,
    shared: createSharedLedger(query),
    close() {
      closed ??= (async () => {
        const n = await notifier?.catch(() => undefined);
        await n?.close();
        await pool.end().catch(() => undefined);
      })();
      return closed;
    },
  };
  return store;
}
