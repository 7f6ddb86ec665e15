// JSON schemas of every request body and every reply of the HTTP API, and the
// one Ajv instance that checks both. A body that fails its schema answers 400
// with the same one-line message the field readers of body.ts give
// ("missing field: lane", "Expected `lane` to be a string, got `5` (number)");
// a reply that fails its schema is our bug and answers 500 (logged).
// `description` holds the words of the "Expected ... to be <description>" line.

import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { fieldError } from "./body.js";
import { HttpError } from "./errors.js";

type Schema = Record<string, unknown>;

const str = { type: "string", description: "a string" } as const;
/** null is "not given" (PROTOCOL.md §8), so optional fields take it. */
const optStr = { type: ["string", "null"], description: "a string" } as const;
const optNum = { type: ["number", "null"], description: "a number" } as const;
const optBool = { type: ["boolean", "null"], description: "true or false" } as const;
const optObj = { type: ["object", "null"], description: "an object" } as const;
const nullable = (type: string): Schema => ({ type: [type, "null"] });

function body(required: string[], properties: Record<string, unknown>): Schema {
  return { type: "object", required, properties };
}

export const BODY_SCHEMAS = {
  createTask: body(["workspace_id", "correlation_id", "lane", "workspace_root", "request_path", "response_path"], {
    workspace_id: str,
    correlation_id: str,
    // The Python server's legacy name of correlation_id (issue 14).
    checkpoint_id: optStr,
    lane: str,
    workspace_root: str,
    request_path: str,
    response_path: str,
    source_agent: optStr,
    worktree_path: optStr,
    expected_branch: optStr,
    prompt: optStr,
    supporting_paths: {
      type: ["array", "null"],
      description: "a list of paths",
      items: {
        description: "a path or {path: ...}",
        anyOf: [{ type: "string" }, { type: "object", required: ["path"], properties: { path: { type: "string" } } }],
      },
    },
    metadata: optObj,
  }),
  claim: body([], { owner: optStr, lease_seconds: optNum }),
  event: body([], { type: optStr, message: optStr, data: optObj }),
  respond: body(["body"], {
    body: str,
    claim_token: optStr,
    reviewer: optStr,
    status: optStr,
    verdict: optStr,
    blocking_count: optNum,
    nonblocking_count: optNum,
    follow_up_required: optBool,
    expect_sha256: optStr,
    metadata: optObj,
  }),
  release: body(["claim_token"], { claim_token: str, reason: optStr }),
  /** Dashboard actions: an optional note saying who/why. */
  action: body([], { reason: optStr, user: optStr }),
} as const;

const TASK: Schema = {
  type: "object",
  additionalProperties: true,
  required: ["id", "workspace_id", "correlation_id", "lane", "state", "workspace_root", "request_path", "response_path", "created_at", "updated_at"],
  properties: {
    id: { type: "string" },
    workspace_id: { type: "string" },
    correlation_id: { type: "string" },
    source_agent: { type: "string" },
    lane: { type: "string" },
    workspace_root: { type: "string" },
    worktree_path: nullable("string"),
    expected_branch: nullable("string"),
    request_path: { type: "string" },
    request_sha256: { type: "string" },
    supporting_paths: { type: "array", items: { type: "object", required: ["path", "sha256"] } },
    response_path: { type: "string" },
    prompt: nullable("string"),
    metadata: { type: "object" },
    state: { enum: ["queued", "claimed", "completed", "failed"] },
    created_at: { type: "string" },
    updated_at: { type: "string" },
    claim_owner: nullable("string"),
    claim_token: nullable("string"),
    lease_expires_at: nullable("string"),
    claimed_at: nullable("string"),
    completed_at: nullable("string"),
    failed_at: nullable("string"),
    failure_reason: nullable("string"),
  },
};

const RESPONSE: Schema = {
  type: "object",
  additionalProperties: true,
  required: ["task_id", "status", "body", "created_at"],
  properties: {
    task_id: { type: "string" },
    reviewer: { type: "string" },
    status: { enum: ["completed", "failed"] },
    body: { type: "string" },
    reviewed_request_sha256: nullable("string"),
    request_changed_before_response: { type: "boolean" },
    follow_up_required: { type: "boolean" },
    verdict: { enum: ["accept", "accept-with-follow-ups", "needs-revision", null] },
    blocking_count: { type: "number" },
    nonblocking_count: { type: "number" },
    metadata: { type: "object" },
    created_at: { type: "string" },
  },
};

const EVENT: Schema = {
  type: "object",
  required: ["created_at", "type", "message", "data"],
  properties: { created_at: { type: "string" }, type: { type: "string" }, message: { type: "string" }, data: { type: "object" } },
};

const ERROR: Schema = { type: "object", required: ["error"], properties: { error: { type: "string" } } };
const obj = (required: string[], properties: Record<string, unknown>): Schema => ({ type: "object", required, properties });

/** Reply schemas by status; every 4xx/5xx is `{"error": "..."}`. */
const replies = (ok: Record<number, Schema>): Record<string, Schema> => ({ ...ok, "4xx": ERROR, "5xx": ERROR });

export const REPLY_SCHEMAS = {
  task: replies({ 200: obj(["task"], { task: TASK }) }),
  created: replies({ 201: obj(["task"], { task: TASK }) }),
  maybeTask: replies({ 200: obj(["task"], { task: { anyOf: [{ type: "null" }, TASK] } }) }),
  response: replies({ 200: obj(["response"], { response: RESPONSE }) }),
  ok: replies({ 200: obj(["ok"], { ok: { const: true } }) }),
  health: replies({ 200: obj(["status", "long_polls"], { status: { const: "ok" }, long_polls: { type: "integer", minimum: 0 } }) }),
  taskList: replies({
    200: obj(["tasks", "next_cursor"], { tasks: { type: "array", items: TASK }, next_cursor: nullable("string") }),
  }),
  taskDetail: replies({
    200: obj(["task", "response", "events", "problems"], {
      task: TASK,
      response: { anyOf: [{ type: "null" }, RESPONSE] },
      events: { type: "array", items: EVENT },
      request: { type: ["object", "null"] },
      problems: { type: "array", items: { type: "string" } },
    }),
  }),
  summary: replies({ 200: { type: "object", required: ["lanes", "counts"] } }),
  stats: replies({ 200: { type: "object", required: ["days", "hours"] } }),
  pauses: replies({ 200: obj(["pauses"], { pauses: { type: "array", items: { type: "object", required: ["vendor", "until"] } } }) }),
  runs: replies({ 200: obj(["runs"], { runs: { type: "array", items: { type: "object", required: ["task_id"] } } }) }),
} as const;

/** One Ajv for bodies and replies: no type coercion (a "60" stays a string), data kept on errors for the message. */
export const ajv = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: false, verbose: true, strict: false });

/** `/supporting_paths/1` → `supporting_paths[1]`. */
function fieldName(instancePath: string, missing?: string): string {
  const parts = instancePath.split("/").slice(1);
  if (missing !== undefined) parts.push(missing);
  return parts.reduce((name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name === "" ? part : `${name}.${part}`), "");
}

/** The one-line 400 for the errors Ajv reported on a body. */
export function bodyErrorMessage(errors: readonly ErrorObject[]): HttpError {
  // The last error is the outermost (an anyOf reports its branches first).
  const error = errors.at(-1) as ErrorObject;
  if (error.keyword === "required") {
    return new HttpError(400, `missing field: ${fieldName(error.instancePath, (error.params as { missingProperty: string }).missingProperty)}`);
  }
  const name = fieldName(error.instancePath);
  // A required field sent as null is not given (PROTOCOL.md §8).
  if (error.data === null && error.keyword === "type") return new HttpError(400, `missing field: ${name}`);
  const described = (error.parentSchema as { description?: string } | undefined)?.description;
  return fieldError(name || "body", described ?? `valid (${error.message ?? error.keyword})`, error.data);
}

/** A serializer that checks a reply against its schema first (a mismatch throws: our bug, a 500). */
export function replySerializer(schema: Schema): (data: unknown) => string {
  const validate: ValidateFunction = ajv.compile(schema);
  return (data) => {
    if (!validate(data)) {
      const first = validate.errors?.[0];
      throw new Error(`reply does not match its schema at ${first?.instancePath || "/"}: ${first?.message ?? "invalid"}`);
    }
    return `${JSON.stringify(data)}\n`;
  };
}
