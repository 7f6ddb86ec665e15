// Request bodies: read with a size cap, parse as a JSON object, and read
// typed fields with 400s that name the field.

import type { IncomingMessage } from "node:http";
import { HttpError } from "./errors.js";
import { MAX_JSON_DEPTH, jsonTextDepth } from "../store/input-shape.js";

export type JsonObject = Record<string, unknown>;

export interface BodyLimits {
  maxBodyBytes: number;
  maxDrainBytes: number;
}

function tooLarge(limits: BodyLimits, closeConnection: boolean): HttpError {
  return new HttpError(413, `request body is larger than ${limits.maxBodyBytes} bytes`, { closeConnection });
}

/**
 * The raw body, refusing more than `maxBodyBytes` with 413. An oversized body
 * is drained (not kept) so the 413 reaches the client on a healthy
 * connection; one past `maxDrainBytes` is abandoned and the connection closed.
 */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limits.maxDrainBytes) return Promise.reject(tooLarge(limits, true));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const finish = (error: Error | null): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
      if (error) reject(error);
      else resolve(Buffer.concat(chunks, total));
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total <= limits.maxBodyBytes) chunks.push(chunk);
      else if (total > limits.maxDrainBytes) {
        req.pause();
        finish(tooLarge(limits, true));
      }
    };
    const onEnd = (): void => finish(total > limits.maxBodyBytes ? tooLarge(limits, false) : null);
    const onError = (error: Error): void => finish(error);
    const onClose = (): void => {
      if (!req.complete) finish(new Error("client closed the connection before the body ended"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** The one shape of every type error: names the field, the expectation and what came. */
export function fieldError(name: string, expected: string, value: unknown): HttpError {
  return new HttpError(400, `Expected \`${name}\` to be ${expected}, got \`${shown(value)}\` (${kind(value)})`);
}

/** Parse a body as a JSON object; an empty body is `{}` (so `curl -X POST .../claim` works). */
export function parseJsonObject(raw: Buffer): JsonObject {
  const text = raw.toString("utf8");
  if (text.trim() === "") return {};
  if (jsonTextDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new HttpError(400, `request body nests deeper than ${MAX_JSON_DEPTH} levels of objects and arrays`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `invalid JSON body: ${(error as Error).message}`);
  }
  if (kind(value) !== "object") throw new HttpError(400, `request body must be a JSON object, got ${kind(value)}`);
  return value as JsonObject;
}

/** null and absent are both "not given". */
const absent = (value: unknown): value is null | undefined => value === undefined || value === null;

/** A required string field: `missing field: <name>` when absent. */
export function requiredString(body: JsonObject, name: string): string {
  const value = body[name];
  if (absent(value)) throw new HttpError(400, `missing field: ${name}`);
  if (typeof value !== "string") throw fieldError(name, "a string", value);
  return value;
}

export function optionalString(body: JsonObject, name: string): string | undefined {
  const value = body[name];
  if (absent(value)) return undefined;
  if (typeof value !== "string") throw fieldError(name, "a string", value);
  return value;
}

/** A string that may be sent as null on purpose (kept as null). */
export function nullableString(body: JsonObject, name: string): string | null | undefined {
  const value = body[name];
  if (value === null) return null;
  return optionalString(body, name);
}

export function optionalNumber(body: JsonObject, name: string): number | undefined {
  const value = body[name];
  if (absent(value)) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) throw fieldError(name, "a number", value);
  return value;
}

export function optionalBoolean(body: JsonObject, name: string): boolean | undefined {
  const value = body[name];
  if (absent(value)) return undefined;
  if (typeof value !== "boolean") throw fieldError(name, "true or false", value);
  return value;
}

export function optionalObject(body: JsonObject, name: string): JsonObject | undefined {
  const value = body[name];
  if (absent(value)) return undefined;
  if (kind(value) !== "object") throw fieldError(name, "an object", value);
  return value as JsonObject;
}

/** A list of paths, each a string or `{path: string}` (the task-file form). */
export function optionalPathList(body: JsonObject, name: string): Array<string | { path: string }> | undefined {
  const value = body[name];
  if (absent(value)) return undefined;
  if (!Array.isArray(value)) throw fieldError(name, "a list of paths", value);
  return value.map((entry: unknown, index) => {
    if (typeof entry === "string") return entry;
    if (kind(entry) === "object" && typeof (entry as JsonObject).path === "string") return { path: (entry as { path: string }).path };
    throw fieldError(`${name}[${index}]`, "a path or {path: ...}", entry);
  });
}
