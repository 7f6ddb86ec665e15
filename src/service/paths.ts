// Where things live: the package (templates, CLI entry), the per-platform
// folders units are installed to, and the instance naming scheme.

import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { LAUNCHD_LABEL_PREFIX, SERVICE_DEFAULTS, SYSTEMD_UNIT_PREFIX } from "./defaults.js";
import { ServiceError } from "./errors.js";

/** The two service managers we render for. */
export type ServicePlatform = "systemd" | "launchd";

/** The package's root folder: the nearest folder with a package.json above `fromUrl` (works from src/ and dist/src/). */
export function findPackageRoot(fromUrl: string = import.meta.url): string {
  let dir = path.dirname(fileURLToPath(fromUrl));
  for (;;) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new ServiceError(`no package.json above ${fileURLToPath(fromUrl)}; reinstall agent-lanes`);
    dir = parent;
  }
}

/** The home folder from the environment given (tests point HOME at a temp folder). */
export function homeDir(env: NodeJS.ProcessEnv): string {
  const home = env.HOME;
  if (home === undefined || home === "" || !path.isAbsolute(home)) {
    throw new ServiceError("HOME is not set to an absolute path; set HOME to your home folder and retry");
  }
  return home;
}

/** Folder for user unit files: $XDG_CONFIG_HOME/systemd/user, else ~/.config/systemd/user. */
export function systemdUnitDir(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(homeDir(env), ".config");
  return path.join(base, "systemd", "user");
}

/** Folder for per-user launchd jobs. */
export function launchAgentsDir(env: NodeJS.ProcessEnv): string {
  return path.join(homeDir(env), "Library", "LaunchAgents");
}

/** Folder the launchd jobs write their output to. */
export function launchdLogDir(env: NodeJS.ProcessEnv): string {
  return path.join(homeDir(env), "Library", "Logs", "agent-lanes");
}

/** The systemd unit of an instance: agent-lanes-dispatch@<name>.service. */
export function systemdUnitName(name: string): string {
  return `${SYSTEMD_UNIT_PREFIX}${name}.service`;
}

/** The launchd label of an instance: dev.agent-lanes.dispatch.<name>. */
export function launchdLabel(name: string): string {
  return `${LAUNCHD_LABEL_PREFIX}${name}`;
}

/** The instance name of a unit file or plist name we wrote, or null for any other file. */
export function nameFromFile(platform: ServicePlatform, fileName: string): string | null {
  const [prefix, suffix] = platform === "systemd" ? [SYSTEMD_UNIT_PREFIX, ".service"] : [LAUNCHD_LABEL_PREFIX, ".plist"];
  if (!fileName.startsWith(prefix) || !fileName.endsWith(suffix)) return null;
  const name = fileName.slice(prefix.length, fileName.length - suffix.length);
  return isValidName(name) ? name : null;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Instance names are safe in a unit name, a launchd label and a file name. */
export function isValidName(name: string): boolean {
  return NAME.test(name) && name.length <= SERVICE_DEFAULTS.maxNameLength;
}

// Config files inside these folders are named after the folder above them:
// <project>/handoff/handoff.yaml (init) and <pool>/.agent-lanes-queue/handoff.yaml (init-pool).
const GENERATED_CONFIG_DIRS = new Set(["handoff", ".agent-lanes-queue"]);

/** The short project part of a default name: the folder the queue belongs to, slugged. */
export function projectSlug(configPath: string): string {
  let dir = path.dirname(configPath);
  if (GENERATED_CONFIG_DIRS.has(path.basename(dir))) dir = path.dirname(dir);
  const slug = path
    .basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, SERVICE_DEFAULTS.maxSlugLength)
    .replace(/^-+|-+$/g, "");
  return slug === "" ? "queue" : slug;
}

/** The default instance name: `<vendor>-<project>`, so one dispatcher per vendor per queue. */
export function defaultInstanceName(vendor: string, configPath: string): string {
  return `${vendor}-${projectSlug(configPath)}`.slice(0, SERVICE_DEFAULTS.maxNameLength);
}
