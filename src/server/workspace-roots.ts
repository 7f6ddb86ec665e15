// Over HTTP the operator, not the client, decides which folders tasks may
// read from and write to (issue 11 item 2): a client's workspace_root must
// lie inside one of the roots the server allows (the config's workspace_root
// and every `serve --allow-root DIR`). Both sides are compared as real paths,
// so a symlink inside an allowed root cannot lead out of it.

import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { isInside } from "../store/layout.js";
import { ValidationError } from "../store/errors.js";
import { ServerConfigError } from "./errors.js";

/** `~` and `~/x` as the store reads them. */
function expandHome(value: string): string {
  return value === "~" || value.startsWith("~/") ? path.join(os.homedir(), value.slice(1)) : value;
}

/** The real paths of the allowed roots; each must be an existing folder. */
export async function resolveAllowedRoots(roots: readonly string[]): Promise<string[]> {
  const resolved: string[] = [];
  for (const root of roots) {
    const absolute = path.resolve(expandHome(root));
    const stat = await fs.stat(absolute).catch(() => null);
    if (!stat?.isDirectory()) throw new ServerConfigError(`allowed root is not a folder: ${absolute} (check --allow-root or the config's workspace_root)`);
    resolved.push(await fs.realpath(absolute));
  }
  return [...new Set(resolved)];
}

/**
 * The real path of a client's workspace_root, or a 400 (ValidationError)
 * when it is not a folder inside an allowed root.
 */
export async function confineWorkspaceRoot(value: string, allowedRoots: readonly string[]): Promise<string> {
  if (value.includes("\0")) throw new ValidationError("workspace_root contains a NUL byte");
  const absolute = path.resolve(expandHome(value));
  const stat = await fs.stat(absolute).catch(() => null);
  if (!stat?.isDirectory()) throw new ValidationError(`workspace_root is not a folder: ${absolute}`);
  const real = await fs.realpath(absolute);
  if (!allowedRoots.some((root) => isInside(root, real))) {
    const roots = allowedRoots.length === 0 ? "none" : allowedRoots.join(", ");
    throw new ValidationError(
      `workspace_root is outside the roots this server allows: ${real} (allowed: ${roots}; the operator adds one with serve --allow-root DIR)`,
    );
  }
  return real;
}
