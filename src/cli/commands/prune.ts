// `prune`: apply a retention policy to the queue by hand (a dispatcher applies
// handoff.yaml's `retention:` once a day). Finished tasks past the policy go,
// with their correlation index files, deleted or archived by month; live
// tasks never, unfetched answers only with --force.

import type { Command } from "commander";
import { emit, globals, requireConfig, warn, withQueue } from "../context.js";
import { count, duration, examples, oneOf } from "../options.js";

interface PruneFlags {
  olderThan?: number;
  keepLast?: number;
  lane?: string;
  state?: "completed" | "failed";
  archive?: string;
  dryRun?: boolean;
  force?: boolean;
}

/** Add `prune`. */
export function registerPruneCommand(program: Command): void {
  program
    .command("prune")
    .summary("remove (or archive) finished tasks past a retention policy")
    .description(
      "remove finished tasks (completed, failed) finished longer ago than --older-than, with their index files, under the queue lock; " +
        "--archive DIR moves them into DIR/<YYYY-MM>.tar.gz instead. Never a queued or claimed task; never a task whose response " +
        "was not fetched by wait (no file at its response_path as new as the answer) unless --force. " +
        "Without flags, handoff.yaml's retention: section applies, else 30 days.",
    )
    .option("--older-than <duration>", "finished longer ago than this: 30d, 12h, 2w (default: retention.older_than, else 30d)", duration("--older-than"))
    .option("--keep-last <n>", "always keep the newest N finished tasks of the selection", count("--keep-last"))
    .option("--lane <lane>", "only this lane")
    .option("--state <state>", "only completed or only failed tasks", oneOf("--state", ["completed", "failed"] as const))
    .option("--archive <dir>", "archive pruned tasks into DIR/<YYYY-MM>.tar.gz (outside tasks/) instead of deleting them")
    .option("--dry-run", "print what would be pruned; change nothing")
    .option("--force", "also prune tasks whose response was never fetched by wait")
    .addHelpText(
      "after",
      examples("agent-lanes prune --older-than 30d --dry-run", "agent-lanes prune --older-than 7d --keep-last 100 --archive ~/agent-lanes-archive --json"),
    )
    .action(async (flags: PruneFlags, cmd: Command) => {
      const { retentionOf } = await import("../../config/retention.js");
      const g = globals(cmd);
      const config = g.store && !g.configGiven ? null : await requireConfig(cmd).catch((error: unknown) => (g.store ? null : Promise.reject(error)));
      const policy = config ? retentionOf(config) : null;
      const { pruneWorktrees } = await import("../../supervisor/worktrees.js");
      await withQueue(cmd, async ({ store }) => {
        // A pruned task's worktree and branch (docs/worktrees.md) go with it when merged or unchanged.
        const worktrees = flags.dryRun
          ? undefined
          : pruneWorktrees(store, {
              onRemoved: (task, reason) => void (g.json || warn(`agent-lanes prune: ${task.id}: ${reason}`)),
              onKept: (task, reason) => warn(`agent-lanes prune: kept the worktree of ${task.id}: ${reason}`),
            });
        const result = await store.prune({
          beforeRemove: worktrees,
          olderThanMs: flags.olderThan ?? policy?.olderThanMs,
          keepLast: flags.keepLast ?? policy?.keepLast,
          lane: flags.lane ?? policy?.lane,
          states: flags.state ? [flags.state] : policy?.states,
          archiveDir: flags.archive ?? policy?.archiveDir,
          dryRun: Boolean(flags.dryRun),
          force: Boolean(flags.force),
        });
        if (!g.json) for (const k of result.kept) warn(`agent-lanes prune: kept ${k.id}: ${k.detail}`);
        const verb = result.dry_run ? "would prune" : "pruned";
        await emit(cmd, { status: "ok", ...result }, () => [
          ...result.pruned.map((p) => `${verb} ${p.id} (${p.state} ${p.finished_at}${p.archive ? ` -> ${p.archive}` : ""})`),
          `${verb} ${result.pruned.length} task(s); kept ${result.kept.length} unfetched; ${result.remaining_finished} finished task(s) remain`,
        ]);
      });
    });
}
