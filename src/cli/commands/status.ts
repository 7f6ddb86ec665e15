// `status TASK_ID`, `status --all` (and its deprecated alias --rack) and
// `list`: views of tasks (views.ts), the queue summary, vendor pauses and
// unreadable task files, so nothing wrong in the queue stays invisible.

import type { Command } from "commander";
import { emit, emitList, globals, warn, withQueue } from "../context.js";
import { CliError } from "../errors.js";
import { writeOut } from "../output.js";
import type { ListOptions, Store, TaskState } from "../../store/types.js";
import type { ListedTask } from "../views.js";
import { count, examples, sinceTime, states } from "../options.js";

interface FilterOptions {
  lane?: string;
  activeOnly?: boolean;
  state?: TaskState[];
  since?: Date;
  limit?: number;
}

interface StatusOptions extends FilterOptions {
  all?: boolean;
  rack?: boolean;
  watch?: boolean;
}

/** --lane, --active-only, --state, --since, --limit: the filters of status --all and list. */
function addFilterOptions(cmd: Command, prefix: string): Command {
  return cmd
    .option("--lane <lane>", `${prefix}only this lane`)
    .option("--active-only", `${prefix}only queued and claimed tasks`)
    .option("--state <state>", `${prefix}only tasks in this state (queued, claimed, completed, failed); repeat or comma-separate`, states("--state"))
    .option("--since <when>", `${prefix}only tasks created since an ISO date/time, or since a duration ago (24h, 7d)`, sinceTime("--since"))
    .option("--limit <n>", `${prefix}only the newest N matching tasks (still printed oldest first)`, count("--limit"));
}

/** The store's list options for these filters: the newest `limit`, printed oldest first. */
function listOptions(opts: FilterOptions): ListOptions {
  return { lane: opts.lane, activeOnly: Boolean(opts.activeOnly), states: opts.state, since: opts.since, limit: opts.limit, newestFirst: opts.limit !== undefined };
}

function oldestFirst<T>(items: T[], opts: FilterOptions): T[] {
  return opts.limit !== undefined ? items.reverse() : items;
}

/** An unreadable file in the queue, as status --all reports it. */
interface Problem {
  task_id: string | null;
  file: string | null;
  message: string;
}

/** Add `status` and `list`. */
export function registerStatusCommands(program: Command): void {
  const status = program
    .command("status")
    .argument("[task-id]", "task to show")
    .summary("show a task, or the whole queue with --all")
    .description("show one task with its lease, last event, paths and next action; or, with --all, every task plus a queue summary")
    .option("--all", "every task, a summary, vendor pauses and unreadable task files")
    .option("--rack", "deprecated alias of --all")
    .option("--watch", "a live board in the terminal (lanes × states, running tasks, pauses), redrawn on every change; q quits");
  addFilterOptions(status, "with --all: ")
    .addHelpText(
      "after",
      examples("agent-lanes status <task-id> --json", "agent-lanes status --all --active-only", "agent-lanes status --all --since 24h --state failed", "agent-lanes status --watch --lane review"),
    )
    .action(async (taskId: string | undefined, opts: StatusOptions, cmd: Command) => {
      if (opts.rack) warn("[deprecated] --rack is deprecated and will be removed: use status --all");
      if (opts.watch) {
        if (taskId) throw new CliError("status takes a TASK_ID or --watch, not both");
        return statusWatch(cmd, opts);
      }
      const all = Boolean(opts.all || opts.rack);
      if (all && taskId) throw new CliError("status takes a TASK_ID or --all, not both");
      if (!all && !taskId) throw new CliError("status needs a TASK_ID, or --all for the whole queue");
      if (taskId) return statusOne(cmd, taskId);
      return statusAll(cmd, opts);
    });

  addFilterOptions(program.command("list").description("list tasks, oldest first (text: one task id a line)"), "")
    .addHelpText("after", examples("agent-lanes list --lane review --active-only", "agent-lanes list --json", "agent-lanes list --limit 20 --state completed"))
    .action(async (opts: FilterOptions, cmd: Command) => {
      const views = await import("../views.js");
      await withQueue(cmd, async ({ store }) => {
        const now = new Date();
        // Text is one task id a line: the ids need no views.
        const ids = globals(cmd).json ? null : oldestFirst(await store.list(listOptions(opts)), opts).map((t) => t.id);
        const list = ids ? [] : await listed(store, opts, now);
        for (const problem of store.problems()) warn(`agent-lanes: warning: skipped unreadable task ${problem.taskId} (${problem.file}): ${problem.message}`);
        if (ids) {
          if (ids.length > 0) writeOut(`${ids.join("\n")}\n`);
          return;
        }
        await emitList(cmd, { status: "ok", count: list.length }, "tasks", list, () => list.map((t) => t.row.id), (item, pad) => views.listedJson(item, now, pad));
      });
    });
}

/**
 * The tasks of list and status --all, oldest first: views of the live ones,
 * and of finished ones their rendered text where the store keeps it (a queue
 * with a long history prints it without parsing each task again).
 */
async function listed(store: Store, opts: FilterOptions, now: Date): Promise<ListedTask[]> {
  const views = await import("../views.js");
  const items = store.renderedSummaries
    ? await store.renderedSummaries(listOptions(opts), views.finishedRenderer())
    : (await store.summaries(listOptions(opts))).map((summary) => ({ summary }));
  return oldestFirst(views.listedTasks(items, now), opts);
}

async function statusWatch(cmd: Command, opts: StatusOptions): Promise<void> {
  if (!process.stdout.isTTY || globals(cmd).json) {
    throw new CliError("status --watch needs a terminal (stdout is not a TTY); use status --all --json in scripts");
  }
  const { watchBoard } = await import("../watch.js");
  await withQueue(cmd, async ({ store, queueLabel }) => {
    await watchBoard({
      store,
      queueRoot: queueLabel,
      lane: opts.lane,
      out: process.stdout,
      input: process.stdin,
      pauses: async () => (await readPauses(store)).pauses.filter((p) => p.active),
    });
  });
}

async function statusOne(cmd: Command, taskId: string): Promise<void> {
  const views = await import("../views.js");
  await withQueue(cmd, async ({ store }) => {
    const view = await views.viewOf(store, await store.get(taskId));
    await emit(cmd, { status: "ok", task: view }, () => views.viewLines(view));
  });
}

async function statusAll(cmd: Command, opts: StatusOptions): Promise<void> {
  const views = await import("../views.js");
  await withQueue(cmd, async ({ store, queueLabel }) => {
    const now = new Date();
    const list = await listed(store, opts, now);
    const scanProblems = store.problems();
    const rows = list.map((t) => t.row);
    const summary = views.summarize(rows);
    const { pauses, warnings } = await readPauses(store);
    const problems: Problem[] = [
      ...scanProblems.map((p) => ({ task_id: p.taskId, file: p.file, message: p.message })),
      ...warnings.map((message) => ({ task_id: null, file: null, message })),
    ];
    const activePauses = pauses.filter((p) => p.active);
    let nextAction = views.queueNextAction(summary, rows, scanProblems);
    if (activePauses.length > 0) nextAction += `; paused vendor(s): ${activePauses.map((p) => p.vendor).join(", ")} (dispatchers of them claim nothing until the pause ends)`;
    for (const login of activePauses.filter((p) => p.kind === "needs-login")) {
      nextAction += `; ${login.vendor} needs a login: ${login.fix ?? `log its CLI in, then agent-lanes resume --vendor ${login.vendor}`}`;
    }
    const payload = { status: "ok", count: list.length, summary, next_action: nextAction, pauses, problems, queue_root: queueLabel };
    await emitList(cmd, payload, "tasks", list, () => [
      `queue_root=${queueLabel}`,
      `summary: queued=${summary.queued} claimed=${summary.claimed} completed=${summary.completed} failed=${summary.failed} ` +
        `stale_claims=${summary.stale_claims} missing_response=${summary.missing_response}`,
      ...rows.map(views.viewRow),
      ...pauses.map((p) => `pause: ${p.description}${p.active ? "" : " (over)"}`),
      ...problems.map((p) => views.oneLine(`problem: ${p.file ? `${p.file}: ` : ""}${p.message}`)),
      `next_action=${nextAction}`,
    ], (item, pad) => views.listedJson(item, now, pad));
  });
}

interface PauseEntry {
  vendor: string;
  active: boolean;
  kind?: string;
  fix?: string;
  description: string;
  [key: string]: unknown;
}

/** Vendor pauses of the queue (supervisor/pauses.ts); never fails the status command. */
async function readPauses(store: Store): Promise<{ pauses: PauseEntry[]; warnings: string[] }> {
  try {
    const { listPauses, describePause } = await import("../../supervisor/pauses.js");
    const now = new Date();
    const { pauses, warnings } = await listPauses(store, now);
    return { pauses: pauses.map((p) => ({ ...p, description: describePause(p, now) })), warnings };
  } catch (error) {
    return { pauses: [], warnings: [`cannot read vendor pauses: ${error instanceof Error ? error.message : String(error)}`] };
  }
}
