// Snapshot a folder tree (file contents, link targets, folders) to prove that
// an operation changed nothing, or nothing outside the part it may touch.

import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import path from "node:path";

/** relative path -> "dir" | "link:<target>" | "file:<content>" */
export type Tree = Map<string, string>;

export async function snapshotTree(root: string, skip: (relative: string) => boolean = () => false): Promise<Tree> {
  const tree: Tree = new Map();
  async function walk(dir: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const full = path.join(dir, name);
      const rel = path.relative(root, full);
      if (skip(rel)) continue;
      const stat = await lstat(full).catch(() => null);
      if (!stat) continue;
      if (stat.isSymbolicLink()) tree.set(rel, `link:${await readlink(full)}`);
      else if (stat.isDirectory()) {
        tree.set(rel, "dir");
        await walk(full);
      } else tree.set(rel, `file:${await readFile(full, "latin1")}`);
    }
  }
  await walk(root);
  return tree;
}

/** Paths added, removed or changed between two snapshots. */
export function treeDiff(before: Tree, after: Tree): string[] {
  const changed: string[] = [];
  for (const [rel, value] of before) if (after.get(rel) !== value) changed.push(rel);
  for (const rel of after.keys()) if (!before.has(rel)) changed.push(rel);
  return changed.sort();
}
