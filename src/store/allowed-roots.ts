// Which workspaces a remote client may name. Over HTTP the client sends
// workspace_root itself, so confining request and response paths to it would
// confine nothing (`"workspace_root": "/"`): the server checks it against the
// roots its operator allows (the config's workspace_root and every
// `serve --allow-root DIR`) before anything is read.

import { promises as fs } from "node:fs";
import path from "node:path";
import { RootNotAllowedError } from "./errors.js";
import { isInside } from "./layout.js";

/** Real paths of the allowed roots; a root that does not exist is left out. */
export async function resolveAllowedRoots(roots: readonly string[]): Promise<string[]> {
  const resolved = await Promise.all(roots.map((root) => fs.realpath(path.resolve(root)).catch(() => null)));
  return [...new Set(resolved.filter((root): root is string => root !== null))];
}

/**
 * The real path of a client-given `workspace_root` when it lies inside one of
 * `allowedRoots` (symlinks resolved on both sides); RootNotAllowedError
 * otherwise (also for a missing folder or a value that is not a path).
 */
export async function assertAllowedRoot(workspaceRoot: unknown, allowedRoots: readonly string[]): Promise<string> {
  if (typeof workspaceRoot !== "string" || workspaceRoot.trim() === "" || workspaceRoot.includes("\0") || !path.isAbsolute(workspaceRoot)) {
    throw new RootNotAllowedError(`workspace_root must be an absolute path to a folder, got ${JSON.stringify(workspaceRoot) ?? String(workspaceRoot)}`);
  }
  const real = await fs.realpath(workspaceRoot).catch(() => null);
  const allowed = await resolveAllowedRoots(allowedRoots);
  if (real === null || !allowed.some((root) => isInside(root, real))) {
    const shown = real ?? path.resolve(workspaceRoot);
    throw new RootNotAllowedError(
      `workspace_root is outside the allowed roots: ${shown} (allowed: ${allowed.join(", ") || "none"}; the server's operator adds one with serve --allow-root DIR)`,
    );
  }
  return real;
}
