// The generic adapter: any agent CLI that reads its input on stdin and prints
// its answer on stdout (`dispatch --vendor command --command "my-agent --flag"`).
// The command line is split into argv here, never handed to a shell, so a
// task's text can never become shell syntax and the user sees at start-up
// when their command needs a wrapper script instead.

import os from "node:os";
import { parse } from "shell-quote";
import type { Task } from "../src/store/types.js";
import { acceptsVendor, childEnv, extraArgs } from "./invoke.js";
import { failure, interruptedOutcome } from "./outcome.js";
import type { ChildResult, Invocation, Outcome, RunContext, VendorAdapter, VendorConfig } from "./types.js";
import { withVerdict } from "./verdict.js";

/** Kept for plugins that imported it from here; the reader lives in verdict.ts. */
export { parseVerdictLines } from "./verdict.js";

const NAME = "command";

/** Where a command line comes from, named in every error about it. */
const SOURCE = "--command (or dispatch.vendors.command.command in handoff.yaml)";

/** The command line is missing or uses shell syntax the adapter will not run. */
export class CommandLineError extends Error {
  override name = "CommandLineError";
}

/**
 * A `--command` value -> argv, without a shell. Quotes and backslashes work as
 * in sh; a leading `~/` of the executable expands to the home folder.
 * Pipes, lists, redirections, globs, `$VAR`, `$(...)`, backticks and comments
 * are refused: they would need a shell, which this adapter never starts.
 */
export function splitCommandLine(command: string): string[] {
  if (command.includes("`")) refuse(command, "command substitution with backticks");
  // $VAR, ${VAR} and $(...) come back as objects instead of being expanded.
  const entries = parse(command, (name: string) => ({ substitution: name }));
  const argv: string[] = [];
  for (const entry of entries) {
    if (typeof entry === "string") {
      argv.push(entry);
      continue;
    }
    if ("comment" in entry) refuse(command, `a comment (#${entry.comment}; quote a literal #)`);
    if ("substitution" in entry) {
      const name = String(entry.substitution);
      refuse(command, name === "" ? "a command substitution $(...)" : `the variable $${name} (quote it with '' to pass it literally)`);
    }
    if ("op" in entry && entry.op === "glob") refuse(command, `the glob ${JSON.stringify(entry.pattern)} (quote it to pass it literally)`);
    if ("op" in entry) refuse(command, `the shell operator ${JSON.stringify(entry.op)}`);
    refuse(command, "shell syntax");
  }
  const [executable, ...rest] = argv;
  if (executable === undefined || executable === "") {
    throw new CommandLineError(`${SOURCE} is empty; give the agent CLI to run, e.g. --command "my-agent --print"`);
  }
  if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(executable)) {
    refuse(command, `the environment assignment ${JSON.stringify(executable)} (set it in dispatch.vendors.command.env instead)`);
  }
  return [expandHome(executable), ...rest];
}

/** config.command (a string to split, or an argv list) -> argv; throws CommandLineError. */
export function commandArgv(command: VendorConfig["command"]): string[] {
  if (Array.isArray(command)) {
    const argv = command.map(String);
    if (argv.length === 0 || argv[0]?.trim() === "") {
      throw new CommandLineError(`${SOURCE} is an empty list; give the executable first, then its arguments`);
    }
    argv[0] = expandHome(argv[0] as string);
    return argv;
  }
  if (typeof command === "string") return splitCommandLine(command);
  throw new CommandLineError(`vendor command needs ${SOURCE}: the agent CLI to run, e.g. --command "my-agent --print"`);
}

/**
 * The generic adapter. config.command is required (string or list);
 * config.args are appended, config.env added to the child's environment.
 * Optional config.accepts: the `required_vendor` values it takes besides
 * unset and "any" (default ["command"]), e.g. ["command", "my-agent"].
 * The command is checked here, so a bad one stops the supervisor at start-up.
 */
export function createCommandAdapter(options: { config?: VendorConfig } = {}): VendorAdapter {
  const baseConfig = options.config ?? {};
  const baseArgv = commandArgv(baseConfig.command);
  const accepted = acceptedVendors(baseConfig.accepts);

  return {
    name: NAME,
    supportsEffort: false,

    accepts(task: Task): boolean {
      return accepted.some((vendor) => acceptsVendor(task, vendor));
    },

    invocation(_task: Task, ctx: RunContext): Invocation {
      const config = ctx.config ?? baseConfig;
      const argv = config.command === undefined || config.command === baseConfig.command ? baseArgv : commandArgv(config.command);
      const [file, ...lead] = argv as [string, ...string[]];
      return {
        file,
        args: [...lead, ...extraArgs(config)],
        env: childEnv({}, config),
        input: ctx.input,
        cwd: ctx.cwd,
        model: null,
        effort: null,
      };
    },

    settle(run: ChildResult): Outcome {
      return settleCommandRun(NAME, run);
    },
  };
}

/**
 * The plain stdin -> stdout contract: exit 0 with text is the answer; exit 0
 * with nothing, or a non-zero exit, is a failure that a retry would repeat.
 * Runs the supervisor ended or that never started come from the shared rules.
 */
export function settleCommandRun(vendor: string, run: ChildResult): Outcome {
  const interrupted = interruptedOutcome(vendor, run);
  if (interrupted) return interrupted;
  const metadata = { duration_ms: run.durationMs };
  if (run.exitCode !== 0) {
    const firstError = run.stderr.split(/\r?\n/).find((line) => line.trim() !== "")?.trim();
    return failure(vendor, run, firstError ?? "no error message on stderr", false, { quoteStdout: !firstError });
  }
  if (run.stdoutTruncated) {
    // Half an answer must not pass for a whole one.
    return failure(vendor, run, "its answer exceeded the supervisor's output capture limit", false);
  }
  const body = run.stdout.trim();
  if (body === "") return failure(vendor, run, "printed nothing on stdout (an answer is expected there)", false);
  return withVerdict({ kind: "completed", body, metadata });
}

function acceptedVendors(value: unknown): string[] {
  if (value === undefined || value === null) return [NAME];
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((item) => typeof item === "string" && item.trim() !== "")) {
    throw new CommandLineError(`dispatch.vendors.command.accepts must be a vendor name or a list of names (required_vendor values), got ${JSON.stringify(value)}`);
  }
  return list.map((item) => (item as string).trim());
}

function expandHome(executable: string): string {
  if (executable === "~") return os.homedir();
  if (executable.startsWith("~/")) return `${os.homedir()}${executable.slice(1)}`;
  return executable;
}

function refuse(command: string, what: string): never {
  throw new CommandLineError(
    `${SOURCE} ${JSON.stringify(command)} uses ${what}; agent-lanes runs the command without a shell: put pipelines, redirections and variables in a wrapper script and give its path`,
  );
}
