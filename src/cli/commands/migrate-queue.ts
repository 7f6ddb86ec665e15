// `migrate-queue --from <folder> --to postgres://…`: copy a file queue (ours
// or the Python tool's) into a PostgreSQL queue: tasks with their states,
// events, responses and the request and supporting files they name
// (store/postgres/copy-queue.ts). Idempotent: what is already in the
// database is left alone, so a second run copies nothing new and says so.

import type { Command } from "commander";
import { CliError, EXIT } from "../errors.js";
import { emit, globals } from "../context.js";
import { examples } from "../options.js";

interface MigrateQueueFlags {
  from?: string;
  to?: string;
  dryRun?: boolean;
}

/** Add `migrate-queue`. */
export function registerMigrateQueueCommand(program: Command): void {
  program
    .command("migrate-queue")
    .summary("copy a queue folder (tasks, events, responses, request files) into a PostgreSQL queue; safe to run again")
    .description(
      "copy every task of the queue folder --from into the PostgreSQL queue --to (default: --store or AGENT_LANES_STORE when it is a postgres:// URL): " +
        "its state, events, response, and the request and supporting files it names, read from this host and checked against the sha256 recorded at submit. " +
        "The schema is created first when missing. Tasks already in the database are left alone, so running it again copies only what is new. " +
        "A queued or claimed task whose request file is gone or changed is not copied (it is listed with the fix). " +
        "Stop the folder's dispatchers first; afterwards point queue_root (or AGENT_LANES_STORE) at the database.",
    )
    .option("--from <folder>", "the queue folder to copy (queue_root of the file queue, e.g. handoff/state)")
    .option("--to <url>", "the PostgreSQL queue, postgres://user@host:port/database")
    .option("--dry-run", "only report what would be copied; write nothing")
    .addHelpText(
      "after",
      examples(
        "agent-lanes migrate-queue --from handoff/state --to postgres://agent@db.internal/agent_lanes",
        "agent-lanes migrate-queue --from handoff/state --to postgres://agent@db.internal/agent_lanes --dry-run --json",
        "AGENT_LANES_STORE=postgres://agent@127.0.0.1/lanes agent-lanes migrate-queue --from ~/work/app/handoff/state",
      ),
    )
    .action(async (flags: MigrateQueueFlags, cmd: Command) => {
      const g = globals(cmd);
      const { isPostgresUrl, maskUrl } = await import("../../store/open.js");
      if (!flags.from) throw new CliError("missing required option --from <folder>: the queue folder to copy (queue_root of the file queue, e.g. handoff/state)");
      const to = flags.to ?? (g.store && isPostgresUrl(g.store) ? g.store.trim() : undefined);
      if (!to) throw new CliError("missing required option --to postgres://user@host:port/database (or set AGENT_LANES_STORE to the database URL)");
      if (!isPostgresUrl(to)) throw new CliError(`--to must be a postgres:// URL, got ${maskUrl(to)} (a queue folder needs no migration: point queue_root at it)`);
      const { copyQueue } = await import("../../store/postgres/copy-queue.js");
      const result = await copyQueue({ from: flags.from, to, dryRun: Boolean(flags.dryRun) });
      const would = result.dry_run ? "would copy" : "copied";
      const counts = {
        tasks: result.copied.length,
        events: result.copied.reduce((n, t) => n + t.events, 0),
        responses: result.copied.filter((t) => t.response).length,
        files: result.copied.reduce((n, t) => n + t.files, 0),
      };
      const lines: string[] = [];
      for (const m of result.migrated) lines.push(`applied migration ${m.version}: ${m.name}`);
      if (result.copied.length > 0) {
        const live = result.copied.filter((t) => t.state === "queued" || t.state === "claimed").length;
        lines.push(
          `${would} ${counts.tasks} task(s) from ${result.from} to ${result.to}: ${counts.tasks - live} finished, ${live} live; ` +
            `${counts.events} event(s), ${counts.responses} response(s), ${counts.files} file(s)`,
        );
        if (result.already.length > 0) lines.push(`${result.already.length} task(s) were already in the database`);
      } else {
        lines.push(`nothing new to copy from ${result.from}: ${result.already.length + result.differs.length} task(s) already in ${result.to}`);
      }
      for (const d of result.differs) {
        lines.push(`task ${d.id} is ${d.folder_state} in the folder but ${d.database_state} in the database: left as the database has it`);
      }
      for (const s of result.skipped) lines.push(`not copied: ${s.reason}`);
      const status = result.skipped.length > 0 ? "incomplete" : "ok";
      await emit(cmd, { status, ...result, counts }, lines);
      if (result.skipped.length > 0) process.exitCode = EXIT.error;
    });
}
