// The routes of PROTOCOL.md §8 (and GET /tasks): one handler each, and the
// table server.ts registers with Fastify (method, path, body and reply
// schemas). Handlers turn JSON fields into Store calls; the store owns every
// rule. A handler never sees Fastify: it gets the raw response (for
// long-polls), the task id, the query and the already-validated body.

import type { ServerResponse } from "node:http";
import { TASK_STATES, type Store, type Task, type TaskState, type TerminalState, type Verdict } from "../store/types.js";
import {
  nullableString,
  optionalBoolean,
  optionalNumber,
  optionalObject,
  optionalPathList,
  optionalString,
  requiredString,
  type JsonObject,
} from "./body.js";
import { HttpError } from "./errors.js";
import type { LongPoll, LongPollRegistry } from "./long-poll.js";
import type { NextWaiters } from "./next-waiters.js";
import { BODY_SCHEMAS, REPLY_SCHEMAS } from "./schemas.js";
import { assertAllowedRoot } from "../store/allowed-roots.js";

/** What a handler answers; null when there is no one left to answer (client gone). */
export type Reply = { status: number; body: unknown } | null;

export interface RouteDeps {
  store: Store;
  longPolls: LongPollRegistry;
  nextWaiters: NextWaiters;
  maxWaitSeconds: number;
  /** Real paths a client's workspace_root must lie inside (issue 11). */
  allowedRoots: readonly string[];
}

export interface RouteRequest {
  res: ServerResponse;
  /** The task id of `/tasks/<id>/...`, already validated ("" when the route has none). */
  taskId: string;
  /** Every path parameter (`:id`, `:vendor`), percent-decoded. */
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
  /** The JSON object body, already checked against the route's schema ({} when none was sent). */
  body: JsonObject;
}

export type Handler = (deps: RouteDeps, request: RouteRequest) => Promise<Reply>;

export interface Route {
  method: "GET" | "POST";
  /** Fastify path; `:id` is one task id. */
  url: string;
  handler: Handler;
  body?: Record<string, unknown>;
  reply: Record<string, unknown>;
}

const ok = (body: unknown, status = 200): Reply => ({ status, body });

/** A strictly decimal number (no hex, exponent, Infinity): `12`, `0.5`. */
const DECIMAL = /^\d+(\.\d+)?$/;

/** `wait_seconds` from the query: absent is 0, fractions allowed, capped at `max`. */
export function waitSeconds(query: URLSearchParams, max: number): number {
  const raw = query.get("wait_seconds");
  if (raw === null || raw.trim() === "") return 0;
  if (!DECIMAL.test(raw.trim())) {
    throw new HttpError(400, `Expected \`wait_seconds\` to be a number >= 0, got \`${raw.slice(0, 40)}\``);
  }
  return Math.min(Number(raw), max);
}

/**
 * The answer of a long-poll that found nothing: nothing to a gone client,
 * 503 when the server is stopping, else `idle`.
 */
function nothingFound(poll: LongPoll | null, idle: Reply): Reply {
  const end = poll?.ended() ?? null;
  if (end === "disconnect") return null;
  if (end === "shutdown") return { status: 503, body: { error: "server is shutting down" } };
  return idle;
}

const createTask: Handler = async ({ store, allowedRoots }, { body: b }) => {
  const workspaceRoot = await assertAllowedRoot(requiredString(b, "workspace_root"), allowedRoots);
  const task = await store.create({
    workspace_id: requiredString(b, "workspace_id"),
    correlation_id: requiredString(b, "correlation_id"),
    lane: requiredString(b, "lane"),
    workspace_root: workspaceRoot,
    request_path: requiredString(b, "request_path"),
    response_path: requiredString(b, "response_path"),
    source_agent: optionalString(b, "source_agent"),
    worktree_path: nullableString(b, "worktree_path"),
    expected_branch: nullableString(b, "expected_branch"),
    prompt: nullableString(b, "prompt"),
    supporting_paths: optionalPathList(b, "supporting_paths"),
    metadata: optionalObject(b, "metadata"),
    // Scheduling fields: the store checks their types and values (docs/scheduling.md).
    not_before: b.not_before as string | undefined,
    priority: b.priority as number | undefined,
    depends_on: b.depends_on as string[] | undefined,
  });
  return ok({ task }, 201);
};

const nextTask: Handler = async ({ store, longPolls, nextWaiters, maxWaitSeconds }, { res, query }) => {
  const lane = query.get("lane");
  if (lane === null || lane === "") throw new HttpError(400, "missing field: lane (query parameter)");
  const seconds = waitSeconds(query, maxWaitSeconds);
  if (seconds === 0) return ok({ task: await store.next(lane) });
  const poll = longPolls.begin(res);
  try {
    const task = await nextWaiters.wait(lane, seconds * 1000, poll.signal);
    return task && poll.ended() !== "disconnect" ? ok({ task }) : nothingFound(poll, ok({ task: null }));
  } finally {
    poll.done();
  }
};

const getTask: Handler = async ({ store }, { taskId }) => ok({ task: await store.get(taskId) });

const claimTask: Handler = async ({ store }, { taskId, body: b }) => {
  const task = await store.claim(taskId, {
    owner: optionalString(b, "owner") ?? "worker",
    leaseSeconds: optionalNumber(b, "lease_seconds"),
  });
  return ok({ task });
};

const addEvent: Handler = async ({ store }, { taskId, body: b }) => {
  await store.appendEvent(taskId, {
    type: optionalString(b, "type") ?? "note",
    message: optionalString(b, "message") ?? "",
    data: optionalObject(b, "data") ?? {},
  });
  return ok({ ok: true });
};

const respond: Handler = async ({ store }, { taskId, body: b }) => {
  const { response } = await store.respond(taskId, {
    body: requiredString(b, "body"),
    claimToken: nullableString(b, "claim_token"),
    reviewer: optionalString(b, "reviewer"),
    // Values are checked by the store; only the JSON type is checked here.
    status: optionalString(b, "status") as TerminalState | undefined,
    verdict: nullableString(b, "verdict") as Verdict | null | undefined,
    blockingCount: optionalNumber(b, "blocking_count"),
    nonblockingCount: optionalNumber(b, "nonblocking_count"),
    followUpRequired: optionalBoolean(b, "follow_up_required"),
    expectSha256: nullableString(b, "expect_sha256"),
    metadata: optionalObject(b, "metadata"),
  });
  return ok({ response });
};

const release: Handler = async ({ store }, { taskId, body: b }) => {
  const task = await store.release(taskId, {
    claimToken: requiredString(b, "claim_token"),
    reason: nullableString(b, "reason"),
  });
  return ok({ task });
};

const awaitResponse: Handler = async ({ store, longPolls, maxWaitSeconds }, { res, taskId, query }) => {
  const seconds = waitSeconds(query, maxWaitSeconds);
  const poll = seconds > 0 ? longPolls.begin(res) : null;
  try {
    const response = await store.waitForResponse(taskId, { timeoutMs: seconds * 1000, ...(poll ? { signal: poll.signal } : {}) });
    if (response && poll?.ended() !== "disconnect") return ok({ response });
    return nothingFound(poll, { status: 408, body: { error: `no response for task ${taskId} within ${seconds} s` } });
  } finally {
    poll?.done();
  }
};

const health: Handler = async ({ longPolls }) => ok({ status: "ok", long_polls: longPolls.count() });

/** @default 100 tasks a page */
export const LIST_DEFAULT_LIMIT = 100;
/** @default 1000 */
export const LIST_MAX_LIMIT = 1000;

/** Newest first: created_at, then id (ids start with their creation stamp). */
const newestFirst = (a: Task, b: Task): number => (a.created_at === b.created_at ? (a.id < b.id ? 1 : -1) : a.created_at < b.created_at ? 1 : -1);

/** The opaque cursor of a page: where the next page starts (after this task). */
const cursorOf = (task: Task): string => Buffer.from(JSON.stringify([task.created_at, task.id]), "utf8").toString("base64url");

function parseCursor(raw: string): [string, string] {
  try {
    const value: unknown = JSON.parse(Buffer.from(raw, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 2 && value.every((part) => typeof part === "string")) return value as [string, string];
  } catch {
    // fall through to the one error below
  }
  throw new HttpError(400, `Expected \`cursor\` to be the next_cursor of a previous page, got \`${raw.slice(0, 40)}\``);
}

/** GET /tasks?state=&lane=&limit=&cursor= — newest first, a page at a time. */
const listTasks: Handler = async ({ store }, { query }) => {
  const state = query.get("state") || null;
  if (state !== null && !(TASK_STATES as readonly string[]).includes(state)) {
    throw new HttpError(400, `Expected \`state\` to be one of ${TASK_STATES.join(", ")}, got \`${state.slice(0, 40)}\``);
  }
  const lane = query.get("lane") || undefined;
  const rawLimit = query.get("limit");
  let limit = LIST_DEFAULT_LIMIT;
  if (rawLimit !== null && rawLimit !== "") {
    if (!/^\d{1,7}$/.test(rawLimit) || Number(rawLimit) < 1) {
      throw new HttpError(400, `Expected \`limit\` to be a whole number from 1 to ${LIST_MAX_LIMIT}, got \`${rawLimit.slice(0, 40)}\``);
    }
    limit = Math.min(Number(rawLimit), LIST_MAX_LIMIT);
  }
  const rawCursor = query.get("cursor");
  const after = rawCursor ? parseCursor(rawCursor) : null;
  const tasks = (await store.list(lane ? { lane } : {}))
    .filter((t) => state === null || t.state === (state as TaskState))
    .sort(newestFirst)
    .filter((t) => after === null || t.created_at < after[0] || (t.created_at === after[0] && t.id < after[1]));
  const page = tasks.slice(0, limit);
  const last = page.at(-1);
  return ok({ tasks: page, next_cursor: tasks.length > limit && last ? cursorOf(last) : null });
};

/** Static segments before ":id", so `/tasks/next` is never read as a task id. */
export const ROUTES: readonly Route[] = [
  { method: "GET", url: "/health", handler: health, reply: REPLY_SCHEMAS.health },
  { method: "POST", url: "/tasks", handler: createTask, body: BODY_SCHEMAS.createTask, reply: REPLY_SCHEMAS.created },
  { method: "GET", url: "/tasks", handler: listTasks, reply: REPLY_SCHEMAS.taskList },
  { method: "GET", url: "/tasks/next", handler: nextTask, reply: REPLY_SCHEMAS.maybeTask },
  { method: "GET", url: "/tasks/:id", handler: getTask, reply: REPLY_SCHEMAS.task },
  { method: "POST", url: "/tasks/:id/claim", handler: claimTask, body: BODY_SCHEMAS.claim, reply: REPLY_SCHEMAS.task },
  { method: "POST", url: "/tasks/:id/events", handler: addEvent, body: BODY_SCHEMAS.event, reply: REPLY_SCHEMAS.ok },
  { method: "POST", url: "/tasks/:id/response", handler: respond, body: BODY_SCHEMAS.respond, reply: REPLY_SCHEMAS.response },
  { method: "GET", url: "/tasks/:id/response", handler: awaitResponse, reply: REPLY_SCHEMAS.response },
  { method: "POST", url: "/tasks/:id/release", handler: release, body: BODY_SCHEMAS.release, reply: REPLY_SCHEMAS.task },
];

/**
 * For a request no route took: 405 (with Allow) when the path exists under
 * another method, else 404. `routes` are every registered route.
 */
export function notFound(routes: readonly Pick<Route, "method" | "url">[], method: string, pathname: string): HttpError {
  const segments = pathname.split("/").slice(1);
  const allowed = new Set<string>();
  for (const route of routes) {
    const pattern = route.url.split("/").slice(1);
    if (pattern.length !== segments.length) continue;
    const fits = pattern.every((part, i) => (part.startsWith(":") ? segments[i] !== "" : part === segments[i]));
    // A static route of the same shape (`/tasks/next`) wins over `:id` for its own path only.
    if (fits) allowed.add(route.method);
  }
  allowed.delete(method);
  if (allowed.size > 0) {
    const allow = [...allowed].sort().join(", ");
    return new HttpError(405, `method ${method} not allowed on ${pathname}; use ${allow}`, { headers: { Allow: allow } });
  }
  return new HttpError(404, `no such route: ${method} ${pathname}`);
}
