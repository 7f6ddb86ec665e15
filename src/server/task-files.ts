// The files of one task, served read-only for the dashboard's task page
// (GET /api/tasks/:id/files/:which): its request file, its response file and
// its supporting files — nothing else. `which` names a field of the task
// (`request`, `response`, `supporting-N`), never a path, so no path from the
// request reaches the file system. The file must lie inside the task's
// workspace_root, that root inside the server's allowed roots (both compared
// as real paths: a symlink cannot lead out), and be a regular file (a FIFO,
// a device or a folder is refused without blocking); what is served is
// checked again on the opened descriptor. At most `maxBytes` are sent, with a
// notice when the file is longer. The reply is text/plain with nosniff and a
// CSP that allows nothing, so a served file can never run as a page.

import { constants, promises as fs } from "node:fs";
import path from "node:path";
import { assertAllowedRoot } from "../store/allowed-roots.js";
import { RootNotAllowedError } from "../store/errors.js";
import { isInside } from "../store/layout.js";
import type { Store, Task } from "../store/types.js";
import { HttpError } from "./errors.js";

/** The headers of every served file: plain text, never sniffed, never a page, never cached. */
export const FILE_HEADERS = {
  "content-type": "text/plain; charset=utf-8",
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; sandbox",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
} as const;

export interface ServedFile {
  /** The path the task names. */
  path: string;
  content: Buffer;
  /** The file's size in bytes (more than content.length when truncated). */
  size: number;
  truncated: boolean;
}

/** The path a task names for `which`: `request`, `response` or `supporting-N` (0-based). */
export function taskFilePath(task: Task, which: string): string {
  if (which === "request") return task.request_path;
  if (which === "response") return task.response_path;
  const m = /^supporting-(\d{1,4})$/.exec(which);
  const supporting = m ? task.supporting_paths[Number(m[1])] : undefined;
  if (supporting) return supporting.path;
  throw new HttpError(404, `task ${task.id} has no file ${JSON.stringify(which)} (request, response, supporting-0 … supporting-${task.supporting_paths.length - 1})`);
}

/** The kernel's path of an open descriptor (Linux), or null where /proc is missing. */
async function descriptorPath(fd: number): Promise<string | null> {
  return fs.readlink(`/proc/self/fd/${fd}`).catch(() => null);
}

/**
 * Read one file of a task for the dashboard. Errors are HttpErrors: 403 when
 * the file or its workspace lies outside what the server may show, 404 when
 * it does not exist, 400 when it is not a regular file.
 */
export async function readTaskFile(store: Store, task: Task, which: string, allowedRoots: readonly string[], maxBytes: number): Promise<ServedFile> {
  const named = taskFilePath(task, which);
  if (store.requestFiles && which !== "response") {
    // A database queue carries the request and supporting files as submitted: served from there, no file system involved.
    const stored = (await store.requestFiles(task.id)).find((f) => (which === "request" ? f.role === "request" : f.role === "supporting" && f.path === named));
    if (!stored) throw new HttpError(404, `task ${task.id}: ${named} is not stored with the task`);
    return { path: named, content: stored.content.subarray(0, maxBytes), size: stored.content.length, truncated: stored.content.length > maxBytes };
  }
  let root: string;
  try {
    root = await assertAllowedRoot(task.workspace_root, allowedRoots);
  } catch (error) {
    if (error instanceof RootNotAllowedError) throw new HttpError(403, `task ${task.id}: its workspace_root ${task.workspace_root} is outside the roots this server shows (serve --allow-root DIR)`);
    throw error;
  }
  const absolute = path.resolve(task.workspace_root, named);
  const outside = (): HttpError => new HttpError(403, `task ${task.id}: ${named} lies outside its workspace_root ${root}; refused`);
  let real: string;
  try {
    real = await fs.realpath(absolute);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new HttpError(404, `task ${task.id}: ${named} does not exist (yet)`);
    if (code === "ELOOP") throw new HttpError(400, `task ${task.id}: ${named} is a symbolic link loop`);
    throw new HttpError(400, `task ${task.id}: ${named} cannot be read (${code ?? "error"})`);
  }
  if (!isInside(root, real)) throw outside();
  // The real path, never following a link at its last component, never blocking on a FIFO.
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new HttpError(404, `task ${task.id}: ${named} does not exist (yet)`);
    if (code === "ELOOP" || code === "EMLINK") throw outside(); // swapped for a link since it was resolved
    if (code === "ENXIO") throw new HttpError(400, `task ${task.id}: ${named} is a FIFO, not a regular file; refused`);
    throw new HttpError(400, `task ${task.id}: ${named} cannot be read (${code ?? "error"})`);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new HttpError(400, `task ${task.id}: ${named} is not a regular file (a folder, FIFO, socket or device); refused`);
    // What was opened, as the kernel names it: still inside the root (a folder swapped for a link meanwhile is caught here).
    const opened = await descriptorPath(handle.fd);
    if (opened !== null && !isInside(root, opened)) throw outside();
    const buffer = Buffer.alloc(Math.min(maxBytes, stat.size));
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return { path: named, content: buffer.subarray(0, filled), size: stat.size, truncated: stat.size > maxBytes };
  } finally {
    await handle.close();
  }
}
