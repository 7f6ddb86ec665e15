// The agent-lanes program (started by main.cjs). A command line defines only
// the command it names (commands/core.ts): commander needs no other
// definitions to parse it, and each command's work (store, server,
// supervisor, logging) is imported inside its action, so a one-shot command
// starts fast. --version defines none; the top-level help, `help` and an
// unknown name define them all (their definitions are small: what the
// long-running commands do loads only when one of them runs).

import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { groupOf, registerCommands } from "./commands/core.js";
import { DEFAULT_CONFIG_PATH } from "./context.js";
import { CliError, EXIT, describeFileSystemError } from "./errors.js";
import { CLI_DEFAULTS, positiveSeconds } from "./options.js";
import { writeErr, writeOut } from "./output.js";

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

/** Commander's usage errors as one `agent-lanes: ...` line (it writes "error: ...", sometimes with a hint line). */
function oneLine(text: string): string {
  const flat = text
    .replace(/^error:\s*/i, "")
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .join(" ");
  return `agent-lanes: ${flat} (see --help)\n`;
}

/** Global options of the program that take a value (their value is not the command name). */
const GLOBAL_WITH_VALUE = new Set(["--config", "--store", "--lock-timeout"]);

/**
 * What user arguments ask for before any command is defined: `name`, the
 * command (the first operand after the global options; null if none), and
 * `version`, true when commander will print the version whatever commands are
 * defined. It handles a program option wherever it stands (also after the
 * command name and after unknown options), so a literal -V or --version does
 * it unless it is a global option's value or follows `--`.
 */
export function readArgs(args: readonly string[]): { name: string | null; version: boolean } {
  let name: string | null = null;
  let version = false;
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] as string;
    if (arg === "--") {
      name ??= args[i + 1] ?? null;
      break;
    }
    if (GLOBAL_WITH_VALUE.has(arg)) {
      i += 1;
      continue;
    }
    if (arg === "-V" || arg === "--version") version = true;
    else if (name === null && !arg.startsWith("-")) name = arg;
  }
  return { name, version };
}

/** The program for `argv` (node, script, args...): the commands that can run with these arguments. */
export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command("agent-lanes")
    .description("Hand tasks between AI coding agents through a queue folder.")
    .version(packageVersion(), "-V, --version")
    .option("--config <path>", "engine config (handoff.yaml)", DEFAULT_CONFIG_PATH)
    .option("--store <path|url>", "queue folder or postgres://user@host/db URL (overrides queue_root of the config; else AGENT_LANES_STORE)")
    .option("--json", "print JSON payloads (also accepted after the command)")
    .option("--debug", "print stack traces on errors (or AGENT_LANES_DEBUG=1)")
    .option("--lock-timeout <seconds>", "commands that change the queue give up waiting for its lock after this long", positiveSeconds("--lock-timeout"), CLI_DEFAULTS.lockTimeoutSeconds)
    // Set before the commands are added: subcommands copy these settings when created.
    .exitOverride()
    .configureOutput({ writeOut, writeErr, outputError: (text, write) => write(oneLine(text)) })
    .addHelpText(
      "after",
      "\nExit codes: 0 success (an idle long-poll too), 1 error (one line on stderr), 2 timeout of wait TASK_ID.\n" +
        "Global options may also follow the command name: agent-lanes status <task-id> --json\n",
    );
  const { name, version } = readArgs(argv.slice(2));
  if (version) return program;
  const group = name === null ? undefined : groupOf(name);
  registerCommands(program, group ? [group] : undefined);
  return program;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message.split("\n")[0] ?? String(error);
  return String(error);
}

/**
 * Errors a user causes and can fix, known by name so their modules need not
 * load; anything else is a bug and gets a hint to look deeper.
 */
const EXPECTED_ERRORS = new Set([
  "StoreError", "InvalidTaskIdError", "UnknownTaskError", "TransitionError", "ValidationError", "CorruptFileError",
  "LockTimeoutError", "UnsafeFileError", "RootNotAllowedError", "TooDeepError", "StoreUnavailableError", "SchemaVersionError",
  "ConfigError", "InitError", "OptionsError", "VendorModuleError", "CommandLineError", "ServerConfigError", "DemoError", "ServiceError",
]);

/**
 * A CliError, also one thrown by a module outside the one-file bundle (the
 * long-running commands load their own copy of errors.js): known by name.
 */
function asCliError(error: unknown): CliError | null {
  if (error instanceof CliError) return error;
  return error instanceof Error && error.name === "CliError" && typeof (error as CliError).exitCode === "number" ? (error as CliError) : null;
}

function isExpected(error: unknown): boolean {
  return asCliError(error) !== null || (error instanceof Error && EXPECTED_ERRORS.has(error.name));
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const debug = argv.includes("--debug") || process.env.AGENT_LANES_DEBUG === "1";
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are exits with code 0; usage errors were already printed by commander.
      return error.exitCode === 0 ? EXIT.ok : EXIT.error;
    }
    const exitCode = asCliError(error)?.exitCode ?? EXIT.error;
    const fsError = describeFileSystemError(error);
    const hint = !debug && fsError === null && !isExpected(error) ? " (run with --debug for the stack trace)" : "";
    writeErr(`agent-lanes: ${fsError ?? describe(error)}${hint}\n`);
    if (debug && error instanceof Error && error.stack) writeErr(`${error.stack}\n`);
    return exitCode;
  }
}

/**
 * Run the command line of this process and set its exit code. A reader that
 * stops early (`agent-lanes list | head -1`) is not an error (output.ts).
 */
export async function run(): Promise<void> {
  process.exitCode = await main();
}
