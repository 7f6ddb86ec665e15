// `wait` writes the response body to response_path, inside a workspace that
// agents write at the same time. A path checked and then written by name can
// be redirected between the two (a parent folder swapped for a symlink), so
// the write walks from the workspace root one folder at a time, holding each
// folder open and never following a symlink it has not checked; the body is
// written to a temp file inside the folder actually held, then renamed over
// the last component (rename replaces a symlink there, never follows it). On
// Linux every step goes through /proc/self/fd/<n>, which names the folder
// held rather than a path, so a swap after a check changes nothing; elsewhere
// each folder's real path is re-checked after it is opened.

import { randomBytes } from "node:crypto";
import { constants, existsSync, promises as fs } from "node:fs";
import path from "node:path";
import { withPath } from "./atomic.js";
import { ValidationError } from "./errors.js";
import { isInside } from "./layout.js";

const HAS_PROC_FD = process.platform === "linux" && existsSync("/proc/self/fd");
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY;

/** An open folder and the path that reaches exactly it. */
interface HeldDir {
  handle: fs.FileHandle;
  /** /proc/self/fd/<n> on Linux, else the folder's real path. */
  via: string;
  /** Its real path, for checks and messages. */
  real: string;
}

function outside(target: string, root: string, taskId: string, resolved?: string): ValidationError {
  const via = resolved ? ` resolves to ${resolved}` : "";
  return new ValidationError(`response_path is outside workspace_root: ${target}${via} (workspace_root is ${root})`, { taskId });
}

async function hold(handle: fs.FileHandle, fallbackReal: string): Promise<HeldDir> {
  if (HAS_PROC_FD) {
    const via = `/proc/self/fd/${handle.fd}`;
    return { handle, via, real: await fs.readlink(via) };
  }
  const real = await fs.realpath(fallbackReal);
  return { handle, via: real, real };
}

/** Open `name` inside `dir` as a folder, creating it if missing; a symlink is followed only when it stays inside `root`. */
async function descend(dir: HeldDir, name: string, root: string, target: string, taskId: string): Promise<HeldDir> {
  const child = path.join(dir.via, name);
  let created = false;
  // A few tries: the entry may change kind between the open and the look at it (someone swapping it).
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await hold(await fs.open(child, DIR_FLAGS | constants.O_NOFOLLOW), path.join(dir.real, name));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (attempt >= 8 || (code !== "ENOENT" && code !== "ELOOP" && code !== "ENOTDIR")) throw error;
      if (code === "ENOENT") {
        if (created) throw error;
        created = true;
        await fs.mkdir(child).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== "EEXIST") throw e;
        });
        continue;
      }
      const link = await fs.lstat(child).catch(() => null);
      if (link?.isDirectory()) continue;
      if (!link?.isSymbolicLink()) throw error;
      // A symlinked folder inside the workspace is fine; the check is on what is opened.
      const real = await fs.realpath(child).catch(() => null);
      if (real === null) continue;
      if (!isInside(root, real)) throw outside(target, root, taskId, real);
      const held = await hold(await fs.open(real, DIR_FLAGS), real);
      if (!isInside(root, held.real)) {
        await held.handle.close();
        throw outside(target, root, taskId, held.real);
      }
      return held;
    }
  }
}

export interface ResponseOutputOptions {
  /** The workspace the write is confined to: the config in force, never the task's own workspace_root. */
  workspaceRoot: string;
  taskId: string;
  /** Refuses a target the caller must never overwrite (the queue's own files). */
  refuse?: (realTarget: string) => Promise<void>;
}

/**
 * Write `body` to `responsePath` (absolute, or relative to the workspace),
 * confined to `workspaceRoot`: nothing is created before the path is checked,
 * no symlink leads the write outside, an existing file keeps its mode.
 * Returns the path written.
 */
export async function writeResponseBody(responsePath: string, body: string, options: ResponseOutputOptions): Promise<string> {
  const { taskId } = options;
  const root = await fs.realpath(options.workspaceRoot).catch(() => null);
  if (root === null) throw new ValidationError(`workspace_root is not a folder: ${options.workspaceRoot}`, { taskId });
  const target = path.resolve(root, responsePath);
  if (!isInside(root, target) || target === root) throw outside(target, root, taskId);
  const name = path.basename(target);
  const parts = path.relative(root, path.dirname(target)).split(path.sep).filter(Boolean);

  let dir = await hold(await fs.open(root, DIR_FLAGS), root);
  try {
    for (const part of parts) {
      const next = await descend(dir, part, root, target, taskId);
      await dir.handle.close();
      dir = next;
    }
    if (!isInside(root, dir.real)) throw outside(target, root, taskId, dir.real);
    await options.refuse?.(path.join(dir.real, name));
    const final = path.join(dir.via, name);
    const existing = await fs.lstat(final).catch(() => null);
    if (existing?.isDirectory()) throw new ValidationError(`response_path is a folder, not a file: ${target}`, { taskId });
    // An existing regular file keeps its mode (a 0600 answer stays private); a new one gets the umask's.
    const mode = existing?.isFile() ? existing.mode & 0o7777 : null;
    const tmp = path.join(dir.via, `.${name}.${randomBytes(8).toString("hex")}.tmp`);
    const handle = await fs.open(tmp, "wx", mode ?? 0o666);
    try {
      await handle.writeFile(body);
      if (mode !== null) await handle.chmod(mode);
      await handle.sync();
      await handle.close();
      await fs.rename(tmp, final);
    } catch (error) {
      await handle.close().catch(() => undefined);
      await fs.rm(tmp, { force: true });
      throw withPath(error, target);
    }
    await dir.handle.sync().catch(() => undefined);
    return path.join(dir.real, name);
  } finally {
    await dir.handle.close().catch(() => undefined);
  }
}
