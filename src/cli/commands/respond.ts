// `respond`: the reviewer's answer. The body comes from --file PATH (relative
// to the cwd), --file - (stdin), --body TEXT, else stdin — in that order, as
// in the Python CLI. Reading stdin from a terminal would hang an agent, so a
// missing body on a TTY is an error instead.

import { readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import type { TerminalState, Verdict } from "../../store/types.js";
import { emit, withQueue } from "../context.js";
import { CliError } from "../errors.js";
import { CLI_DEFAULTS, collect, count, examples, oneOf } from "../options.js";

const VERDICT_CHOICES: readonly Verdict[] = ["accept", "accept-with-follow-ups", "needs-revision"];
const STATUS_CHOICES: readonly TerminalState[] = ["completed", "failed"];

interface RespondOptions {
  claimToken?: string;
  file?: string;
  body?: string;
  reviewer: string;
  status: TerminalState;
  followUpRequired?: boolean;
  verdict?: Verdict;
  blockingCount: number;
  nonblockingCount: number;
  expectSha256?: string;
  metadata?: string[];
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The response body, from the first source given. */
export async function readBody(opts: Pick<RespondOptions, "file" | "body">, cwd: string = process.cwd()): Promise<string> {
  if (opts.file === "-") return readStdin();
  if (opts.file !== undefined) {
    const file = path.resolve(cwd, opts.file);
    try {
      // A plain system call: the thread pool (and loading fs/promises) would cost the command more.
      return readFileSync(file, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const problem = code === "ENOENT" ? "does not exist" : code === "EISDIR" ? "is a folder, not a file" : `cannot be read (${(error as Error).message})`;
      throw new CliError(`--file ${problem}: ${file}`, { cause: error });
    }
  }
  if (opts.body !== undefined) return opts.body;
  // node:tty only here: it brings net and the streams, which every other command would load.
  const { isatty } = await import("node:tty");
  if (isatty(0)) {
    throw new CliError("respond needs a body: give --file PATH, --file - (stdin), --body TEXT, or pipe it on stdin");
  }
  return readStdin();
}

/** Add `respond`. */
export function registerRespondCommand(program: Command): void {
  program
    .command("respond")
    .argument("<task-id>", "task to answer")
    .summary("answer a task (completed or failed)")
    .description("answer a task (completed or failed); the submitter's wait then writes the body to its response_path")
    .option("--claim-token <token>", "the token claim printed (required when the task is claimed)")
    .option("--file <path>", "read the body from a file, or - for stdin")
    .option("--body <text>", "the body as text (used when --file is not given; else stdin)")
    .option("--reviewer <name>", "who answers", CLI_DEFAULTS.reviewer)
    .option("--status <status>", "completed or failed", oneOf("--status", STATUS_CHOICES), "completed" as TerminalState)
    .option("--follow-up-required", "the work needs follow-ups")
    .option("--verdict <verdict>", `one of ${VERDICT_CHOICES.join(", ")}`, oneOf("--verdict", VERDICT_CHOICES))
    .option("--blocking-count <n>", "blocking findings (> 0 requires --verdict needs-revision)", count("--blocking-count"), 0)
    .option("--nonblocking-count <n>", "non-blocking findings", count("--nonblocking-count"), 0)
    .option("--expect-sha256 <hash>", "refuse if the request changed since you read it (the task's request_sha256)")
    .option("--metadata <key=value>", "metadata entry, repeatable (e.g. model_used=opus)", collect)
    .addHelpText(
      "after",
      examples(
        "agent-lanes respond <task-id> --claim-token <token> --verdict accept --file review.md --json",
        "agent-lanes respond <task-id> --claim-token <token> --verdict needs-revision --blocking-count 2 --body 'Fix the migration order.'",
        "some-agent | agent-lanes respond <task-id> --claim-token <token> --file -",
      ),
    )
    .action(async (taskId: string, opts: RespondOptions, cmd: Command) => {
      const { parseKeyValueFlags } = await import("../../config/task-file.js");
      const metadata = parseKeyValueFlags(opts.metadata ?? [], "--metadata");
      const body = await readBody(opts);
      await withQueue(cmd, async ({ store }) => {
        const { task, response } = await store.respond(taskId, {
          body,
          claimToken: opts.claimToken ?? null,
          reviewer: opts.reviewer,
          status: opts.status,
          followUpRequired: Boolean(opts.followUpRequired),
          verdict: opts.verdict ?? null,
          blockingCount: opts.blockingCount,
          nonblockingCount: opts.nonblockingCount,
          expectSha256: opts.expectSha256 ?? null,
          metadata,
        });
        // The lane's queued tasks (claimed ones are not waiting), as the Python tool counts them.
        const queueDepth = (await store.list({ lane: task.lane, states: ["queued"] })).length;
        const payload = {
          status: response.status,
          task_id: task.id,
          correlation_id: task.correlation_id,
          lane: task.lane,
          response_path: task.response_path,
          verdict: response.verdict,
          blocking_count: response.blocking_count,
          nonblocking_count: response.nonblocking_count,
          queue_depth: queueDepth,
          // The Python tool's words: orchestrator prompts match on them.
          next_action:
            "reviewer: stop after this task unless instructed otherwise; " +
            `orchestrator: run wait ${task.id}; ` +
            `monitor: re-arm wait --lane ${task.lane} --json if more tasks are expected`,
          response,
        };
        await emit(cmd, payload, [
          `status=${response.status}`,
          `task_id=${task.id}`,
          `verdict=${response.verdict ?? "none"}`,
          `response_path=${task.response_path}`,
          `queue_depth=${queueDepth}`,
          payload.next_action,
        ]);
      });
    });
}
