// `submit`: a task file and/or flags merged by the config module
// (PROTOCOL.md §2), then created in the queue.

import type { Command } from "commander";
import { emit, requireConfig, warn, withQueue } from "../context.js";
import { CliError } from "../errors.js";
import { collect, examples } from "../options.js";

interface SubmitOptions {
  task?: string;
  lane?: string;
  requestFrom?: string;
  responseTo?: string;
  prompt?: string;
  promptFile?: string;
  worktreePath?: string;
  branch?: string;
  metadata?: string[];
  sourceAgent: string;
  taskId?: string;
  at?: string;
  after?: string[];
  priority?: string;
}

function priorityFlag(raw: string): number {
  if (!/^\s*[+-]?\d{1,15}\s*$/.test(raw)) throw new CliError(`--priority must be a whole number (higher runs first), got '${raw}'`);
  return Number(raw);
}

/** Add `submit`. */
export function registerSubmitCommand(program: Command): void {
  program
    .command("submit")
    .summary("submit a task (task file and/or flags)")
    .description("submit a task: a task file (--task) and/or flags; flags override the file")
    .option("--task <path>", "task definition file (YAML), e.g. tasks/plan-review.yaml")
    .option("--lane <lane>", "lane to submit to")
    .option("--request-from <path>", "the file to work on (inside workspace_root)")
    .option("--response-to <path>", "where wait writes the response body (inside workspace_root)")
    .option("--prompt <text>", "instructions for the worker (drops the task file's prompt_file)")
    .option("--prompt-file <path>", "read the instructions from a file (drops the task file's prompt)")
    .option("--worktree-path <path>", "worktree the worker should use")
    .option("--branch <name>", "branch the worker should expect")
    .option("--metadata <key=value>", "metadata entry, repeatable; overrides the task file's", collect)
    .option("--source-agent <name>", "who submits", "orchestrator")
    .option("--task-id <correlation>", "correlation id (default: the task file's name, else the lane)")
    .option("--at <time>", "not claimable before TIME: ISO (2026-11-25T18:00:00Z) or a delay (+30m, +2h, +45s, +1d)")
    .option("--after <task-id>", "claimable once this task completed (fails if it fails); repeatable", collect)
    .option("--priority <n>", "whole number, higher is claimed first within the lane (default 0)")
    .addHelpText(
      "after",
      examples(
        "agent-lanes submit --task tasks/plan-review.yaml",
        "agent-lanes submit --lane review --request-from docs/plan.md --response-to reviews/plan.md --prompt 'Review the plan' --json",
        "agent-lanes submit --task tasks/deploy.yaml --at +30m --after 20261125T101500123456Z-build-0123456789ab --priority 5",
      ),
    )
    .action(async (opts: SubmitOptions, cmd: Command) => {
      const { loadTaskFile, resolveSubmit } = await import("../../config/task-file.js");
      await withQueue(cmd, async ({ config: loaded, store }) => {
        const config = loaded ?? (await requireConfig(cmd));
        const taskFile = opts.task ? await loadTaskFile(opts.task) : null;
        for (const line of taskFile?.warnings ?? []) warn(line);
        const { input } = await resolveSubmit(config, taskFile, opts, process.cwd());
        const lanes = Object.keys(config.lanes);
        if (lanes.length > 0 && !lanes.includes(input.lane)) {
          warn(`agent-lanes: warning: lane '${input.lane}' is not listed under lanes: in ${config.path} (listed: ${lanes.join(", ")}); submitting anyway`);
        }
        // Scheduling flags go through the store's checks (a bad time, an unknown dependency, a cycle).
        const task = await store.create({
          ...input,
          ...(opts.at !== undefined ? { not_before: opts.at } : {}),
          ...(opts.after !== undefined ? { depends_on: opts.after } : {}),
          ...(opts.priority !== undefined ? { priority: priorityFlag(opts.priority) } : {}),
        });
        await emit(cmd, { task_id: task.id, task }, [task.id]);
      });
    });
}
