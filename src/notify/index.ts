// Notifications from the dispatcher (issue 15 item 2): see docs/notifications.md.
export { createNotifier, type Notifier, type NotifierLog, type NotifierOptions, type NotifierStats } from "./notifier.js";
export { parseNotifyFlag, resolveNotifyConfig } from "./config.js";
export { createSink, webhookBody } from "./sinks.js";
export { createDedup, markerDir } from "./dedup.js";
export * from "./types.js";
