// One notification per transition, across restarts and across dispatchers
// sharing the queue: the first to create <queue>/notify/sent/<hash> sends it.
// The marker is per sink, so two dispatchers with different sinks each
// deliver to their own. Exclusive create (O_EXCL) is atomic on one machine.

import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { SharedLedger } from "../store/types.js";

export interface Dedup {
  /** True the first time `key` is claimed for `sinkId`; false ever after. */
  claim(sinkId: string, key: string): Promise<boolean>;
  /** Remove markers older than `maxAgeMs`; best effort. */
  prune(maxAgeMs: number, now?: Date): Promise<number>;
}

export function markerDir(queueRoot: string): string {
  return path.join(queueRoot, "notify", "sent");
}

export function createDedup(queueRoot: string): Dedup {
  const dir = markerDir(queueRoot);
  let ready: Promise<unknown> | undefined;
  return {
    async claim(sinkId, key) {
      ready ??= fs.mkdir(dir, { recursive: true, mode: 0o700 });
      await ready;
      const name = createHash("sha256").update(`${sinkId}\n${key}`).digest("hex").slice(0, 40);
      try {
        const handle = await fs.open(path.join(dir, name), "wx", 0o600);
        await handle.close();
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
        throw error;
      }
    },
    async prune(maxAgeMs, now = new Date()) {
      const names = await fs.readdir(dir).catch(() => [] as string[]);
      let removed = 0;
      for (const name of names) {
        const file = path.join(dir, name);
        const stat = await fs.stat(file).catch(() => null);
        if (stat && now.getTime() - stat.mtimeMs > maxAgeMs) {
          await fs.rm(file, { force: true });
          removed += 1;
        }
      }
      return removed;
    },
  };
}

/**
 * Markers in a PostgreSQL queue's database (store.shared): one notification
 * per transition across every host's dispatchers, not only one host's.
 */
export function createSharedDedup(shared: Pick<SharedLedger, "claimNotification" | "pruneNotifications">): Dedup {
  return {
    claim: (sinkId, key) => shared.claimNotification(sinkId, key),
    // The database's clock decides the age.
    prune: (maxAgeMs) => shared.pruneNotifications(maxAgeMs),
  };
}
