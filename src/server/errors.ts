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
 * File-system errors a client causes by the paths it sends (a folder as
 * request file, an unreadable file, a name too long, a symlink loop): 400
 * naming the path, never a 500.
 */
const CLIENT_ERRNOS: Record<string, string> = {
  EISDIR: "is a folder, not a file",
  EACCES: "is not readable by the server",
  EPERM: "is not accessible to the server",
  ENAMETOOLONG: "has a name that is too long",
  ELOOP: "has too many symbolic links",
  ENOTDIR: "has a part that is not a folder",
  ENOENT: "does not exist",
};

/** Fastify's own refusals that reach the error handler, by code. */
const FRAMEWORK: Record<string, { status: number; message: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, message: "request bodies must be JSON: send Content-Type: application/json" },
  FST_ERR_CTP_EMPTY_TYPE: { status: 415, message: "request bodies must be JSON: send Content-Type: application/json" },
  FST_ERR_CTP_INVALID_TYPE: { status: 415, message: "request bodies must be JSON: send Content-Type: application/json" },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, message: "request body is too large" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, message: "Content-Length does not match the body" },
  FST_ERR_CTP_INVALID_CHARSET: { status: 415, message: "request bodies must be UTF-8 JSON" },
};

/**
 * The reply for a thrown error. Every store error is the client's to fix and
 * answers 400 with the store's own message (an unknown task included: §8 says
 * 400, not 404); anything else is a bug or an I/O failure and stays generic.
 */
export function errorReply(error: unknown): ErrorReply {
  if (error instanceof HttpError) return { status: error.status, message: error.message, unexpected: false };
  // A queue lock held past the lock timeout is the server's trouble, not the request's: try again later.
  if (error instanceof StoreError) return { status: error.code === "lock_timeout" ? 503 : 400, message: error.message, unexpected: false };
  const { code, path: where } = (error ?? {}) as { code?: unknown; path?: unknown };
  if (typeof code === "string") {
    const framework = FRAMEWORK[code];
    if (framework) return { ...framework, unexpected: false };
    if (Object.hasOwn(CLIENT_ERRNOS, code) && typeof where === "string") {
      return { status: 400, message: `${where} ${CLIENT_ERRNOS[code]} (${code})`, unexpected: false };
    }
  }
  return { status: 500, message: "internal server error (see the server log)", unexpected: true };
}
