// Wake-ups for a PostgreSQL queue: one connection LISTENs on the channel
// every write NOTIFYs (in the writing transaction, so the wake-up comes at
// commit), and every notification counts as a change. The connection is
// re-opened after a failure (a restarted server, a severed network), and a
// reconnection counts as a change too, since notifications sent while it was
// down are lost. Waiters still pass a safety-poll timeout: a notification is
// an accelerator, never the only way to see a change.

import pg from "pg";
import { trustDeferredExtraCaCerts } from "../../extra-ca-certs.js";
import { createGenerations } from "../changes.js";
import type { ChangeNotifier } from "../types.js";

/** The channel every write notifies; the payload is the task id, or `pause:<vendor>`. */
export const CHANNEL = "agent_lanes";

export interface PgNotifierOptions {
  connectionString: string;
  /** First reconnection delay; doubles up to 5 s. @default 100 */
  retryMs?: number;
  onError?: (error: Error) => void;
}

/** Start listening; resolves once the first LISTEN is in place (or failed: then it keeps retrying). */
export async function createPgNotifier(options: PgNotifierOptions): Promise<ChangeNotifier> {
  const generations = createGenerations();
  let closed = false;
  let client: pg.Client | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let delay = options.retryMs ?? 100;

  const bump = (): void => generations.bump();

  const connect = async (): Promise<void> => {
    if (closed) return;
    trustDeferredExtraCaCerts();
    const c = new pg.Client({ connectionString: options.connectionString });
    client = c;
    let dropped = false;
    const drop = (error?: Error): void => {
      if (dropped) return;
      dropped = true;
      if (error) options.onError?.(error);
      if (client === c) client = null;
      void c.end().catch(() => undefined);
      if (closed) return;
      retryTimer = setTimeout(() => {
        retryTimer = null;
        void connect();
      }, delay);
      retryTimer.unref();
      delay = Math.min(delay * 2, 5000);
    };
    c.on("error", drop);
    c.on("end", () => drop());
    c.on("notification", () => bump());
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
      delay = options.retryMs ?? 100;
      // Whatever happened while nobody listened is seen by looking again.
      bump();
    } catch (error) {
      drop(error instanceof Error ? error : new Error(String(error)));
    }
  };
  await connect();

  return {
    get generation() {
      return generations.generation;
    },
    wait: (timeoutMs, since, signal) => generations.wait(timeoutMs, since, signal),
    // Every task's changes come through the one channel: nothing to track or pin.
    track() {},
    pin() {
      return () => undefined;
    },
    bump,
    async close() {
      if (closed) return;
      closed = true;
      generations.close();
      if (retryTimer) clearTimeout(retryTimer);
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    },
  };
}
