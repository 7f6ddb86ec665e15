// A running server over a temporary queue, and small HTTP clients for tests.

import http from "node:http";
import { Writable } from "node:stream";
import { pino } from "pino";
import { createServer, type AgentLanesServer, type ServerOptions } from "../../src/server/index.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";

export interface Harness {
  ws: TestWorkspace;
  server: AgentLanesServer;
  /** Base URL reached over 127.0.0.1, whatever address was bound. */
  url: string;
  /** Every log line the server wrote (parsed pino JSON). */
  logs: Array<Record<string, unknown>>;
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiReply>;
  stop(): Promise<void>;
}

export interface ApiReply {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

export async function startServer(
  options: Partial<ServerOptions> & { host?: string; wrapStore?: (store: TestWorkspace["store"]) => TestWorkspace["store"] } = {},
): Promise<Harness> {
  const ws = await makeWorkspace();
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const { host = "127.0.0.1", wrapStore, ...rest } = options;
  const server = createServer({ store: wrapStore ? wrapStore(ws.store) : ws.store, allowedRoots: [ws.root], logger: pino({ level: "debug" }, sink), ...rest });
  const { port } = await server.listen(0, host);
  const url = `http://127.0.0.1:${port}`;
  return {
    ws,
    server,
    url,
    logs,
    async api(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === "string" ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)["content-type"] = "application/json";
      }
      const res = await fetch(`${url}${path}`, init);
      const text = await res.text();
      return { status: res.status, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>), headers: res.headers };
    },
    async stop() {
      await server.close();
      await ws.cleanup();
    },
  };
}

export interface OpenRequest {
  /** Settles with the status and parsed body, or rejects when the request is aborted or the connection drops. */
  done: Promise<{ status: number; body: Record<string, unknown> }>;
  /** Tear the connection down (the client "disconnects"). */
  abort(): void;
}

/** A GET on its own connection (no agent), so aborting it really closes a socket. */
export function openGet(url: string, headers: Record<string, string> = {}): OpenRequest {
  let req: http.ClientRequest | undefined;
  const done = new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    req = http.get(url, { agent: false, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
  // Aborted requests reject; callers that abort on purpose look at the rejection themselves.
  done.catch(() => undefined);
  return { done, abort: () => req?.destroy() };
}

/** Active timers of this process (Node's own count, not ours). */
export const activeTimers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;

/** Re-check `condition` every few ms until it holds; fail after `attempts`. */
export async function until(condition: () => boolean, what: string, attempts = 500): Promise<void> {
  for (let i = 0; i < attempts; i += 1) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for: ${what}`);
}
