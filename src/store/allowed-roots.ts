// Which workspaces a remote client may name. Over HTTP the client sends
// workspace_root itself, so confining request and response paths to it would
// confine nothing (`"workspace_root": "/"`): the server checks it against the
// roots its operator allows (the config's workspace_root and every
// `serve --allow-root DIR`) before anything is read. Both sides are compared
// as real paths, so a symlink inside an allowed root cannot lead out of it.
// The one implementation: `serve` resolves its roots here and the HTTP
// routes (POST /tasks, the dashboard's retry) check with assertAllowedRoot.

import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RootNotAllowedError } from "./errors.js";
import { isInside } from "./layout.js";

/** `~` and `~/x` as the store reads them (create.ts). */
function expandHome(value: string): string {
  return value === "~" || value.startsWith("~/") ? path.join(os.homedir(), value.slice(1)) : value;
}

export interface ResolveRootsOptions {
  /**
   * Throw (RootNotAllowedError naming the root) when a root is not an
   * existing folder, instead of leaving it out: what `serve` wants at start,
   * where a missing root is a typo in --allow-root or the config.
   * @default false
   */
  requireFolders?: boolean;
}

/** Real paths of the allowed roots (`~` expanded); a root that does not exist is left out unless `requireFolders`. */
export async function resolveAllowedRoots(roots: readonly string[], options: ResolveRootsOptions = {}): Promise<string[]> {
  const resolved = await Promise.all(
    roots.map(async (root) => {
      const absolute = path.resolve(expandHome(root));
      const stat = await fs.stat(absolute).catch(() => null);
      if (!stat?.isDirectory()) {
        if (options.requireFolders) throw new RootNotAllowedError(`allowed root is not a folder: ${absolute} (check --allow-root or the config's workspace_root)`);
        return null;
      }
      return fs.realpath(absolute).catch(() => null);
    }),
  );
  return [...new Set(resolved.filter((root): root is string => root !== null))];
}

/**
 * The real path of a client-given `workspace_root` when it is a folder inside
 * one of `allowedRoots` (symlinks resolved on both sides); RootNotAllowedError
 * (code `root_not_allowed`, a 400 over HTTP) otherwise: not a string, not an
 * absolute path (`~/x` counts as one), not a folder, or outside every root.
 */
export async function assertAllowedRoot(workspaceRoot: unknown, allowedRoots: readonly string[]): Promise<string> {
  const given = typeof workspaceRoot === "string" ? expandHome(workspaceRoot) : workspaceRoot;
  if (typeof given !== "string" || given.trim() === "" || given.includes("\0") || !path.isAbsolute(given)) {
    throw new RootNotAllowedError(`workspace_root must be an absolute path to a folder, got ${JSON.stringify(workspaceRoot) ?? String(workspaceRoot)}`);
  }
  const real = await fs.realpath(given).catch(() => null);
  const allowed = await resolveAllowedRoots(allowedRoots);
  if (real === null || !allowed.some((root) => isInside(root, real))) {
    const shown = real ?? path.resolve(given);
    throw new RootNotAllowedError(
      `workspace_root is outside the allowed roots: ${shown} (allowed: ${allowed.join(", ") || "none"}; the server's operator adds one with serve --allow-root DIR)`,
    );
  }
  // Inside, but a file: no task can live there.
  if (!(await fs.stat(real)).isDirectory()) throw new RootNotAllowedError(`workspace_root is not a folder: ${real}`);
  return real;
}
