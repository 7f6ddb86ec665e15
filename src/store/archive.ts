// Month archives of pruned tasks: <dir>/<YYYY-MM>.tar.gz holding
// tasks/<id>/... and indexes/correlations/<file>, paths relative to the queue
// root, so `tar -xzf 2026-10.tar.gz -C <queue>` puts tasks back where they were.
// A later prune of the same month appends: the old archive's end-of-archive
// blocks are cut, the new entries follow, the whole is compressed again and
// replaces the file atomically. The archive is written (and fsynced) before
// any task is removed.

import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { writeFileAtomic } from "./atomic.js";

const BLOCK = 512;

/** The tar stream without its trailing zero blocks (end-of-archive marker and padding). */
function withoutEnd(tar: Buffer): Buffer {
  let end = tar.length - (tar.length % BLOCK);
  const isZero = (from: number): boolean => {
    for (let i = from; i < from + BLOCK; i += 1) if (tar[i] !== 0) return false;
    return true;
  };
  while (end >= BLOCK && isZero(end - BLOCK)) end -= BLOCK;
  return tar.subarray(0, end);
}

/** An uncompressed tar (pax headers for long names) of `members`, relative to `cwd`. */
async function tarOf(cwd: string, members: readonly string[]): Promise<Buffer> {
  const { create } = await import("tar");
  const tmp = path.join(os.tmpdir(), `agent-lanes-archive-${randomBytes(6).toString("hex")}.tar`);
  try {
    create({ cwd, file: tmp, sync: true, portable: true, noDirRecurse: false }, [...members]);
    return await fs.readFile(tmp);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/** Append `members` (paths relative to `root`) to the gzip'd tar `archive`, creating it if needed. */
export async function appendToArchive(root: string, archive: string, members: readonly string[]): Promise<void> {
  const previous = await fs.readFile(archive).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return null;
    throw error;
  });
  const head = previous ? withoutEnd(gunzipSync(previous)) : Buffer.alloc(0);
  const added = await tarOf(root, members);
  await writeFileAtomic(archive, gzipSync(Buffer.concat([head, added])));
}
