// The three kinds of sink. Each delivery gets the notifier's AbortSignal
// (its timeout); a sink only sends and reports failure by rejecting.

import { execa } from "execa";
import http from "node:http";
import https from "node:https";
import { trustDeferredExtraCaCerts } from "../extra-ca-certs.js";
import type { Notification, Sink, SinkSpec, WebhookFormat } from "./types.js";

/**
 * One POST over node:http(s) with a keep-alive agent per sink: a fraction of
 * fetch's CPU per request (measured about 4× less), and no lazy load of
 * fetch's engine in the dispatcher. Rejects on a non-2xx status, a network
 * error or the signal.
 */
function poster(url: string): (body: string, headers: Record<string, string>, signal: AbortSignal) => Promise<void> {
  const target = new URL(url);
  const client = target.protocol === "https:" ? https : http;
  if (client === https) trustDeferredExtraCaCerts();
  const agent = new client.Agent({ keepAlive: true, maxSockets: 4 });
  return (body, headers, signal) =>
    new Promise<void>((resolve, reject) => {
      const request = client.request(
        target,
        { method: "POST", agent, signal, headers: { ...headers, "content-length": String(Buffer.byteLength(body)) } },
        (response) => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            // Drained, so the connection goes back to the agent.
            response.resume();
            response.on("end", resolve);
            response.on("error", reject);
            return;
          }
          let text = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => {
            if (text.length < 200) text += chunk;
          });
          response.on("end", () => reject(new Error(`HTTP ${status} from ${url}${text ? `: ${text.slice(0, 200).replace(/\s+/g, " ")}` : ""}`)));
          response.on("error", reject);
        },
      );
      request.on("error", reject);
      request.end(body);
    });
}

/** The JSON a webhook receives in each format. */
export function webhookBody(format: WebhookFormat, n: Notification): unknown {
  switch (format) {
    case "slack":
      return { text: `*${n.title}*\n${n.text}` };
    case "discord":
      // Discord refuses content over 2000 characters.
      return { content: `**${n.title}**\n${n.text}`.slice(0, 2000) };
    case "json":
      return n;
  }
}

const NTFY_TAGS: Record<Notification["event"], string> = {
  "task.completed": "white_check_mark",
  "task.failed": "x",
  "vendor.paused": "pause_button",
  "dispatcher.stopped": "warning",
  digest: "bookmark_tabs",
};

/** An AppleScript string literal. */
const appleString = (text: string): string => `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

export function createSink(spec: SinkSpec, platform: NodeJS.Platform = process.platform): Sink {
  switch (spec.type) {
    case "webhook": {
      const post = poster(spec.url);
      return {
        id: `webhook ${spec.url}${spec.format === "json" ? "" : ` (${spec.format})`}`,
        send: (n, signal) => post(JSON.stringify(webhookBody(spec.format, n)), { "content-type": "application/json" }, signal),
      };
    }
    case "ntfy": {
      const post = poster(spec.url);
      return {
        id: `ntfy ${spec.url}`,
        // ntfy takes the message as the body and the rest as headers (ASCII only: other characters of the title become ?).
        send: (n, signal) =>
          post(n.text, { title: n.title.replace(/[^\x20-\x7e]/g, "?"), tags: NTFY_TAGS[n.event], priority: n.event === "task.failed" || n.event === "dispatcher.stopped" ? "4" : "3", "content-type": "text/plain; charset=utf-8" }, signal),
      };
    }
    case "desktop":
      return {
        id: "desktop",
        async send(n, signal) {
          if (platform === "darwin") {
            await execa("osascript", ["-e", `display notification ${appleString(n.text)} with title ${appleString(n.title)}`], { cancelSignal: signal });
          } else {
            await execa("notify-send", ["--app-name=agent-lanes", n.title, n.text], { cancelSignal: signal });
          }
        },
      };
  }
}
