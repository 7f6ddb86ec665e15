// `submit`: a task file and/or flags merged by the config module
// (PROTOCOL.md §2), then created in the queue.

import type { Command } from "commander";
import { emit, requireConfig, warn, withQueue } from "../context.js";
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
    .addHelpText(
      "after",
      examples(
        "agent-lanes submit --task tasks/plan-review.yaml",
        "agent-lanes submit --lane review --request-from docs/plan.md --response-to reviews/plan.md --prompt 'Review the plan' --json",
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
        const task = await store.create(input);
        await emit(cmd, { task_id: task.id, task }, [task.id]);
      });
    });
}
