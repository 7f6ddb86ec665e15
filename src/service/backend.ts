// The contract each service manager implements (systemd.ts, launchd.ts), the
// shared context they run in, and the command log that records what ran.

import { mkdir } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../store/atomic.js";
import type { ServicePlatform } from "./paths.js";
import type { RenderedCommand } from "./render.js";
import { commandLine, type RunResult, type ServiceRunner } from "./runner.js";
import type { ServiceSpec } from "./spec.js";
import { ServiceError } from "./errors.js";

/** Everything the installer reads from the outside world, injectable for tests. */
export interface ServiceContext {
  platform: ServicePlatform;
  /** HOME, XDG_CONFIG_HOME and PATH come from here, and it is the environment of every command run. */
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** launchd domain: gui/<uid>. */
  uid: number;
  runner: ServiceRunner;
  /** Holds systemd/, launchd/ and dist/. */
  packageRoot: string;
  /** Default node binary. */
  execPath: string;
  sleep(ms: number): Promise<void>;
}

/** How an install relates to what was on disk. */
export type InstallChange = "fresh" | "unchanged" | "replaced";

/** A service's run state as the platform reports it. */
export interface ServiceState {
  /** Known to the service manager (unit loaded / job bootstrapped). */
  loaded: boolean;
  /** The dispatcher process is running. */
  running: boolean;
  /** The platform's words: "active (running)", "failed (failed)", "running", "not loaded", ... */
  state: string;
  pid: number | null;
  lastExitCode: number | null;
  restarts: number | null;
  /** systemd UnitFileState (enabled, disabled, ...); null on launchd. */
  enabled: string | null;
}

/** Records every command in order and turns failures into one-line errors. */
export interface CommandLog {
  readonly commands: string[][];
  run(file: string, args: readonly string[], options?: { allowFailure?: boolean }): Promise<RunResult>;
}

/** A command log over a runner; `hint` is appended to failure messages (what to check). */
export function createCommandLog(runner: ServiceRunner, hint: (result: RunResult) => string = () => ""): CommandLog {
  const commands: string[][] = [];
  return {
    commands,
    async run(file, args, options = {}) {
      commands.push([file, ...args]);
      const result = await runner.run(file, args);
      if (result.exitCode !== 0 && options.allowFailure !== true) {
        const detail = `${result.stderr}\n${result.stdout}`.split("\n").find((line) => line.trim() !== "")?.trim() ?? "no output";
        throw new ServiceError(`${commandLine(file, args)} failed (exit ${result.exitCode}): ${detail}${hint(result)}`);
      }
      return result;
    },
  };
}

/** One service manager. */
export interface ServiceBackend {
  readonly platform: ServicePlatform;
  /** Folder of installed unit files / plists. */
  readonly dir: string;
  fileFor(name: string): string;
  /** Unit name or launchd label. */
  unitFor(name: string): string;
  /** Where this instance's logs are, as a short text for people. */
  logsAt(name: string): string;
  readCommand(content: string): RenderedCommand;
  /** Write (unless unchanged) and load, enable and start the service. */
  install(spec: ServiceSpec, content: string, change: InstallChange, log: CommandLog): Promise<void>;
  /** Stop and unload the service and remove its file. */
  uninstall(name: string, log: CommandLog): Promise<void>;
  status(name: string, log: CommandLog): Promise<ServiceState>;
  /** States of many instances in one call where the platform allows; missing names are unknown. */
  states(names: readonly string[], log: CommandLog): Promise<Map<string, ServiceState>>;
  /** Stream the logs; resolves with the viewer's exit code. */
  logs(name: string, options: { follow: boolean; lines: number }): Promise<number>;
}

/** The state reported when the platform could not be asked. */
export const UNKNOWN_STATE: ServiceState = {
  loaded: false,
  running: false,
  state: "unknown",
  pid: null,
  lastExitCode: null,
  restarts: null,
  enabled: null,
};

/** Write a unit file or plist atomically, 0644 (launchd refuses group- or world-writable plists). */
export async function writeServiceFile(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, content, { mode: 0o644 });
}
