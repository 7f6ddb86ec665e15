// The reviewer's lease commands: `claim`, `renew`, `release`, plus `event`
// for progress notes and `cancel` for a queued task nobody should take. Each
// is one store transition and one payload.

import type { Command } from "commander";
import { emit, withQueue } from "../context.js";
import { CLI_DEFAULTS, collect, examples, positiveSeconds } from "../options.js";

/** Add `claim`, `renew`, `release`, `event` and `cancel`. */
export function registerClaimCommands(program: Command): void {
  program
    .command("claim")
    .argument("<task-id>", "task to claim")
    .summary("claim a task under a lease")
    .description("take a queued (or lease-expired) task under a lease; prints the claim token that renew, release and respond need")
    .option("--owner <name>", "who claims (shown to others in status)", CLI_DEFAULTS.owner)
    .option("--lease-seconds <seconds>", "lease length", positiveSeconds("--lease-seconds"), CLI_DEFAULTS.leaseSeconds)
    .addHelpText("after", examples("agent-lanes claim 20261124T051809211709Z-plan-review-6b1387b40624 --owner reviewer-chat --json"))
    .action(async (taskId: string, opts: { owner: string; leaseSeconds: number }, cmd: Command) => {
      await withQueue(cmd, async ({ store }) => {
        const task = await store.claim(taskId, { owner: opts.owner, leaseSeconds: opts.leaseSeconds });
        await emit(cmd, { status: "claimed", task_id: task.id, claim_token: task.claim_token, task }, [
          `task_id=${task.id}`,
          `claim_token=${task.claim_token ?? ""}`,
        ]);
      });
    });

  program
    .command("renew")
    .argument("<task-id>", "claimed task")
    .description("extend the lease of a task you claimed")
    .requiredOption("--claim-token <token>", "the token claim printed")
    .option("--lease-seconds <seconds>", "new lease length, from now", positiveSeconds("--lease-seconds"), CLI_DEFAULTS.leaseSeconds)
    .addHelpText("after", examples("agent-lanes renew <task-id> --claim-token <token> --lease-seconds 900"))
    .action(async (taskId: string, opts: { claimToken: string; leaseSeconds: number }, cmd: Command) => {
      await withQueue(cmd, async ({ store }) => {
        const task = await store.renew(taskId, { claimToken: opts.claimToken, leaseSeconds: opts.leaseSeconds });
        await emit(cmd, { status: "renewed", task_id: task.id, claim_token: task.claim_token, task }, [task.id]);
      });
    });

  program
    .command("release")
    .argument("<task-id>", "claimed task")
    .summary("give a claimed task back to the queue")
    .description("give a claimed task back to the queue (claim fields cleared) so another reviewer can take it")
    .requiredOption("--claim-token <token>", "the token claim printed")
    .option("--reason <text>", "why, recorded in the released event")
    .addHelpText("after", examples(`agent-lanes release <task-id> --claim-token <token> --reason "tool crashed"`))
    .action(async (taskId: string, opts: { claimToken: string; reason?: string }, cmd: Command) => {
      await withQueue(cmd, async ({ store }) => {
        const task = await store.release(taskId, { claimToken: opts.claimToken, reason: opts.reason ?? null });
        await emit(cmd, { status: "released", task_id: task.id, task }, [task.id]);
      });
    });

  program
    .command("event")
    .argument("<task-id>", "task to note something on")
    .summary("add a progress event to a task")
    .description("append an event (progress note) to a task's events.jsonl; status and wait heartbeats show the last one")
    .option("--type <type>", "event type", CLI_DEFAULTS.eventType)
    .option("--message <text>", "event message", "")
    .option("--data <key=value>", "data entry, repeatable", collect)
    .addHelpText("after", examples(`agent-lanes event <task-id> --type progress --message "checked the migration plan" --data step=2`))
    .action(async (taskId: string, opts: { type: string; message: string; data?: string[] }, cmd: Command) => {
      const { parseKeyValueFlags } = await import("../../config/task-file.js");
      const data = parseKeyValueFlags(opts.data ?? [], "--data");
      await withQueue(cmd, async ({ store }) => {
        await store.appendEvent(taskId, { type: opts.type, message: opts.message, data });
        await emit(cmd, { status: "ok", task_id: taskId }, [taskId]);
      });
    });

  program
    .command("cancel")
    .argument("<task-id>", "queued task")
    .summary("answer a queued task failed (cancelled)")
    .description("answer a queued task `failed` with \"cancelled [by WHO][: REASON]\", so no worker takes it and its waiter returns; claimed tasks must be released first")
    .option("--by <name>", "who cancels (the response's reviewer)")
    .option("--reason <text>", "why, appended to the response body")
    .addHelpText("after", examples(`agent-lanes cancel <task-id> --by alice --reason "submitted to the wrong lane"`))
    .action(async (taskId: string, opts: { by?: string; reason?: string }, cmd: Command) => {
      await withQueue(cmd, async ({ store }) => {
        const { task, response } = await store.cancel(taskId, { by: opts.by, reason: opts.reason });
        await emit(cmd, { status: "cancelled", task_id: task.id, task, response }, [`${task.id} ${response.body}`]);
      });
    });
}
