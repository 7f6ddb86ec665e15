// createServer: the HTTP API of PROTOCOL.md §8 over a Store, on node:http.
// Nine routes do not earn a router dependency; routes.ts holds the table.
// Long-polls never block the event loop: each is a promise parked on the
// store's shared change notifier, ended by its client or by close().

import http from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { pino } from "pino";
import type { Store } from "../store/types.js";
import { createBearerCheck, isLoopbackHost } from "./auth.js";
import { parseJsonObject, readBody, type JsonObject } from "./body.js";
import { SERVER_DEFAULTS, TOKEN_ENV } from "./defaults.js";
import { errorReply, HttpError, ServerConfigError } from "./errors.js";
import { createLongPollRegistry } from "./long-poll.js";
import { createNextWaiters } from "./next-waiters.js";
import { matchRoute, type RouteDeps } from "./routes.js";

/** The part of a pino logger the server uses (a pino Logger fits). */
export interface ServerLogger {
  debug(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ServerOptions {
  store: Store;
  /** Bearer token every request must send (401 otherwise); required to listen off loopback. */
  token?: string | null;
  /** Request lines at debug, failures at error. @default pino at info on stderr */
  logger?: ServerLogger;
  /** @default 1 MiB */
  maxBodyBytes?: number;
  /** @default 8 MiB */
  maxDrainBytes?: number;
  /** @default 21600 */
  maxWaitSeconds?: number;
  /** @default 2000 */
  safetyPollMs?: number;
  /** @default 5000 */
  closeGraceMs?: number;
}

export interface ListenResult {
  /** e.g. `http://127.0.0.1:8765` */
  url: string;
  host: string;
  port: number;
}

export interface AgentLanesServer {
  /** Bind and start answering. Refuses a non-loopback host without a token. */
  listen(port?: number, host?: string): Promise<ListenResult>;
  /** Stop accepting, end open long-polls with 503, let short requests finish. Idempotent. */
  close(): Promise<void>;
  /** Long-polls currently waiting (0 once every client is gone). */
  activeLongPolls(): number;
}

function checkCount(name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new ServerConfigError(`Expected \`${name}\` to be a number >= ${min}, got \`${String(value)}\` (${typeof value})`);
  }
  return value;
}

function urlOf(host: string, port: number): string {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  return `http://${bare.includes(":") ? `[${bare}]` : bare}:${port}`;
}

/** Path and query of a request target (origin-form, or absolute-form from a proxy), not normalised. */
function splitTarget(target: string): { pathname: string; query: URLSearchParams } {
  let raw = target;
  if (!raw.startsWith("/") && URL.canParse(raw)) {
    const url = new URL(raw);
    raw = url.pathname + url.search;
  }
  const at = raw.indexOf("?");
  return { pathname: at === -1 ? raw : raw.slice(0, at), query: new URLSearchParams(at === -1 ? "" : raw.slice(at + 1)) };
}

const hasBody = (req: http.IncomingMessage): boolean =>
  req.headers["transfer-encoding"] !== undefined || (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0");

/** The HTTP API over `options.store`; call `listen()` to start. */
export function createServer(options: ServerOptions): AgentLanesServer {
  const settings = {
    maxBodyBytes: checkCount("maxBodyBytes", options.maxBodyBytes ?? SERVER_DEFAULTS.maxBodyBytes, 1),
    maxDrainBytes: checkCount("maxDrainBytes", options.maxDrainBytes ?? SERVER_DEFAULTS.maxDrainBytes, 1),
    maxWaitSeconds: checkCount("maxWaitSeconds", options.maxWaitSeconds ?? SERVER_DEFAULTS.maxWaitSeconds, 0),
    safetyPollMs: checkCount("safetyPollMs", options.safetyPollMs ?? SERVER_DEFAULTS.safetyPollMs, 1),
    closeGraceMs: checkCount("closeGraceMs", options.closeGraceMs ?? SERVER_DEFAULTS.closeGraceMs, 0),
  };
  const maxDrainBytes = Math.max(settings.maxDrainBytes, settings.maxBodyBytes);
  if (options.token !== undefined && options.token !== null && options.token.trim() === "") {
    throw new ServerConfigError(`the bearer token is empty: pass a non-empty --token or ${TOKEN_ENV}, or none at all`);
  }
  const token = options.token ?? null;
  const checkToken = token === null ? null : createBearerCheck(token);
  const logger: ServerLogger = options.logger ?? pino({ level: "info" }, pino.destination(2));
  const longPolls = createLongPollRegistry();
  const deps: RouteDeps = {
    store: options.store,
    longPolls,
    nextWaiters: createNextWaiters(options.store, { safetyPollMs: settings.safetyPollMs }),
    maxWaitSeconds: settings.maxWaitSeconds,
  };
  let stopping = false;
  let closing: Promise<void> | undefined;

  function send(res: http.ServerResponse, status: number, body: unknown, extra: { headers?: Record<string, string>; close?: boolean } = {}): void {
    if (res.headersSent || res.writableEnded || res.destroyed) return;
    const text = `${JSON.stringify(body)}\n`;
    res.statusCode = status;
    res.setHeader("Content-Type", "application/json; charset=utf-8");
    res.setHeader("Content-Length", Buffer.byteLength(text));
    res.setHeader("Cache-Control", "no-store");
    for (const [name, value] of Object.entries(extra.headers ?? {})) res.setHeader(name, value);
    // While stopping, every answer ends its connection so close() is not held up by keep-alive.
    if (stopping || extra.close) res.setHeader("Connection", "close");
    res.end(text);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    res.once("close", () => {
      const ms = Math.round((performance.now() - started) * 10) / 10;
      logger.debug({ method: req.method, url: req.url, status: res.statusCode, ms, completed: res.writableFinished }, "request");
    });
    let body: Promise<JsonObject> | undefined;
    try {
      if (stopping) throw new HttpError(503, "server is shutting down");
      if (checkToken && !checkToken(req.headers.authorization)) {
        throw new HttpError(401, "missing or wrong bearer token: send the header Authorization: Bearer <token>", {
          headers: { "WWW-Authenticate": 'Bearer realm="agent-lanes"' },
        });
      }
      const { pathname, query } = splitTarget(req.url ?? "/");
      const route = matchRoute(req.method ?? "GET", pathname);
      const reply = await route.handler(deps, {
        req,
        res,
        taskId: route.taskId,
        query,
        body: () => (body ??= readBody(req, { maxBodyBytes: settings.maxBodyBytes, maxDrainBytes }).then(parseJsonObject)),
      });
      // null: the client left during a long-poll; there is no one to answer.
      if (reply) send(res, reply.status, reply.body, { close: body === undefined && hasBody(req) });
    } catch (error) {
      const reply = errorReply(error);
      if (reply.unexpected) logger.error({ err: error, method: req.method, url: req.url }, "request failed");
      const refusal = error instanceof HttpError ? error : null;
      // An unread body is not drained for an error reply: the connection ends instead.
      const close = Boolean(refusal?.closeConnection) || (body === undefined && hasBody(req));
      send(res, reply.status, { error: reply.message }, { headers: refusal?.headers ?? {}, close });
    }
  }

  const server = http.createServer((req, res) => {
    void handle(req, res);
  });

  return {
    listen(port = SERVER_DEFAULTS.port, host = SERVER_DEFAULTS.host) {
      if (!checkToken && !isLoopbackHost(host)) {
        return Promise.reject(
          new ServerConfigError(`refusing to listen on ${host} without a token: set --token or ${TOKEN_ENV} (clients then send Authorization: Bearer <token>), or bind 127.0.0.1`),
        );
      }
      if (stopping) return Promise.reject(new ServerConfigError("the server was closed; create a new one to listen again"));
      return new Promise<ListenResult>((resolve, reject) => {
        const onError = (error: Error): void => {
          server.off("listening", onListening);
          reject(new ServerConfigError(`cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
        };
        const onListening = (): void => {
          server.off("error", onError);
          server.on("error", (error) => logger.error({ err: error }, "server error"));
          const bound = (server.address() as AddressInfo).port;
          resolve({ url: urlOf(host, bound), host, port: bound });
        };
        server.once("error", onError);
        server.once("listening", onListening);
        server.listen({ port, host });
      });
    },

    close() {
      closing ??= (async () => {
        stopping = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        longPolls.abortAll();
        server.closeIdleConnections();
        // Short requests get a grace period; then whatever is still open is cut.
        const cut = setTimeout(() => server.closeAllConnections(), settings.closeGraceMs);
        try {
          await closed;
        } finally {
          clearTimeout(cut);
        }
      })();
      return closing;
    },

    activeLongPolls: () => longPolls.count(),
  };
}
