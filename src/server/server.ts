// createServer: the HTTP API of PROTOCOL.md §8 over a Store, on Fastify.
// Every body and every reply has a JSON schema (schemas.ts); bodies are JSON
// only; a guard keeps browser pages of other origins out (guard.ts).
// Long-polls never block the event loop: each is a promise parked on the
// store's shared change notifier, ended by its client or by close().

import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { pino } from "pino";
import { InvalidTaskIdError } from "../store/errors.js";
import { assertTaskId } from "../store/layout.js";
import type { Store } from "../store/types.js";
import { createBearerCheck, isLoopbackHost } from "./auth.js";
import { parseJsonObject, readBody, type JsonObject } from "./body.js";
import { SERVER_DEFAULTS, TOKEN_ENV } from "./defaults.js";
import { errorReply, HttpError, ServerConfigError } from "./errors.js";
import { createGuard } from "./guard.js";
import { createLongPollRegistry } from "./long-poll.js";
import { createNextWaiters } from "./next-waiters.js";
import { notFound, ROUTES, type Route, type RouteDeps } from "./routes.js";
import { ajv, bodyErrorMessage, replySerializer } from "./schemas.js";
import { registerDashboard, type DashboardHandle } from "./dashboard-routes.js";

/** The part of a pino logger the server uses (a pino Logger fits). */
export interface ServerLogger {
  debug(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ServerOptions {
  store: Store;
  /** Bearer token every request must send (401 otherwise); required to listen off loopback. */
  token?: string | null;
  /**
   * Folders a client's workspace_root must lie inside (the config's
   * workspace_root, `serve --allow-root`). Empty: every POST /tasks is refused.
   * @default []
   */
  allowedRoots?: readonly string[];
  /** Host names accepted in the Host header besides the bound address and localhost (`serve --allow-host`). @default [] */
  allowHosts?: readonly string[];
  /** Serve the dashboard at `/` and its API. @default true */
  dashboard?: boolean;
  /** Who dashboard actions are recorded as ("cancelled by <user>"). @default the OS user */
  user?: string;
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
  /** Stop accepting, end open long-polls with 503 and event streams, let short requests finish. Idempotent. */
  close(): Promise<void>;
  /** Long-polls currently waiting (0 once every client is gone). */
  activeLongPolls(): number;
}

/** Task ids are at most this long (issue 11); longer ones are a 400 before any file is touched. @default 200 */
export const MAX_TASK_ID_LENGTH = 200;

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
export function splitTarget(target: string): { pathname: string; query: URLSearchParams } {
  let raw = target;
  if (!raw.startsWith("/") && URL.canParse(raw)) {
    const url = new URL(raw);
    raw = url.pathname + url.search;
  }
  const at = raw.indexOf("?");
  return { pathname: at === -1 ? raw : raw.slice(0, at), query: new URLSearchParams(at === -1 ? "" : raw.slice(at + 1)) };
}

const hasBody = (req: IncomingMessage): boolean =>
  req.headers["transfer-encoding"] !== undefined || (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0");

/** The task id of a `/tasks/<id>...` route, checked before any body is looked at. */
function checkedTaskId(raw: string): string {
  if (raw.length > MAX_TASK_ID_LENGTH) throw new InvalidTaskIdError(`${raw.slice(0, 40)}... (${raw.length} characters, at most ${MAX_TASK_ID_LENGTH})`);
  assertTaskId(raw);
  return raw;
}

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
  if (options.token && /\s/.test(options.token)) {
    // The Authorization header cannot carry it: such a token could never authenticate.
    throw new ServerConfigError(`the bearer token contains whitespace, so no client could ever send it: use letters, digits and punctuation only (--token or ${TOKEN_ENV})`);
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
    allowedRoots: [...(options.allowedRoots ?? [])],
  };
  let stopping = false;
  let closing: Promise<void> | undefined;
  let listening = false;
  let guard = createGuard({ boundHost: SERVER_DEFAULTS.host, allowHosts: options.allowHosts ?? [] });

  const app: FastifyInstance = Fastify({
    logger: false,
    // Long task ids reach the handler (and its 400) instead of a 404.
    routerOptions: { maxParamLength: 1000, ignoreTrailingSlash: false },
    bodyLimit: maxDrainBytes,
    return503OnClosing: false,
    forceCloseConnections: "idle",
    exposeHeadRoutes: false,
    frameworkErrors: (error, request, reply) => {
      // A malformed percent-escape in the path: under /tasks/ it can only be a bad task id.
      const { pathname } = splitTarget(request.raw.url ?? "/");
      const message = pathname.startsWith("/tasks/") ? new InvalidTaskIdError(pathname.split("/")[2] ?? "").message : `bad request: ${error.message}`;
      void (reply as FastifyReply).code(400).header("connection", "close").send({ error: message } as never);
    },
  });

  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));
  app.setSerializerCompiler(({ schema }) => replySerializer(schema as Record<string, unknown>));
  app.setReplySerializer((payload) => `${JSON.stringify(payload)}\n`);
  app.setSchemaErrorFormatter((errors) => bodyErrorMessage(errors as Parameters<typeof bodyErrorMessage>[0]));

  // Bodies are JSON only: any other type (a form, text/plain from a no-cors fetch) is a 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", (request, _payload, done) => {
    readBody(request.raw, { maxBodyBytes: settings.maxBodyBytes, maxDrainBytes }).then(
      (raw) => {
        try {
          done(null, parseJsonObject(raw));
        } catch (error) {
          done(error as Error, undefined);
        }
      },
      (error: Error) => done(error, undefined),
    );
  });

  app.addHook("onRequest", async (request, reply) => {
    const started = performance.now();
    reply.raw.once("close", () => {
      const ms = Math.round((performance.now() - started) * 10) / 10;
      logger.debug({ method: request.raw.method, url: request.raw.url, status: reply.raw.statusCode, ms, completed: reply.raw.writableFinished }, "request");
    });
    if (stopping) throw new HttpError(503, "server is shutting down");
    const navigation = request.raw.method === "GET" && request.headers["sec-fetch-mode"] === "navigate" && splitTarget(request.raw.url ?? "/").pathname === "/";
    guard.check(request.headers, navigation);
    if (checkToken && !isPublic(request) && !checkToken(request.headers.authorization)) {
      throw new HttpError(401, "missing or wrong bearer token: send the header Authorization: Bearer <token>", {
        headers: { "WWW-Authenticate": 'Bearer realm="agent-lanes"' },
      });
    }
  });

  app.addHook("onSend", async (_request, reply, payload) => {
    void reply.header("cache-control", "no-store");
    void reply.header("x-content-type-options", "nosniff");
    // While stopping, every answer ends its connection so close() is not held up by keep-alive.
    if (stopping) void reply.header("connection", "close");
    return payload;
  });

  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const failure = (error as { validation?: unknown }).validation ? bodyErrorFrom(error) : error;
    const result = errorReply(failure);
    if (result.unexpected) logger.error({ err: error, method: request.raw.method, url: request.raw.url }, "request failed");
    const refusal = failure instanceof HttpError ? failure : null;
    // An unread body is not drained for an error reply: the connection ends instead.
    const close = Boolean(refusal?.closeConnection) || (request.body === undefined && hasBody(request.raw));
    for (const [name, value] of Object.entries(refusal?.headers ?? {})) void reply.header(name, value);
    if (close) void reply.header("connection", "close");
    return (reply as FastifyReply).code(result.status as 400).send({ error: result.message } as never);
  });

  const allRoutes: Array<Pick<Route, "method" | "url">> = [];
  app.setNotFoundHandler((request) => {
    throw notFound(allRoutes, request.raw.method ?? "GET", splitTarget(request.raw.url ?? "/").pathname);
  });

  /** Routes (and assets) the dashboard page needs before it has a token: static files only, no data. */
  const publicPaths = new Set<string>();
  function isPublic(request: FastifyRequest): boolean {
    return request.raw.method === "GET" && publicPaths.has(splitTarget(request.raw.url ?? "/").pathname);
  }

  function addRoute(route: Route): void {
    allRoutes.push(route);
    app.route({
      method: route.method,
      url: route.url,
      schema: { ...(route.body ? { body: route.body } : {}), response: route.reply },
      preValidation: async (request) => {
        // Ids are checked before bodies; a POST without a body reads as {}.
        const params = request.params as { id?: string };
        if (params.id === "") throw notFound(allRoutes, request.raw.method ?? "GET", splitTarget(request.raw.url ?? "/").pathname);
        if (params.id !== undefined) checkedTaskId(params.id);
        if (route.method !== "POST") return;
        if (request.body === undefined || request.body === null) request.body = {};
        if (route.url === "/tasks") legacyCorrelationId(request.body as JsonObject);
      },
      handler: async (request, reply) => {
        const { query } = splitTarget(request.raw.url ?? "/");
        const answer = await route.handler(deps, {
          res: reply.raw,
          taskId: (request.params as { id?: string }).id ?? "",
          params: (request.params ?? {}) as Record<string, string>,
          query,
          body: (request.body ?? {}) as JsonObject,
        });
        if (answer === null) {
          // The client left during a long-poll: there is no one to answer.
          reply.hijack();
          if (!reply.raw.writableEnded) reply.raw.destroy();
          return reply;
        }
        return reply.code(answer.status).send(answer.body);
      },
    });
  }
  for (const route of ROUTES) addRoute(route);

  let dashboard: DashboardHandle | null = null;
  if (options.dashboard ?? true) {
    dashboard = registerDashboard(app, {
      deps,
      addRoute,
      publicPaths,
      user: options.user,
      logger,
      isStopping: () => stopping,
      safetyPollMs: settings.safetyPollMs,
    });
  }

  return {
    async listen(port = SERVER_DEFAULTS.port, host = SERVER_DEFAULTS.host) {
      if (!checkToken && !isLoopbackHost(host)) {
        throw new ServerConfigError(
          `refusing to listen on ${host} without a token: set --token or ${TOKEN_ENV} (clients then send Authorization: Bearer <token>), or bind 127.0.0.1`,
        );
      }
      if (stopping) throw new ServerConfigError("the server was closed; create a new one to listen again");
      if (listening) throw new ServerConfigError("the server is already listening");
      listening = true;
      guard = createGuard({ boundHost: host, allowHosts: options.allowHosts ?? [] });
      try {
        await app.listen({ port, host, listenTextResolver: () => "" });
      } catch (error) {
        listening = false;
        throw new ServerConfigError(`cannot listen on ${host}:${port}: ${(error as Error).message}`, { cause: error });
      }
      app.server.on("error", (error) => logger.error({ err: error }, "server error"));
      const bound = (app.server.address() as AddressInfo).port;
      return { url: urlOf(host, bound), host, port: bound };
    },

    close() {
      closing ??= (async () => {
        stopping = true;
        longPolls.abortAll();
        dashboard?.close();
        if (!listening) {
          await app.close();
          return;
        }
        // Short requests get a grace period; then whatever is still open is cut.
        const cut = setTimeout(() => app.server.closeAllConnections(), settings.closeGraceMs);
        try {
          await app.close();
        } finally {
          clearTimeout(cut);
        }
      })();
      return closing;
    },

    activeLongPolls: () => longPolls.count(),
  };
}

/** The Python server's legacy name: `checkpoint_id` stands for a missing (or empty) correlation_id. */
function legacyCorrelationId(body: JsonObject): void {
  const legacy = body.checkpoint_id;
  if ((body.correlation_id === undefined || body.correlation_id === null || body.correlation_id === "") && typeof legacy === "string" && legacy !== "") {
    body.correlation_id = legacy;
  }
}

/** Fastify's validation error carries Ajv's list; turn it into our one-line 400. */
function bodyErrorFrom(error: unknown): HttpError {
  return bodyErrorMessage((error as { validation: Parameters<typeof bodyErrorMessage>[0] }).validation);
}
