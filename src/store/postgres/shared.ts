// The SharedLedger of a PostgreSQL queue (migration 2): what dispatchers on
// different hosts must agree on lives in the database and is judged on its
// clock, where a file queue keeps it in files on its one host:
//   - notification markers (notify/dedup.ts keeps them as files): the first
//     INSERT of a marker wins, so a transition is announced once, whichever
//     host's dispatcher saw it, across restarts;
//   - reported costs (supervisor/budget.ts counts them in memory): one row per
//     run, summed over today's UTC day of the database, per vendor, so the
//     --daily-cost-usd ceiling holds for every dispatcher of a vendor together
//     and survives restarts;
//   - periodic jobs' last runs (supervisor/retention.ts keeps a stamp file):
//     one conditional upsert hands the daily retention to exactly one host.

import { createHash } from "node:crypto";
import type pg from "pg";
import type { SharedLedger } from "../types.js";

type Query = <R extends pg.QueryResultRow>(text: string, params?: unknown[]) => Promise<pg.QueryResult<R>>;

/** The marker of one notification for one sink (the same hash the file markers use). */
export function notificationMarker(sinkId: string, key: string): string {
  return createHash("sha256").update(`${sinkId}\n${key}`).digest("hex").slice(0, 40);
}

export function createSharedLedger(query: Query): SharedLedger {
  return {
    async claimNotification(sinkId, key) {
      const { rowCount } = await query("INSERT INTO agent_lanes.notifications_sent (marker) VALUES ($1) ON CONFLICT (marker) DO NOTHING", [
        notificationMarker(sinkId, key),
      ]);
      return rowCount === 1;
    },
    async pruneNotifications(maxAgeMs) {
      const { rowCount } = await query("DELETE FROM agent_lanes.notifications_sent WHERE sent_at < now() - make_interval(secs => $1)", [maxAgeMs / 1000]);
      return rowCount ?? 0;
    },
    async recordCost({ vendor, owner, taskId, costUsd }) {
      if (!(typeof costUsd === "number" && Number.isFinite(costUsd) && costUsd >= 0)) return;
      await query("INSERT INTO agent_lanes.costs (vendor, owner, task_id, cost_usd) VALUES ($1, $2, $3, $4)", [vendor, owner, taskId, costUsd]);
    },
    async costToday(vendor) {
      const { rows } = await query<{ spent: number; resets_ms: number }>(
        `SELECT coalesce((SELECT sum(cost_usd) FROM agent_lanes.costs
                            WHERE vendor = $1 AND recorded_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'), 0)::float8 AS spent,
                (extract(epoch FROM (date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC' - now()) * 1000)::float8 AS resets_ms`,
        [vendor],
      );
      const row = rows[0] as { spent: number; resets_ms: number };
      return { spentUsd: Number(row.spent), resetsInMs: Math.max(0, Math.ceil(Number(row.resets_ms))) };
    },
    async takeTurn(name, intervalMs) {
      const taken = await query(
        `INSERT INTO agent_lanes.periodic (name, last_run_at) VALUES ($1, now())
         ON CONFLICT (name) DO UPDATE SET last_run_at = now()
           WHERE agent_lanes.periodic.last_run_at <= now() - make_interval(secs => $2)`,
        [name, intervalMs / 1000],
      );
      if (taken.rowCount === 1) return { due: true, inMs: intervalMs };
      const { rows } = await query<{ ms: number }>(
        "SELECT (extract(epoch FROM last_run_at + make_interval(secs => $2) - now()) * 1000)::float8 AS ms FROM agent_lanes.periodic WHERE name = $1",
        [name, intervalMs / 1000],
      );
      return { due: false, inMs: Math.max(0, Math.ceil(Number(rows[0]?.ms ?? 0))) };
    },
    async giveBackTurn(name) {
      await query("UPDATE agent_lanes.periodic SET last_run_at = '-infinity' WHERE name = $1", [name]);
    },
  };
}
