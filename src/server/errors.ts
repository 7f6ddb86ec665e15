// Errors that carry their HTTP status, and the mapping of every other error
// to the one-line `{"error": ...}` body of PROTOCOL.md §8.

import { StoreError } from "../store/errors.js";

/** A request the server refuses with `status` and a one-line message. */
export class HttpError extends Error {
  override name = "HttpError";
  readonly status: number;
  /** Close the connection after replying (e.g. a body too large to drain). */
  readonly closeConnection: boolean;
  /** Extra response headers (e.g. `Allow` on 405). */
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, options: { closeConnection?: boolean; headers?: Record<string, string> } = {}) {
    super(message);
    this.status = status;
    this.closeConnection = options.closeConnection ?? false;
    this.headers = options.headers ?? {};
  }
}

/** A server option or listen address that cannot work; thrown before anything is bound. */
export class ServerConfigError extends Error {
  override name = "ServerConfigError";
}

export interface ErrorReply {
  status: number;
  message: string;
  /** True when the cause is ours, not the client's: log it, hide its text. */
  unexpected: boolean;
}

/**
 * The reply for a thrown error. Every store error is the client's to fix and
 * answers 400 with the store's own message (an unknown task included: §8 says
 * 400, not 404); anything else is a bug or an I/O failure and stays generic.
 */
export function errorReply(error: unknown): ErrorReply {
  if (error instanceof HttpError) return { status: error.status, message: error.message, unexpected: false };
  if (error instanceof StoreError) return { status: 400, message: error.message, unexpected: false };
  return { status: 500, message: "internal server error (see the server log)", unexpected: true };
}
