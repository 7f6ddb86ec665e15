// Keeps one claim's lease alive while its child runs, and says when it is
// lost. The renew timer is re-armed only after the awaited renewal settles,
// so renewals never overlap. A refusal from the store (token mismatch, task
// taken or finished) is final: the claim belongs to someone else now. Other
// errors (I/O, lock trouble) are retried until the lease would have run out.

import { StoreError } from "../store/errors.js";

/** The claim is gone; the run must stop and must not respond. */
export class LeaseLostError extends Error {
  override name = "LeaseLostError";
  readonly taskId: string;
  constructor(taskId: string, detail: string, options: { cause?: unknown } = {}) {
    super(`lease lost for ${taskId}: ${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.taskId = taskId;
  }
}

/** Timers and a monotonic clock, injectable for tests. */
export interface KeeperClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: KeeperClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    // A lease keeper alone never keeps the process alive: the child run does.
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface LeaseKeeperOptions {
  taskId: string;
  /** One renewal (store.renew with the claim token and lease). */
  renew(): Promise<unknown>;
  renewEveryMs: number;
  renewRetryMs: number;
  /** Length of the lease; renewals failing for this long since the last success mean it is lost. */
  leaseMs: number;
  clock?: KeeperClock;
  /** Observer of each failed renewal that will be retried; never breaks the keeper. */
  onRetry?(error: unknown): void;
  /** Observer of each successful renewal. */
  onRenewed?(): void;
}

export interface LeaseKeeper {
  /** Aborted (reason: a LeaseLostError) when the claim is lost. */
  readonly signal: AbortSignal;
  /** Stop renewing; waits for a renewal in flight. Idempotent. */
  stop(): Promise<void>;
}

/** True for the store's answers that mean "this claim is not yours any more". */
export function isClaimLost(error: unknown): boolean {
  return error instanceof StoreError && (error.code === "token_mismatch" || error.code === "invalid_state" || error.code === "unknown_task");
}

/** Start renewing; the lease is taken to be fresh now (just claimed). */
export function startLeaseKeeper(options: LeaseKeeperOptions): LeaseKeeper {
  const clock = options.clock ?? realClock;
  const controller = new AbortController();
  let lastRenewedAt = clock.now();
  let timer: unknown = null;
  let inFlight: Promise<void> | null = null;
  let stopped: Promise<void> | null = null;

  const observe = (fn: (() => void) | undefined): void => {
    try {
      fn?.();
    } catch {
      // observers never break the keeper
    }
  };

  const lose = (detail: string, cause?: unknown): void => {
    controller.abort(new LeaseLostError(options.taskId, detail, { cause }));
  };

  const arm = (ms: number): void => {
    timer = clock.setTimeout(() => {
      timer = null;
      inFlight = tick().finally(() => {
        inFlight = null;
      });
    }, ms);
  };

  async function tick(): Promise<void> {
    if (stopped) return;
    try {
      await options.renew();
      if (stopped) return;
      lastRenewedAt = clock.now();
      observe(options.onRenewed);
      arm(options.renewEveryMs);
    } catch (error) {
      if (stopped) return;
      if (isClaimLost(error)) return lose((error as Error).message, error);
      const sinceMs = clock.now() - lastRenewedAt;
      if (sinceMs + options.renewRetryMs >= options.leaseMs) {
        return lose(`renewals kept failing until the lease ran out (${(error as Error)?.message ?? String(error)})`, error);
      }
      observe(() => options.onRetry?.(error));
      arm(options.renewRetryMs);
    }
  }

  arm(options.renewEveryMs);

  return {
    signal: controller.signal,
    stop() {
      stopped ??= (async () => {
        if (timer !== null) clock.clearTimeout(timer);
        timer = null;
        await inFlight?.catch(() => undefined);
      })();
      return stopped;
    },
  };
}
