#!/usr/bin/env node
// The agent-lanes command. Only commander and the small command definitions
// load at start-up; each command's work (store, server, supervisor, logging)
// is imported inside its action, so one-shot commands start fast.

import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { registerCoreCommands } from "./commands/core.js";
import { registerDemoCommand } from "./commands/demo.js";
import { registerDispatchCommand } from "./commands/dispatch.js";
import { registerServeCommand } from "./commands/serve.js";
import { registerServiceCommand } from "./commands/service.js";
import { DEFAULT_CONFIG_PATH } from "./context.js";
import { CliError, EXIT } from "./errors.js";

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command("agent-lanes")
    .description("Hand tasks between AI coding agents through a queue folder.")
    .version(packageVersion(), "-V, --version")
    .option("--config <path>", "engine config (handoff.yaml)", DEFAULT_CONFIG_PATH)
    .option("--store <path>", "queue folder (overrides queue_root of the config)")
    .option("--json", "print JSON payloads (also accepted after the command)")
    .option("--debug", "print stack traces on errors (or AGENT_LANES_DEBUG=1)")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ outputError: (text, write) => write(text) });
  registerCoreCommands(program);
  registerServeCommand(program);
  registerDispatchCommand(program);
  registerDemoCommand(program);
  registerServiceCommand(program);
  return program;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message.split("\n")[0] ?? String(error);
  return String(error);
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  const debug = argv.includes("--debug") || process.env.AGENT_LANES_DEBUG === "1";
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are exits with code 0; usage errors were already printed by commander.
      return error.exitCode === 0 ? EXIT.ok : EXIT.error;
    }
    const exitCode = error instanceof CliError ? error.exitCode : EXIT.error;
    process.stderr.write(`agent-lanes: ${describe(error)}\n`);
    if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return exitCode;
  }
}

const code = await main();
process.exitCode = code;
