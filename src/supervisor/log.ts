// The dispatcher's logger: pino, JSON lines by default, pino-pretty on a TTY
// or with --log-format pretty. Both are imported lazily, so commands that do
// not dispatch never load them. Logs go to stderr: stdout stays free for
// whatever a wrapper may want to print.

import type { Logger } from "pino";
import type { LogFormat, LogLevel } from "./options.js";

export type { Logger };

export interface CreateLoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** @default process.stderr's file descriptor (2) */
  fd?: number;
  /** Fields on every line (vendor, owner). */
  base?: Record<string, unknown>;
  /** Decides "auto". @default process.stderr.isTTY */
  isTTY?: boolean;
}

/** A pino logger writing synchronously to `fd` (nothing is lost when the process ends right after). */
export async function createLogger(options: CreateLoggerOptions): Promise<Logger> {
  const { pino } = await import("pino");
  const fd = options.fd ?? 2;
  const pretty = options.format === "pretty" || (options.format === "auto" && (options.isTTY ?? Boolean(process.stderr.isTTY)));
  const settings = { level: options.level, base: { ...(options.base ?? {}) }, timestamp: pino.stdTimeFunctions.isoTime };
  if (!pretty) return pino(settings, pino.destination({ fd, sync: true }));
  const { default: prettyStream } = await import("pino-pretty");
  const stream = prettyStream({ destination: fd, sync: true, colorize: options.isTTY ?? Boolean(process.stderr.isTTY), ignore: "pid,hostname" });
  return pino(settings, stream);
}
