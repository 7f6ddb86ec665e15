// A webhook sink for tests: an HTTP server on 127.0.0.1 that records every
// POST body (JSON parsed when it is JSON) and can be told to fail or hang.

import { createServer, type IncomingMessage, type RequestListener, type Server } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";

export interface Received {
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
  json: Record<string, unknown> | null;
}

export interface HookServer {
  url: string;
  received: Received[];
  /** What the next requests get: 200 (default), an error status, or no answer at all. */
  mode: "ok" | "error" | "hang";
  close(): Promise<void>;
}

/** With `tls`, the sink serves HTTPS with that key and certificate. */
export async function startHookServer(tls?: { key: string; cert: string }): Promise<HookServer> {
  const received: Received[] = [];
  const hook: HookServer = { url: "", received, mode: "ok", close: async () => undefined };
  const listener: RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: Record<string, unknown> | null = null;
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        json = null;
      }
      received.push({ path: req.url ?? "", headers: req.headers, body, json });
      if (hook.mode === "hang") return;
      res.statusCode = hook.mode === "error" ? 503 : 200;
      res.end(hook.mode === "error" ? "down for maintenance" : "ok");
    });
  };
  const server: Server = tls ? createTlsServer(tls, listener) : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  hook.url = `${tls ? "https" : "http"}://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  hook.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return hook;
}
