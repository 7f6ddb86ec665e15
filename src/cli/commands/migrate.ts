// `migrate`: bring a PostgreSQL queue's schema up to date (issue 18). The
// queue comes from --store, AGENT_LANES_STORE or queue_root like every other
// command. Migrations are numbered and never destructive
// (store/postgres/migrations.ts); running it again changes nothing. dispatch
// and serve run it by themselves when the schema is older than they are.

import type { Command } from "commander";
import { emit, globals, withQueue } from "../context.js";
import { examples } from "../options.js";

/** Add `migrate`. */
export function registerMigrateCommand(program: Command): void {
  program
    .command("migrate")
    .summary("create or update the tables of a PostgreSQL queue (never destructive; safe to run again)")
    .description(
      "apply the missing schema migrations of the PostgreSQL queue named by --store postgres://..., AGENT_LANES_STORE or queue_root in handoff.yaml. " +
        "Each migration is applied once, in order, in one transaction under a lock; a database whose schema is newer than this agent-lanes is refused. " +
        "A queue folder needs no migration (reported as such). dispatch and serve migrate by themselves.",
    )
    .addHelpText(
      "after",
      examples(
        "agent-lanes migrate --store postgres://agent@db.internal/agent_lanes",
        "AGENT_LANES_STORE=postgres://agent@db.internal/agent_lanes agent-lanes migrate --json",
        "PGPASSWORD=secret agent-lanes --store postgres://agent@127.0.0.1:5432/lanes migrate",
      ),
    )
    .action(async (_opts: unknown, cmd: Command) => {
      globals(cmd); // --json may follow the command
      await withQueue(
        cmd,
        async ({ store, queueLabel }) => {
          const migrated = (store as { migrated?: { from: number; to: number; applied: Array<{ version: number; name: string }> } | null }).migrated ?? null;
          if (store.kind !== "postgres" || !migrated) {
            await emit(cmd, { status: "ok", store: queueLabel, kind: "file", from: null, to: null, applied: [] }, [
              `${queueLabel} is a queue folder: nothing to migrate (migrate is for postgres:// queues)`,
            ]);
            return;
          }
          const payload = { status: "ok", store: queueLabel, kind: "postgres", from: migrated.from, to: migrated.to, applied: migrated.applied };
          await emit(
            cmd,
            payload,
            migrated.applied.length === 0
              ? [`${queueLabel}: schema already at version ${migrated.to}; nothing to do`]
              : [
                  ...migrated.applied.map((m) => `applied migration ${m.version}: ${m.name}`),
                  `${queueLabel}: schema version ${migrated.from} -> ${migrated.to}`,
                ],
          );
        },
        { migrate: true },
      );
    });
}
