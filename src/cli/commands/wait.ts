// `wait TASK_ID` (the orchestrator's side: block until the answer is there and
// write it to response_path) and the reviewer's long-polls `wait --lane`,
// `next --lane` and `watch --lane`. The three lane forms are the same command
// under three names, as in the Python CLI: each returns the lane's oldest
// claimable task, or the idle payload at the timeout. None of them claims.

import type { Command } from "commander";
import type { Store } from "../../store/types.js";
import { emit, globals, requireConfig, warn, withQueue } from "../context.js";
import { CliError, EXIT } from "../errors.js";
import { CLI_DEFAULTS, examples, nonNegativeSeconds } from "../options.js";

interface WaitOptions {
  lane?: string;
  timeout: number;
  heartbeatSeconds: number;
  quiet?: boolean;
}

/** The idle payload of a lane long-poll that ran out (PROTOCOL.md §7). */
export interface IdlePayload {
  status: "idle";
  lane: string;
  reason: "no_task_submitted" | "no_queued_task";
  timeout_seconds: number;
  message: string;
  next_action: string;
}

function addWaitOptions(cmd: Command): Command {
  return cmd
    .option("--timeout <seconds>", "give up after this many seconds (0: look once)", nonNegativeSeconds("--timeout"), CLI_DEFAULTS.timeoutSeconds)
    .option(
      "--heartbeat-seconds <seconds>",
      "print a progress line on stderr this often (0: never)",
      nonNegativeSeconds("--heartbeat-seconds"),
      CLI_DEFAULTS.heartbeatSeconds,
    )
    .option("--quiet", "no heartbeat lines");
}

/** Add `wait`, `next` and `watch`. */
export function registerWaitCommands(program: Command): void {
  addWaitOptions(
    program
      .command("wait")
      .argument("[task-id]", "task to wait for (the orchestrator's side)")
      .option("--lane <lane>", "instead of a task: wait for the lane's next claimable task (the reviewer's side)")
      .summary("wait for a task's response, or with --lane for a lane's next task")
      .description(
        "wait TASK_ID: block until the task's response exists, write its body to response_path, print it (exit 2 on timeout); " +
          "wait --lane LANE: block until the lane has a claimable task (idle payload, exit 0, on timeout)",
      ),
  )
    .addHelpText("after", examples("agent-lanes wait 20261124T051809211709Z-plan-review-6b1387b40624 --json", "agent-lanes wait --lane review --timeout 600 --json"))
    .action(async (taskId: string | undefined, opts: WaitOptions, cmd: Command) => {
      if (taskId && opts.lane) throw new CliError("wait takes a TASK_ID or --lane LANE, not both");
      if (opts.lane) return waitLane(cmd, "wait", opts.lane, opts);
      if (!taskId) throw new CliError("wait needs a TASK_ID (the orchestrator's side) or --lane LANE (the reviewer's side); see agent-lanes wait --help");
      return waitTask(cmd, taskId, opts);
    });

  for (const name of ["next", "watch"] as const) {
    addWaitOptions(
      program
        .command(name)
        .requiredOption("--lane <lane>", "lane to watch")
        .summary("same as wait --lane")
        .description(`same as wait --lane: block until the lane has a claimable task, print it (idle payload, exit 0, on timeout)`),
    )
      .addHelpText("after", examples(`agent-lanes ${name} --lane review --json`))
      .action(async (opts: WaitOptions & { lane: string }, cmd: Command) => waitLane(cmd, name, opts.lane, opts));
  }
}

function heartbeatMs(opts: WaitOptions): number {
  return opts.quiet ? 0 : opts.heartbeatSeconds * 1000;
}

async function waitTask(cmd: Command, taskId: string, opts: WaitOptions): Promise<void> {
  const [{ waitForResponse }, views] = await Promise.all([import("../long-poll.js"), import("../views.js")]);
  await withQueue(cmd, async ({ store, config }) => {
    // The answer is written inside the workspace of the config in force (never
    // the workspace_root task.json names: anyone writing the queue can forge that).
    const workspaceRoot = (config ?? (await requireConfig(cmd))).workspace_root;
    // Fail fast on an unknown id, and answer an already-answered task without starting a watcher.
    await store.get(taskId);
    const response =
      (await store.getResponse(taskId)) ??
      (await waitForResponse(store, taskId, {
        timeoutMs: opts.timeout * 1000,
        heartbeatMs: heartbeatMs(opts),
        onHeartbeat: async () => warn(views.heartbeatLine(await views.viewOf(store, await store.get(taskId)))),
      }));
    if (!response) {
      const view = await views.viewOf(store, await store.get(taskId));
      if (globals(cmd).json) {
        await emit(cmd, { status: "timeout", task_id: taskId, state: view.state, timeout_seconds: opts.timeout, next_action: view.next_action });
      }
      throw new CliError(`timed out after ${opts.timeout} s waiting for task ${taskId} (state=${view.state}); run wait ${taskId} again to keep waiting`, {
        exitCode: EXIT.timeout,
      });
    }
    const task = await store.get(taskId);
    const responsePath = await store.writeResponseOutput(task, response, { workspaceRoot });
    await emit(cmd, { status: "completed", task_id: taskId, response_path: responsePath, response }, [responsePath]);
  });
}

async function waitLane(cmd: Command, name: string, lane: string, opts: WaitOptions): Promise<void> {
  const { waitForLaneTask } = await import("../long-poll.js");
  await withQueue(cmd, async ({ store, queueLabel }) => {
    const task = await waitForLaneTask(store, lane, {
      timeoutMs: opts.timeout * 1000,
      heartbeatMs: heartbeatMs(opts),
      onHeartbeat: async (elapsedMs) => {
        const active = await store.list({ lane, activeOnly: true });
        warn(
          `agent-lanes ${name}: lane=${lane}; state=waiting; waited_seconds=${Math.floor(elapsedMs / 1000)}; ` +
            `timeout_seconds=${opts.timeout}; active_tasks=${active.length}`,
        );
      },
    });
    if (task) {
      await emit(cmd, { status: "task_available", lane, task }, [task.id]);
      return;
    }
    const idle = await idlePayload(store, queueLabel, lane, opts.timeout);
    if (globals(cmd).json) await emit(cmd, idle);
    // Text mode keeps stdout empty when idle, so `id=$(agent-lanes next --lane L)` is a task id or nothing.
    // Python prints its message and the timeout; the key=value head keeps the line greppable.
    else if (!opts.quiet) warn(`agent-lanes ${name}: lane=${lane}; status=idle; reason=${idle.reason}; ${idle.message} Timed out after ${formatSeconds(opts.timeout)}s.`);
  }, { longRunning: opts.timeout > 0 });
}

async function idlePayload(store: Store, queueRoot: string, lane: string, timeoutSeconds: number): Promise<IdlePayload> {
  // The Python tool's words, role words included (orchestrator prompts match
  // on them), then what only we add: which queue was looked at.
  const anyTask = store.laneHasTasks ? await store.laneHasTasks(lane) : (await store.list({ lane, limit: 1 })).length > 0;
  const python =
    `No queued tasks found on lane ${lane}. If you are the polling monitor, keep waiting. ` +
    "If you are the orchestrator, submit a task when the next artifact is ready.";
  return {
    status: "idle",
    lane,
    reason: anyTask ? "no_queued_task" : "no_task_submitted",
    timeout_seconds: timeoutSeconds,
    message: anyTask
      ? `${python} (queue ${queueRoot})`
      : `${python} (no task has ever been submitted to lane ${lane} in queue ${queueRoot}: if one was, check that --config/--store name the submitter's queue and lane)`,
    next_action: `monitor: run wait --lane ${lane} --json again; orchestrator: submit when ready`,
  };
}

/** A number of seconds as Python's `{:g}` prints it (21600, 0.5, 1e+06). */
export function formatSeconds(seconds: number): string {
  if (seconds !== 0 && (Math.abs(seconds) >= 1e6 || Math.abs(seconds) < 1e-4)) {
    const [mantissa, exponent] = seconds.toExponential(5).split("e") as [string, string];
    const m = mantissa.replace(/\.?0+$/, "");
    const e = Number(exponent);
    return `${m}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  }
  return String(Number(seconds.toPrecision(6)));
}
