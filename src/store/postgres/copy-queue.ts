// migrate-queue: copy a file queue (a queue folder, written by this tool or
// the Python one) into a PostgreSQL queue, so a team can move to the database
// without losing history or live work (issue 18).
//
// Each task is copied in one transaction with its events, its response and
// the request and supporting files it names (read from this host's disk,
// checked against the sha256 recorded at submit). A task whose id is already
// in the database is never touched: a second run copies nothing new, and a
// task that moved on in the folder after the first copy is reported as
// differing, left as the database has it (the database is the queue now).
// A live task (queued or claimed) whose request or supporting file is gone
// or changed is not copied: a dispatcher could not give the agent what was
// submitted. It is reported with the fix.

import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import pg from "pg";
import { trustDeferredExtraCaCerts } from "../../extra-ca-certs.js";
import { SchemaVersionError, StoreError, StoreUnavailableError, ValidationError } from "../errors.js";
import { readEventLines } from "../events.js";
import { isValidTaskId, queuePaths } from "../layout.js";
import { finishedAt, responseFetched } from "../prune.js";
import { readResponseFile, readTaskFile } from "../records.js";
import { DEFAULT_REQUEST_MAX_BYTES, readRegularFile } from "../safe-file.js";
import { parseIso } from "../time.js";
import type { Task, TaskEvent, TaskResponse } from "../types.js";
import { schemaVersion } from "./migrations.js";
import { CHANNEL } from "./notifier.js";
import { openPostgresStore as openStoreAt } from "./store.js";
import { maskUrl } from "./url.js";

export interface CopyQueueOptions {
  /** The queue folder (holds tasks/). */
  from: string;
  /** postgres://… */
  to: string;
  /** Report what would be copied; write nothing (not even the schema). */
  dryRun?: boolean;
  /** Largest request or supporting file carried. @default 8 MiB */
  requestMaxBytes?: number;
}

export interface CopiedTask {
  id: string;
  state: Task["state"];
  events: number;
  response: boolean;
  files: number;
}

export interface CopyQueueResult {
  from: string;
  /** The URL, password masked. */
  to: string;
  dry_run: boolean;
  /** Copied now (with --dry-run: would be). */
  copied: CopiedTask[];
  /** Already in the database, as in the folder. */
  already: string[];
  /** Already in the database but different in the folder (moved on since the first copy): left as the database has it. */
  differs: Array<{ id: string; folder_state: string; database_state: string }>;
  /** Not copied, with the reason and the fix. */
  skipped: Array<{ id: string; reason: string }>;
  /** Migrations applied to the database first. */
  migrated: Array<{ version: number; name: string }>;
}

/** µs since the epoch of a protocol timestamp (microseconds kept), or null. */
export function isoMicros(text: unknown): bigint | null {
  const date = parseIso(text);
  if (!date || typeof text !== "string") return null;
  const fraction = /T\d{2}:\d{2}:\d{2}\.(\d+)/.exec(text)?.[1] ?? "";
  const wholeSeconds = BigInt(Math.floor(date.getTime() / 1000));
  return wholeSeconds * 1_000_000n + BigInt((fraction + "000000").slice(0, 6));
}

interface ReadTask {
  task: Task;
  events: TaskEvent[];
  response: TaskResponse | null;
  fetched: boolean;
  files: Array<{ position: number; role: "request" | "supporting"; path: string; sha256: string; content: Buffer }>;
}

/** The request and supporting files the task names, as submitted; a reason string when a live task cannot have them. */
async function carriedFiles(task: Task, maxBytes: number): Promise<ReadTask["files"] | string> {
  const named: Array<{ role: "request" | "supporting"; path: string; sha256: string }> = [
    { role: "request", path: task.request_path, sha256: task.request_sha256 },
    ...task.supporting_paths
      .filter((s): s is { path: string; sha256: string } => typeof s?.path === "string")
      .map((s) => ({ role: "supporting" as const, path: s.path, sha256: String(s.sha256 ?? "") })),
  ];
  const live = task.state === "queued" || task.state === "claimed";
  const files: ReadTask["files"] = [];
  for (const [position, file] of named.entries()) {
    const absolute = path.resolve(task.workspace_root, file.path);
    let problem: string | null = null;
    let content: Buffer | null = null;
    try {
      content = await readRegularFile(absolute, { label: file.role === "request" ? "request_path" : "supporting path", maxBytes, taskId: task.id });
      const sha = createHash("sha256").update(content).digest("hex");
      if (sha !== file.sha256) problem = `its ${file.role} file ${absolute} changed since submit (sha256 ${sha.slice(0, 12)}…, recorded ${file.sha256.slice(0, 12)}…)`;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      problem = code === "ENOENT" ? `its ${file.role} file ${absolute} is gone` : `its ${file.role} file cannot be read: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (problem !== null) {
      // A finished task needs no files (nothing will run it); a live one does.
      if (live) return `${problem}; restore the file, or answer or cancel the task in the folder, then run migrate-queue again`;
      continue;
    }
    files.push({ position, role: file.role, path: absolute, sha256: file.sha256, content: content as Buffer });
  }
  return files;
}

/** Copy the queue folder `from` into the database `to`. */
export async function copyQueue(options: CopyQueueOptions): Promise<CopyQueueResult> {
  const from = path.resolve(options.from);
  const shown = maskUrl(options.to);
  const maxBytes = options.requestMaxBytes ?? DEFAULT_REQUEST_MAX_BYTES;
  const paths = queuePaths(from);
  const stat = await fs.stat(paths.tasks).catch(() => null);
  if (!stat?.isDirectory()) {
    const nested = await fs.stat(path.join(from, "handoff", "state", "tasks")).catch(() => null);
    const hint = nested?.isDirectory() ? `; did you mean --from ${path.join(from, "handoff", "state")}?` : " (give the queue_root of handoff.yaml, e.g. handoff/state)";
    throw new ValidationError(`--from ${from} is not a queue folder: it holds no tasks/ folder${hint}`);
  }

  // Opening the store checks the server and the schema with the store's own messages (naming --to); it migrates unless this is a dry run.
  const openPostgresStore = (url: string, opts: Parameters<typeof openStoreAt>[1]) =>
    openStoreAt(url, opts).catch((error: unknown) => {
      if (error instanceof StoreUnavailableError) {
        throw new StoreUnavailableError(error.message.replace("fix the URL in --store, queue_root or AGENT_LANES_STORE", "fix the URL in --to"), { cause: error.cause });
      }
      throw error;
    });
  let migrated: CopyQueueResult["migrated"] = [];
  let schemaReady = true;
  if (options.dryRun) {
    const probe = await openPostgresStore(options.to, { migrate: false, poolSize: 1 }).catch((error: unknown) => {
      if (error instanceof SchemaVersionError && error.current === 0) return null;
      throw error;
    });
    schemaReady = probe !== null;
    await probe?.close();
  } else {
    const store = await openPostgresStore(options.to, { migrate: true, poolSize: 1 });
    migrated = store.migrated?.applied ?? [];
    await store.close();
  }

  const result: CopyQueueResult = { from, to: shown, dry_run: Boolean(options.dryRun), copied: [], already: [], differs: [], skipped: [], migrated };
  const names = (await fs.readdir(paths.tasks)).filter((n) => isValidTaskId(n)).sort();

  trustDeferredExtraCaCerts();
  const client = new pg.Client({ connectionString: options.to });
  // A dropped connection fails the statement in flight; it must not also end the process.
  client.on("error", () => undefined);
  await client.connect();
  try {
    if (schemaReady && (await schemaVersion(client)) === 0) schemaReady = false;
    const existing = new Map<string, { state: string; updated_at: string | null }>();
    if (schemaReady) {
      for (let i = 0; i < names.length; i += 1000) {
        const { rows } = await client.query<{ id: string; state: string; updated_at: string | null }>(
          "SELECT id, state, doc->>'updated_at' AS updated_at FROM agent_lanes.tasks WHERE id = ANY($1::text[])",
          [names.slice(i, i + 1000)],
        );
        for (const row of rows) existing.set(row.id, { state: row.state, updated_at: row.updated_at });
      }
    }

    for (const id of names) {
      let task: Task;
      try {
        task = await readTaskFile(paths.taskFile(id), id);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? (error as StoreError).code;
        // A folder without task.json is a submit a crash interrupted: nothing to copy.
        if (code === "unknown_task") continue;
        result.skipped.push({ id, reason: `${error instanceof Error ? error.message : String(error)} (fix or remove the task folder, then run migrate-queue again)` });
        continue;
      }
      const there = existing.get(id);
      if (there) {
        if (there.state === task.state && there.updated_at === task.updated_at) result.already.push(id);
        else result.differs.push({ id, folder_state: task.state, database_state: there.state });
        continue;
      }
      const files = await carriedFiles(task, maxBytes);
      if (typeof files === "string") {
        result.skipped.push({ id, reason: `task ${id} (${task.state}) was not copied: ${files}` });
        continue;
      }
      const events = await readEventLines(paths.eventsFile(id));
      const response = await readResponseFile(paths.responseFile(id), id).catch(() => null);
      const read: ReadTask = { task, events, response, fetched: await responseFetched(task, response), files };
      if (!options.dryRun && !(await insertTask(client, read))) {
        // Copied by someone else meanwhile (two migrate-queue runs at once).
        result.already.push(id);
        continue;
      }
      result.copied.push({ id, state: task.state, events: events.length, response: response !== null, files: files.length });
    }
    if (!options.dryRun && result.copied.length > 0) await client.query("SELECT pg_notify($1, $2)", [CHANNEL, "migrate-queue"]);
  } finally {
    await client.end().catch(() => undefined);
  }
  return result;
}

/** One task, its events, response and files, in one transaction; false when its id was already there. */
async function insertTask(client: pg.Client, read: ReadTask): Promise<boolean> {
  const { task } = read;
  const created = isoMicros(task.created_at) ?? 0n;
  const live = task.state === "queued" || task.state === "claimed";
  const leaseEnds = task.state === "claimed" ? (parseIso(task.lease_expires_at)?.toISOString() ?? null) : null;
  const finished = live ? null : (parseIso(finishedAt(task))?.toISOString() ?? new Date().toISOString());
  await client.query("BEGIN");
  try {
    const inserted = await client.query(
      `INSERT INTO agent_lanes.tasks (id, lane, state, workspace_id, correlation_id, created_us, lease_expires_at, finished_at, doc)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) ON CONFLICT (id) DO NOTHING`,
      [task.id, task.lane, task.state, String(task.workspace_id ?? ""), String(task.correlation_id ?? ""), created.toString(), leaseEnds, finished, JSON.stringify(task)],
    );
    if (inserted.rowCount !== 1) {
      await client.query("ROLLBACK");
      return false;
    }
    for (const event of read.events) {
      await client.query("INSERT INTO agent_lanes.events (task_id, created_at, type, message, data) VALUES ($1, $2, $3, $4, $5::jsonb)", [
        task.id,
        event.created_at,
        event.type,
        event.message,
        JSON.stringify(event.data),
      ]);
    }
    if (read.response) {
      const answered = parseIso(read.response.created_at)?.toISOString() ?? new Date().toISOString();
      await client.query("INSERT INTO agent_lanes.responses (task_id, doc, answered_at, fetched_at) VALUES ($1, $2::jsonb, $3, $4)", [
        task.id,
        JSON.stringify(read.response),
        answered,
        read.fetched ? new Date().toISOString() : null,
      ]);
    }
    for (const file of read.files) {
      await client.query("INSERT INTO agent_lanes.files (task_id, position, role, path, sha256, content) VALUES ($1, $2, $3, $4, $5, $6)", [
        task.id,
        file.position,
        file.role,
        file.path,
        file.sha256,
        file.content,
      ]);
    }
    await client.query("COMMIT");
    return true;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
