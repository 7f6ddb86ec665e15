// How the installer runs systemctl, launchctl, journalctl and tail: an
// injected runner, so tests put recording fakes on the PATH they pass in.

import { execa } from "execa";
import { ServiceError } from "./errors.js";

/** Result of a captured command. A command that could not start reports exitCode -1 and the reason in stderr. */
export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs service-manager commands. */
export interface ServiceRunner {
  /** Run and capture output. */
  run(file: string, args: readonly string[]): Promise<RunResult>;
  /** Run with output streamed to the user (logs, logs -f); resolves with the exit code. */
  stream(file: string, args: readonly string[]): Promise<number>;
}

export interface RunnerOptions {
  /** The whole environment of the commands (PATH finds them). */
  env: NodeJS.ProcessEnv;
  /** Where `stream` sends output; inherits the terminal when absent. */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

function notStarted(file: string, error: { code?: unknown; shortMessage?: string }): string {
  return error.code === "ENOENT" ? `${file} not found on PATH` : (error.shortMessage ?? `${file} could not be started`);
}

/** A runner over execa with an explicit environment (no merge with process.env). */
export function createRunner(options: RunnerOptions): ServiceRunner {
  const base = { env: options.env, extendEnv: false, reject: false, stdin: "ignore" } as const;
  return {
    async run(file, args) {
      const result = await execa(file, [...args], { ...base, stripFinalNewline: false });
      if (result.exitCode === undefined) return { exitCode: -1, stdout: "", stderr: notStarted(file, result as never) };
      return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
    },
    async stream(file, args) {
      const piped = options.stdout !== undefined || options.stderr !== undefined;
      const child = execa(file, [...args], { ...base, stdout: piped ? "pipe" : "inherit", stderr: piped ? "pipe" : "inherit", buffer: false });
      if (piped) {
        child.stdout?.pipe(options.stdout ?? process.stdout, { end: false });
        child.stderr?.pipe(options.stderr ?? process.stderr, { end: false });
      }
      const result = await child;
      if (result.exitCode === undefined) throw new ServiceError(`${notStarted(file, result as never)}; install it or check PATH`);
      return result.exitCode;
    },
  };
}

/** A command as one line for messages and "what it did" output. */
export function commandLine(file: string, args: readonly string[]): string {
  return [file, ...args].map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : JSON.stringify(word))).join(" ");
}
