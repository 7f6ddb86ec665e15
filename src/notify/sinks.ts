// The three kinds of sink. Each delivery gets the notifier's AbortSignal
// (its timeout); a sink only sends and reports failure by rejecting.

import { execa } from "execa";
import type { Notification, Sink, SinkSpec, WebhookFormat } from "./types.js";

async function post(url: string, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<void> {
  const response = await fetch(url, { method: "POST", body, headers, signal });
  // Drained either way, so the connection is reused or closed.
  const text = await response.text().catch(() => "");
  if (!response.ok) throw new Error(`HTTP ${response.status} from ${url}${text ? `: ${text.slice(0, 200).replace(/\s+/g, " ")}` : ""}`);
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
    case "webhook":
      return {
        id: `webhook ${spec.url}${spec.format === "json" ? "" : ` (${spec.format})`}`,
        send: (n, signal) => post(spec.url, JSON.stringify(webhookBody(spec.format, n)), { "content-type": "application/json" }, signal),
      };
    case "ntfy":
      return {
        id: `ntfy ${spec.url}`,
        // ntfy takes the message as the body and the rest as headers (ASCII only: other characters of the title become ?).
        send: (n, signal) =>
          post(spec.url, n.text, { title: n.title.replace(/[^\x20-\x7e]/g, "?"), tags: NTFY_TAGS[n.event], priority: n.event === "task.failed" || n.event === "dispatcher.stopped" ? "4" : "3" }, signal),
      };
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
