// Turn install options (strings from the CLI or values from a caller) into a
// validated ServiceSpec: everything absolute, checked, and ready to render.

import { statSync } from "node:fs";
import path from "node:path";
import { CLI_ENTRY, DEFAULT_CONFIG, SERVICE_DEFAULTS, VENDOR_COMMANDS } from "./defaults.js";
import { defaultInstanceName, findPackageRoot, homeDir, isValidName, launchdLogDir, type ServicePlatform } from "./paths.js";
import { hasControlChars, isSystemdExecutable } from "./quote.js";
import { ServiceError } from "./errors.js";
import { isPostgresUrl } from "../store/postgres/url.js";

/** What `service install` accepts; numbers may come as strings from argv. */
export interface InstallOptions {
  /** Vendor the dispatcher serves (claude, codex, ...). Required. */
  vendor?: string;
  /** @default "handoff/handoff.yaml" relative to cwd */
  config?: string;
  /** Queue root; passed to the dispatcher only when given. */
  store?: string;
  concurrency?: number | string;
  /** Passed to the dispatcher when given; also sets the stop timeout. */
  graceSeconds?: number | string;
  /** @default "<vendor>-<project>" */
  name?: string;
  /** PATH for the service. @default the installing environment's PATH */
  path?: string;
  /** Node binary. @default process.execPath */
  node?: string;
  /** Dispatcher entry. @default <package>/dist/src/cli/main.js */
  cliPath?: string;
}

/** A fully resolved service instance. */
export interface ServiceSpec {
  name: string;
  vendor: string;
  node: string;
  cli: string;
  config: string;
  store: string | null;
  concurrency: number | null;
  graceSeconds: number | null;
  /** TimeoutStopSec / ExitTimeOut: the grace period plus a margin. */
  stopTimeoutSeconds: number;
  path: string;
  home: string;
  /** launchd only: where stdout and stderr go. */
  logFile: string;
  /** Non-fatal findings (an agent CLI not on the PATH). */
  warnings: string[];
}

/** Where relative paths resolve and which environment supplies HOME and PATH. */
export interface SpecContext {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** @default process.execPath */
  execPath?: string;
  /** Where dist/src/cli/main.js is looked for. @default the package this module is in */
  packageRoot?: string;
  /** Adds the platform's own limits on paths when given. */
  platform?: ServicePlatform;
}

const VENDOR = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function describe(value: unknown): string {
  return `\`${String(value)}\` (${typeof value})`;
}

function positiveInteger(flag: string, value: number | string | undefined, min: number): number | null {
  if (value === undefined) return null;
  const number = typeof value === "number" ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min) {
    throw new ServiceError(`Expected \`${flag}\` to be an integer >= ${min}, got ${describe(value)}`);
  }
  return number;
}

function checkPathText(flag: string, value: string): void {
  if (hasControlChars(value)) {
    throw new ServiceError(`${flag} ${JSON.stringify(value)} contains a control character; move the file to a path without one`);
  }
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The dispatcher's stop timeout for a grace period. */
export function stopTimeoutSeconds(graceSeconds: number | null): number {
  return (graceSeconds ?? SERVICE_DEFAULTS.dispatcherGraceSeconds) + SERVICE_DEFAULTS.stopMarginSeconds;
}

/** The PATH written into the unit: `--path` as given (absolute entries only), else the caller's PATH plus node's folder. */
export function servicePath(explicit: string | undefined, env: NodeJS.ProcessEnv, node: string): string {
  if (explicit !== undefined) {
    checkPathText("--path", explicit);
    const entries = explicit.split(":");
    const bad = entries.find((entry) => !path.isAbsolute(entry));
    if (bad !== undefined) {
      throw new ServiceError(`--path entry ${JSON.stringify(bad)} is not an absolute folder; give absolute folders separated by ":"`);
    }
    return explicit;
  }
  // Relative and empty entries would resolve against the service's working
  // folder, not the shell's: drop them. Node's folder goes last so `#!/usr/bin/env
  // node` agent CLIs run even when the installer was started by absolute path.
  const entries = (env.PATH ?? "").split(":").filter((entry) => path.isAbsolute(entry) && !hasControlChars(entry));
  const nodeDir = path.dirname(node);
  if (!entries.includes(nodeDir)) entries.push(nodeDir);
  return [...new Set(entries)].join(":");
}

/** First executable named `command` on a PATH string, or null. */
export function whichOnPath(command: string, searchPath: string): string | null {
  for (const dir of searchPath.split(":")) {
    const candidate = path.join(dir, command);
    try {
      const stat = statSync(candidate);
      if (stat.isFile() && (stat.mode & 0o111) !== 0) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Validate install options and resolve every path; throws one-line errors naming the flag or file and the fix. */
export function resolveServiceSpec(options: InstallOptions, context: SpecContext): ServiceSpec {
  const vendor = options.vendor;
  if (vendor === undefined || vendor === "") {
    throw new ServiceError("missing --vendor; pass the vendor this dispatcher serves, e.g. --vendor claude");
  }
  if (!VENDOR.test(vendor)) {
    throw new ServiceError(`Expected \`--vendor\` to be a vendor name like claude or codex, got ${describe(vendor)}`);
  }
  const home = homeDir(context.env);

  const config = path.resolve(context.cwd, options.config ?? DEFAULT_CONFIG);
  checkPathText("--config", config);
  if (!isFile(config)) {
    throw new ServiceError(`config file does not exist: ${config}; pass --config with the path of your handoff.yaml (agent-lanes init writes one)`);
  }

  let store: string | null = null;
  if (options.store !== undefined) {
    // A postgres:// URL (issue 18) is kept as written; a folder is made absolute.
    store = isPostgresUrl(options.store) ? options.store.trim() : path.resolve(context.cwd, options.store);
    checkPathText("--store", store);
  }

  const node = path.resolve(context.cwd, options.node ?? context.execPath ?? process.execPath);
  checkPathText("--node", node);
  if (!isFile(node)) throw new ServiceError(`node binary does not exist: ${node}; pass --node with the absolute path of a node binary`);
  if (context.platform === "systemd" && !isSystemdExecutable(node)) {
    throw new ServiceError(`--node ${node} has a quote or backslash, which systemd refuses in an executable path; pass --node with a path without them (a symlink works)`);
  }

  const cli = options.cliPath ?? path.join(context.packageRoot ?? findPackageRoot(), CLI_ENTRY);
  checkPathText("dispatcher entry", cli);
  if (!isFile(cli)) {
    throw new ServiceError(`dispatcher entry does not exist: ${cli}; build agent-lanes first (npm run build)`);
  }

  const name = options.name ?? defaultInstanceName(vendor, config);
  if (!isValidName(name)) {
    throw new ServiceError(
      `Expected \`--name\` to be letters, digits, "_", "." or "-" (at most ${SERVICE_DEFAULTS.maxNameLength}, starting with a letter or digit), got ${describe(name)}`,
    );
  }

  const concurrency = positiveInteger("--concurrency", options.concurrency, 1);
  const graceSeconds = positiveInteger("--grace-seconds", options.graceSeconds, 0);
  const servicePathValue = servicePath(options.path, context.env, node);

  const warnings: string[] = [];
  const command = VENDOR_COMMANDS[vendor];
  if (command !== undefined && whichOnPath(command, servicePathValue) === null) {
    warnings.push(`${command} is not on the service PATH; install it or pass --path with the folder that holds it`);
  }

  return {
    name,
    vendor,
    node,
    cli,
    config,
    store,
    concurrency,
    graceSeconds,
    stopTimeoutSeconds: stopTimeoutSeconds(graceSeconds),
    path: servicePathValue,
    home,
    logFile: path.join(launchdLogDir(context.env), `${name}.log`),
    warnings,
  };
}

/** The dispatcher command line the service runs. */
export function dispatcherArgv(spec: ServiceSpec): string[] {
  const argv = [spec.node, spec.cli, "dispatch", "--vendor", spec.vendor, "--config", spec.config];
  if (spec.store !== null) argv.push("--store", spec.store);
  if (spec.concurrency !== null) argv.push("--concurrency", String(spec.concurrency));
  if (spec.graceSeconds !== null) argv.push("--grace-seconds", String(spec.graceSeconds));
  argv.push("--log-format", "json");
  return argv;
}
