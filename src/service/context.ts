// Build a ServiceContext from the real process, with any part overridden.

import { setTimeout as delay } from "node:timers/promises";
import type { ServiceBackend, ServiceContext } from "./backend.js";
import { createLaunchdBackend } from "./launchd.js";
import { findPackageRoot, type ServicePlatform } from "./paths.js";
import { createRunner } from "./runner.js";
import { createSystemdBackend } from "./systemd.js";
import { ServiceError } from "./errors.js";

/** The service manager of an OS, or an error for one we do not support. */
export function detectPlatform(nodePlatform: NodeJS.Platform = process.platform): ServicePlatform {
  if (nodePlatform === "linux") return "systemd";
  if (nodePlatform === "darwin") return "launchd";
  throw new ServiceError(
    `agent-lanes service supports Linux (systemd) and macOS (launchd), not ${nodePlatform}; run \`agent-lanes dispatch\` under your own supervisor`,
  );
}

/** Validate a `--platform` value. */
export function parsePlatform(value: string): ServicePlatform {
  if (value === "systemd" || value === "launchd") return value;
  throw new ServiceError(`Expected \`--platform\` to be systemd or launchd, got \`${value}\` (string)`);
}

/** Options for createServiceContext: any field, plus where streamed output goes. */
export type ContextOverrides = Partial<ServiceContext> & { stdout?: NodeJS.WritableStream; stderr?: NodeJS.WritableStream };

/** A context over the real process; every field can be replaced (tests pass env, cwd, platform). */
export function createServiceContext(overrides: ContextOverrides = {}): ServiceContext {
  const { stdout, stderr, ...fields } = overrides;
  const env = fields.env ?? process.env;
  return {
    platform: fields.platform ?? detectPlatform(),
    env,
    cwd: fields.cwd ?? process.cwd(),
    uid: fields.uid ?? process.getuid?.() ?? 0,
    runner: fields.runner ?? createRunner({ env, ...(stdout ? { stdout } : {}), ...(stderr ? { stderr } : {}) }),
    packageRoot: fields.packageRoot ?? findPackageRoot(),
    execPath: fields.execPath ?? process.execPath,
    sleep: fields.sleep ?? ((ms) => delay(ms)),
  };
}

/** The backend for the context's platform. */
export function backendFor(context: ServiceContext): ServiceBackend {
  return context.platform === "systemd" ? createSystemdBackend(context) : createLaunchdBackend(context);
}
