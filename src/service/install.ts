// The service commands as a library: install, uninstall, status, logs, list.
// Each takes a ServiceContext (platform, env, cwd, runner) and returns plain
// data the CLI prints; nothing here knows about commander or stdout.

import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { createCommandLog, type ServiceBackend, type ServiceContext, type ServiceState, UNKNOWN_STATE } from "./backend.js";
import { backendFor } from "./context.js";
import { DEFAULT_CONFIG, SERVICE_DEFAULTS } from "./defaults.js";
import { defaultInstanceName, isValidName, nameFromFile, type ServicePlatform } from "./paths.js";
import { renderService } from "./render.js";
import { systemctlHint } from "./systemd.js";
import { resolveServiceSpec, type InstallOptions } from "./spec.js";
import { ServiceError } from "./errors.js";

/** Install options plus what to do about an existing file. */
export interface InstallRequest extends InstallOptions {
  /** Replace an installed unit whose settings differ. */
  force?: boolean;
  /** Render and report, write and run nothing. */
  dryRun?: boolean;
}

/** What an install did (or, for a dry run, would do). */
export interface InstallResult {
  status: "installed" | "unchanged" | "replaced" | "dry-run";
  name: string;
  platform: ServicePlatform;
  unit: string;
  file: string;
  /** The rendered file. */
  content: string;
  /** Every command run, in order, as argv. */
  commands: string[][];
  logs: string;
  warnings: string[];
}

/** Picks an installed instance: by name, by vendor (+ config) as install would name it, or the only one installed. */
export interface InstanceSelector {
  name?: string;
  vendor?: string;
  config?: string;
}

/** One installed instance as `service list` and `service status` show it. */
export interface ServiceInfo extends ServiceState {
  name: string;
  platform: ServicePlatform;
  unit: string;
  file: string;
  vendor: string | null;
  config: string | null;
  store: string | null;
  logs: string;
}

function commandLogFor(context: ServiceContext) {
  return createCommandLog(context.runner, context.platform === "systemd" ? systemctlHint : () => "");
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

function clip(text: string): string {
  const trimmed = text.trim();
  return JSON.stringify(trimmed.length > 70 ? `${trimmed.slice(0, 67)}...` : trimmed);
}

/** The first line where an installed file and a fresh render differ, for the conflict message. */
export function firstDifference(installed: string, rendered: string): { line: number; installed: string; rendered: string } {
  const a = installed.split("\n");
  const b = rendered.split("\n");
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    if (a[i] !== b[i]) return { line: i + 1, installed: a[i] ?? "", rendered: b[i] ?? "" };
  }
  return { line: 0, installed: "", rendered: "" };
}

/** Render, write, enable and start a dispatcher service; idempotent when nothing changed. */
export async function installService(request: InstallRequest, context: ServiceContext): Promise<InstallResult> {
  const spec = resolveServiceSpec(request, context);
  const backend = backendFor(context);
  const content = await renderService(context.platform, spec, context.packageRoot);
  const file = backend.fileFor(spec.name);
  const base = { name: spec.name, platform: context.platform, unit: backend.unitFor(spec.name), file, content, logs: backend.logsAt(spec.name), warnings: spec.warnings };
  if (request.dryRun === true) return { ...base, status: "dry-run", commands: [] };

  const installed = await readIfExists(file);
  if (installed !== null && installed !== content && request.force !== true) {
    const diff = firstDifference(installed, content);
    throw new ServiceError(
      `${file} already exists with other settings (line ${diff.line} is ${clip(diff.installed)}, would be ${clip(diff.rendered)}); pass --force to replace it or --name to install another instance`,
    );
  }
  const change = installed === null ? "fresh" : installed === content ? "unchanged" : "replaced";
  const log = commandLogFor(context);
  await backend.install(spec, content, change, log);
  const status = change === "fresh" ? "installed" : change;
  return { ...base, status, commands: log.commands };
}

/** Names of the instances whose files are in the platform's folder, sorted. */
export async function installedNames(backend: ServiceBackend): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(backend.dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return entries
    .map((entry) => nameFromFile(backend.platform, entry))
    .filter((name): name is string => name !== null)
    .sort();
}

/** The instance a selector names; errors say how to pick one. */
export async function resolveInstanceName(selector: InstanceSelector, context: ServiceContext): Promise<string> {
  if (selector.name !== undefined) {
    if (!isValidName(selector.name)) throw new ServiceError(`Expected \`--name\` to be an instance name from \`agent-lanes service list\`, got \`${selector.name}\` (string)`);
    return selector.name;
  }
  if (selector.vendor !== undefined) {
    return defaultInstanceName(selector.vendor, path.resolve(context.cwd, selector.config ?? DEFAULT_CONFIG));
  }
  const names = await installedNames(backendFor(context));
  if (names.length === 1) return names[0] as string;
  if (names.length === 0) throw new ServiceError("no agent-lanes service is installed; install one with `agent-lanes service install --vendor claude`");
  throw new ServiceError(`${names.length} agent-lanes services are installed (${names.join(", ")}); pass --name to pick one`);
}

async function requireInstalled(backend: ServiceBackend, name: string): Promise<{ file: string; content: string }> {
  const file = backend.fileFor(name);
  const content = await readIfExists(file);
  if (content === null) throw new ServiceError(`no agent-lanes service named ${name}: ${file} does not exist; see \`agent-lanes service list\``);
  return { file, content };
}

function infoFor(backend: ServiceBackend, name: string, content: string, state: ServiceState): ServiceInfo {
  const command = backend.readCommand(content);
  return {
    name,
    platform: backend.platform,
    unit: backend.unitFor(name),
    file: backend.fileFor(name),
    vendor: command.vendor,
    config: command.config,
    store: command.store,
    logs: backend.logsAt(name),
    ...state,
  };
}

/** What an uninstall did. */
export interface UninstallResult {
  status: "uninstalled";
  name: string;
  platform: ServicePlatform;
  unit: string;
  file: string;
  commands: string[][];
}

/** Stop, disable and remove an installed instance. */
export async function uninstallService(selector: InstanceSelector, context: ServiceContext): Promise<UninstallResult> {
  const backend = backendFor(context);
  const name = await resolveInstanceName(selector, context);
  const { file } = await requireInstalled(backend, name);
  const log = commandLogFor(context);
  await backend.uninstall(name, log);
  return { status: "uninstalled", name, platform: backend.platform, unit: backend.unitFor(name), file, commands: log.commands };
}

/** The run state of one installed instance. */
export async function serviceStatus(selector: InstanceSelector, context: ServiceContext): Promise<ServiceInfo> {
  const backend = backendFor(context);
  const name = await resolveInstanceName(selector, context);
  const { content } = await requireInstalled(backend, name);
  return infoFor(backend, name, content, await backend.status(name, commandLogFor(context)));
}

/** Every installed instance with its state (one platform query for all). */
export async function listServices(context: ServiceContext): Promise<ServiceInfo[]> {
  const backend = backendFor(context);
  const names = await installedNames(backend);
  const states = await backend.states(names, commandLogFor(context));
  const infos: ServiceInfo[] = [];
  for (const name of names) {
    const content = (await readIfExists(backend.fileFor(name))) ?? "";
    infos.push(infoFor(backend, name, content, states.get(name) ?? { ...UNKNOWN_STATE }));
  }
  return infos;
}

/** Options of `service logs`. */
export interface LogsOptions extends InstanceSelector {
  follow?: boolean;
  /** @default 100 */
  lines?: number | string;
}

/** Stream an instance's logs (journal or log file) to the context's output; follow until interrupted with `follow`. */
export async function serviceLogs(options: LogsOptions, context: ServiceContext): Promise<void> {
  const lines = options.lines === undefined ? SERVICE_DEFAULTS.logLines : Number(options.lines);
  if (!Number.isSafeInteger(lines) || lines < 0 || (typeof options.lines === "string" && !/^\d+$/.test(options.lines))) {
    throw new ServiceError(`Expected \`--lines\` to be an integer >= 0, got \`${String(options.lines)}\` (${typeof options.lines})`);
  }
  const backend = backendFor(context);
  const name = await resolveInstanceName(options, context);
  const viewer = backend.platform === "systemd" ? "journalctl" : "tail";
  const exitCode = await backend.logs(name, { follow: options.follow === true, lines });
  if (exitCode !== 0) throw new ServiceError(`${viewer} exited with ${exitCode} reading the logs of ${name} (${backend.logsAt(name)})`);
}
