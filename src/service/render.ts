// Render a ServiceSpec through the templates in systemd/ and launchd/, and
// read the dispatcher command back out of a rendered file (service list).

import { promises as fs } from "node:fs";
import path from "node:path";
import { SERVICE_DEFAULTS, TEMPLATE_FILES } from "./defaults.js";
import { findPackageRoot, launchdLabel, type ServicePlatform } from "./paths.js";
import { parseSystemdWords, systemdEnvironment, systemdExecLine, xmlEscape, xmlUnescape } from "./quote.js";
import { dispatcherArgv, type ServiceSpec } from "./spec.js";
import { ServiceError } from "./errors.js";

/** Read a platform's template from the package (or from `root` when given). */
export async function loadTemplate(platform: ServicePlatform, root: string = findPackageRoot()): Promise<string> {
  const file = path.join(root, TEMPLATE_FILES[platform]);
  try {
    return await fs.readFile(file, "utf8");
  } catch (error) {
    throw new ServiceError(`service template is missing: ${file}; reinstall agent-lanes`, { cause: error });
  }
}

/** Fill `{{KEY}}` placeholders with already-escaped values and drop `##` template notes. */
export function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  const kept = template
    .split("\n")
    .filter((line) => !line.startsWith("##"))
    .join("\n");
  return kept.replace(/\{\{([A-Z_]+)\}\}/g, (_whole, key: string) => {
    const value = values[key];
    if (value === undefined) throw new ServiceError(`service template placeholder {{${key}}} has no value; reinstall agent-lanes`);
    return value;
  });
}

/** The systemd unit text for a spec. */
export function renderSystemdUnit(spec: ServiceSpec, template: string): string {
  return fillTemplate(template, {
    NAME: spec.name,
    VENDOR: spec.vendor,
    EXEC_START: systemdExecLine(dispatcherArgv(spec)),
    PATH_ENVIRONMENT: systemdEnvironment("PATH", spec.path),
    RESTART_DELAY_SECONDS: String(SERVICE_DEFAULTS.restartDelaySeconds),
    START_LIMIT_INTERVAL_SECONDS: String(SERVICE_DEFAULTS.startLimitIntervalSeconds),
    START_LIMIT_BURST: String(SERVICE_DEFAULTS.startLimitBurst),
    STOP_TIMEOUT_SECONDS: String(spec.stopTimeoutSeconds),
  });
}

/** The launchd plist text for a spec. */
export function renderLaunchdPlist(spec: ServiceSpec, template: string): string {
  return fillTemplate(template, {
    LABEL: xmlEscape(launchdLabel(spec.name)),
    PROGRAM_ARGUMENTS: dispatcherArgv(spec)
      .map((arg) => `    <string>${xmlEscape(arg)}</string>`)
      .join("\n"),
    PATH: xmlEscape(spec.path),
    HOME: xmlEscape(spec.home),
    THROTTLE_INTERVAL_SECONDS: String(SERVICE_DEFAULTS.throttleIntervalSeconds),
    STOP_TIMEOUT_SECONDS: String(spec.stopTimeoutSeconds),
    LOG_FILE: xmlEscape(spec.logFile),
  });
}

/** Render a spec for a platform with the package's template. */
export async function renderService(platform: ServicePlatform, spec: ServiceSpec, root?: string): Promise<string> {
  const template = await loadTemplate(platform, root);
  return platform === "systemd" ? renderSystemdUnit(spec, template) : renderLaunchdPlist(spec, template);
}

/** What `service list` shows of an installed file: the dispatcher's argv and the flags that identify its queue. */
export interface RenderedCommand {
  argv: string[];
  vendor: string | null;
  config: string | null;
  store: string | null;
}

function describeArgv(argv: string[]): RenderedCommand {
  const flag = (name: string): string | null => {
    const at = argv.indexOf(name);
    return at >= 0 ? (argv[at + 1] ?? null) : null;
  };
  return { argv, vendor: flag("--vendor"), config: flag("--config"), store: flag("--store") };
}

/** Read ExecStart back out of a unit file (hand-edited files may lack it). */
export function readSystemdCommand(content: string): RenderedCommand {
  const line = content.split("\n").find((candidate) => candidate.startsWith("ExecStart="));
  return describeArgv(line === undefined ? [] : parseSystemdWords(line.slice("ExecStart=".length), { exec: true }));
}

/** Read ProgramArguments back out of a plist we rendered. */
export function readLaunchdCommand(content: string): RenderedCommand {
  const match = /<key>ProgramArguments<\/key>\s*<array>([\s\S]*?)<\/array>/.exec(content);
  const body = match?.[1] ?? "";
  const argv = [...body.matchAll(/<string>([\s\S]*?)<\/string>/g)].map((m) => xmlUnescape(m[1] ?? ""));
  return describeArgv(argv);
}
