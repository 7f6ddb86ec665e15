// What the MCP tools need: the queue (store plus the workspace config when
// there is one), opened on first use and kept for the server's life.

import type { EngineConfig } from "../config/handoff.js";
import type { Store } from "../store/types.js";

export interface McpQueue {
  /** null when only --store was given and there is no config file. */
  config: EngineConfig | null;
  queueRoot: string;
  store: Store;
}

export interface McpContext {
  /**
   * The queue. A failure (a missing config, say) is reported by the tool that
   * asked, as a tool error, and tried again on the next call: the server
   * itself keeps running, so the model reads the fix instead of the client
   * reporting a dead server.
   */
  queue(): Promise<McpQueue>;
  /** The workspace config, or the CLI's error naming the missing file and the fix. */
  requireConfig(): Promise<EngineConfig>;
  /** Clock of the views (tests). */
  now(): Date;
  progressEveryMs: number;
  maxWaitSeconds: number;
}

/** Memoize `open` on success only, so a fixed config is picked up by the next call. */
export function lazyQueue(open: () => Promise<McpQueue>): { get(): Promise<McpQueue>; close(): Promise<void> } {
  let opened: Promise<McpQueue> | undefined;
  return {
    get() {
      opened ??= open().catch((error: unknown) => {
        opened = undefined;
        throw error;
      });
      return opened;
    },
    async close() {
      const queue = await opened?.catch(() => undefined);
      await queue?.store.close();
    },
  };
}
