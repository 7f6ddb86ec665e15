// The routes of PROTOCOL.md §8: matching (404 / 405) and one handler each.
// Handlers turn JSON fields into Store calls; the store owns every rule.

import type { IncomingMessage, ServerResponse } from "node:http";
import { assertTaskId } from "../store/layout.js";
import type { Store, TerminalState, Verdict } from "../store/types.js";
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

/** What a handler answers; null when there is no one left to answer (client gone). */
export type Reply = { status: number; body: unknown } | null;

export interface RouteDeps {
  store: Store;
  longPolls: LongPollRegistry;
  nextWaiters: NextWaiters;
  maxWaitSeconds: number;
}

export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** The task id of `/tasks/<id>/...`, already validated. */
  taskId: string;
  query: URLSearchParams;
  /** The parsed JSON object body (read on first call). */
  body(): Promise<JsonObject>;
}

type Handler = (deps: RouteDeps, request: RouteRequest) => Promise<Reply>;

interface Route {
  method: "GET" | "POST";
  /** Path segments; ":id" matches one task id. */
  pattern: readonly string[];
  handler: Handler;
}

const ok = (body: unknown, status = 200): Reply => ({ status, body });

/** `wait_seconds` from the query: absent is 0, fractions allowed, capped at `max`. */
export function waitSeconds(query: URLSearchParams, max: number): number {
  const raw = query.get("wait_seconds");
  if (raw === null || raw.trim() === "") return 0;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new HttpError(400, `Expected \`wait_seconds\` to be a number >= 0, got \`${raw}\``);
  }
  return Math.min(value, max);
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

const createTask: Handler = async ({ store }, { body }) => {
  const b = await body();
  const task = await store.create({
    workspace_id: requiredString(b, "workspace_id"),
    correlation_id: requiredString(b, "correlation_id"),
    lane: requiredString(b, "lane"),
    workspace_root: requiredString(b, "workspace_root"),
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

const claimTask: Handler = async ({ store }, { taskId, body }) => {
  const b = await body();
  const task = await store.claim(taskId, {
    owner: optionalString(b, "owner") ?? "worker",
    leaseSeconds: optionalNumber(b, "lease_seconds"),
  });
  return ok({ task });
};

const addEvent: Handler = async ({ store }, { taskId, body }) => {
  const b = await body();
  await store.appendEvent(taskId, {
    type: optionalString(b, "type") ?? "note",
    message: optionalString(b, "message") ?? "",
    data: optionalObject(b, "data") ?? {},
  });
  return ok({ ok: true });
};

const respond: Handler = async ({ store }, { taskId, body }) => {
  const b = await body();
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

const release: Handler = async ({ store }, { taskId, body }) => {
  const b = await body();
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

/** Literal segments before ":id", so `/tasks/next` is never read as a task id. */
const ROUTES: readonly Route[] = [
  { method: "GET", pattern: ["health"], handler: health },
  { method: "POST", pattern: ["tasks"], handler: createTask },
  { method: "GET", pattern: ["tasks", "next"], handler: nextTask },
  { method: "GET", pattern: ["tasks", ":id"], handler: getTask },
  { method: "POST", pattern: ["tasks", ":id", "claim"], handler: claimTask },
  { method: "POST", pattern: ["tasks", ":id", "events"], handler: addEvent },
  { method: "POST", pattern: ["tasks", ":id", "response"], handler: respond },
  { method: "GET", pattern: ["tasks", ":id", "response"], handler: awaitResponse },
  { method: "POST", pattern: ["tasks", ":id", "release"], handler: release },
];

export interface Match {
  handler: Handler;
  /** Raw (decoded) task id segment, or "" when the route has none. */
  taskId: string;
}

/** The route for a method and path; throws 404 for no such path, 405 (with Allow) for a wrong method. */
export function matchRoute(method: string, pathname: string): Match {
  const segments = pathname.split("/").slice(1);
  const allowed = new Set<string>();
  for (const route of ROUTES) {
    if (route.pattern.length !== segments.length) continue;
    let id = "";
    const fits = route.pattern.every((part, i) => {
      const segment = segments[i] as string;
      if (part !== ":id") return part === segment;
      id = segment;
      return segment !== "";
    });
    if (!fits) continue;
    if (route.method === method) {
      if (route.pattern.includes(":id")) assertTaskId(decodeSegment(id));
      return { handler: route.handler, taskId: decodeSegment(id) };
    }
    allowed.add(route.method);
  }
  if (allowed.size > 0) {
    const allow = [...allowed].sort().join(", ");
    throw new HttpError(405, `method ${method} not allowed on ${pathname}; use ${allow}`, { headers: { Allow: allow } });
  }
  throw new HttpError(404, `no such route: ${method} ${pathname}`);
}

/** A percent-decoded path segment; a malformed escape is kept raw (and then fails the task-id check). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
