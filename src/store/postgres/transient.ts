// Which failures to reach a PostgreSQL queue are worth waiting out: the
// server refused or dropped the connection (restarting, not up yet, a
// severed network), as opposed to a wrong host name, password or database,
// which no amount of waiting fixes.

import { StoreError } from "../errors.js";

const TRANSIENT = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "57P01", "57P02", "57P03"]);

/** True for a StoreUnavailableError whose cause is a refused, dropped or timed-out connection, or a server shutting down or starting. */
export function isTransientUnavailable(error: unknown): boolean {
  if (!(error instanceof StoreError) || error.code !== "store_unavailable") return false;
  const cause = (error as { cause?: unknown }).cause as { code?: unknown; message?: unknown } | undefined;
  const code = String(cause?.code ?? "");
  if (TRANSIENT.has(code)) return true;
  return /Connection terminated|timeout expired|the database system is (starting up|shutting down)/i.test(String(cause?.message ?? ""));
}
