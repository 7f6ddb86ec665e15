// The registry of open long-polls. Each gets one AbortController, aborted
// once when its client disconnects or the server stops; every wait it starts
// takes that signal, so one abort tears down its timers and listeners.

import type { ServerResponse } from "node:http";

/** Why a long-poll's signal was aborted. */
export type LongPollEnd = "disconnect" | "shutdown";

/** The abort reason a long-poll's signal carries. */
export class LongPollAborted extends Error {
  override name = "LongPollAborted";
  readonly end: LongPollEnd;
  constructor(end: LongPollEnd) {
    super(end === "shutdown" ? "server is shutting down" : "client disconnected");
    this.end = end;
  }
}

export interface LongPoll {
  readonly signal: AbortSignal;
  /** How it was cut short, or null while it may still answer normally. */
  ended(): LongPollEnd | null;
  /** Unregister; call in `finally`. Idempotent. */
  done(): void;
}

export interface LongPollRegistry {
  /** Register a long-poll answering on `res`. */
  begin(res: ServerResponse): LongPoll;
  /** Long-polls registered and not yet done. */
  count(): number;
  /** Abort every open long-poll as a shutdown. */
  abortAll(): void;
}

export function createLongPollRegistry(): LongPollRegistry {
  const open = new Set<AbortController>();

  return {
    begin(res) {
      const controller = new AbortController();
      // 'close' before the response finished means the client went away.
      const onClose = (): void => {
        if (!res.writableFinished) controller.abort(new LongPollAborted("disconnect"));
      };
      res.once("close", onClose);
      open.add(controller);
      return {
        signal: controller.signal,
        ended: () => (controller.signal.aborted ? (controller.signal.reason as LongPollAborted).end : null),
        done() {
          open.delete(controller);
          res.off("close", onClose);
        },
      };
    },
    count: () => open.size,
    abortAll() {
      for (const controller of [...open]) controller.abort(new LongPollAborted("shutdown"));
    },
  };
}
