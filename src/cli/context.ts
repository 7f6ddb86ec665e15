// What every command needs from the global options: the engine config (when
// there is one), the queue, and how to print. Commands call these instead of
// reading --config/--store themselves, so the rules live in one place.

import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import type { EngineConfig } from "../config/handoff.js";
import type { Store } from "../store/types.js";
import { CliError } from "./errors.js";
import { writeErr, writeOut } from "./output.js";
import { CLI_DEFAULTS, safetyPollMs } from "./options.js";

/** Default of `--config`, relative to the cwd (PROTOCOL.md §1). */
export const DEFAULT_CONFIG_PATH = "handoff/handoff.yaml";

export interface GlobalOptions {
  config: string;
  /** True when --config was given explicitly (not the default). */
  configGiven: boolean;
  store?: string;
  json: boolean;
  debug: boolean;
  /** --lock-timeout in seconds. */
  lockTimeoutSeconds: number;
}

/** The global options, wherever they were written (before or after the command name). */
export function globals(cmd: Command): GlobalOptions {
  const all = cmd.optsWithGlobals() as { config?: string; store?: string; json?: boolean; debug?: boolean; lockTimeout?: number };
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  const source = root.getOptionValueSource("config");
  return {
    config: all.config ?? DEFAULT_CONFIG_PATH,
    configGiven: source !== undefined && source !== "default",
    // --store, else AGENT_LANES_STORE (a folder or a postgres:// URL), else the config's queue_root.
    store: all.store ?? (process.env.AGENT_LANES_STORE || undefined),
    json: Boolean(all.json),
    debug: Boolean(all.debug) || process.env.AGENT_LANES_DEBUG === "1",
    lockTimeoutSeconds: all.lockTimeout ?? CLI_DEFAULTS.lockTimeoutSeconds,
  };
}

/** Load handoff.yaml; a clear error naming the file and the fix when it is missing. */
export async function requireConfig(cmd: Command): Promise<EngineConfig> {
  const g = globals(cmd);
  const { loadEngineConfig } = await import("../config/handoff.js");
  try {
    return await loadEngineConfig(g.config, { storeOverride: g.store ?? null });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (message.startsWith("config file does not exist")) {
      const fix = g.configGiven
        ? "check the --config path"
        : `run 'agent-lanes init' in the workspace, run from the folder holding handoff/, or pass --config PATH`;
      throw new CliError(`${message} (${fix})`, { cause: error });
    }
    throw error;
  }
}

export interface QueueContext {
  /** null when --store was given and there is no config file. */
  config: EngineConfig | null;
  /** The queue folder; for a PostgreSQL queue, this host's folder for local state (store.root). */
  queueRoot: string;
  /** The queue as messages show it: the folder, or the URL with its password masked. */
  queueLabel: string;
  store: Store;
}

export interface OpenQueueOptions {
  /** Bring a PostgreSQL queue's schema up to date (dispatch, serve, migrate). */
  migrate?: boolean;
  /** A process that may run for long (dispatch, serve, wait --lane): its memory must not follow the queue's history (OpenStoreOptions.longRunning). */
  longRunning?: boolean;
  /**
   * For long-running commands (dispatch, serve): a PostgreSQL server that
   * cannot be reached yet (starting with the machine, restarting) is tried
   * again, with a line on stderr each time, for up to this long. A database
   * that does not exist or a wrong password fails at once.
   */
  startWaitMs?: number;
}

/** How long `dispatch` and `serve` wait at start for a PostgreSQL server that refuses connections. */
export const STORE_START_WAIT_MS = 60_000;

/**
 * The queue of this invocation: `--store` if given, else the config's
 * queue_root. With --store and no config file (or only the default path
 * missing), commands that need no workspace facts still work.
 * The caller closes the store (or uses withQueue).
 */
export async function openQueue(cmd: Command, options: OpenQueueOptions = {}): Promise<QueueContext> {
  if (!options.startWaitMs) return openQueueOnce(cmd, options);
  const { isTransientUnavailable } = await import("../store/postgres/transient.js");
  const deadline = Date.now() + options.startWaitMs;
  let delay = 500;
  for (;;) {
    try {
      return await openQueueOnce(cmd, options);
    } catch (error) {
      if (!isTransientUnavailable(error) || Date.now() + delay > deadline) throw error;
      warn(`agent-lanes: ${(error as Error).message.split("\n")[0]}; trying again in ${delay / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}

async function openQueueOnce(cmd: Command, options: OpenQueueOptions): Promise<QueueContext> {
  const g = globals(cmd);
  let config: EngineConfig | null = null;
  const configExists = existsSync(path.resolve(g.config));
  if (configExists || !g.store || g.configGiven) config = await requireConfig(cmd);
  const { isPostgresUrl, openStore } = await import("../store/open.js");
  const target = g.store ? (isPostgresUrl(g.store) ? g.store.trim() : path.resolve(g.store)) : (config as EngineConfig).queue_root;
  const store = await openStore(target, {
    migrate: options.migrate,
    pollMs: safetyPollMs(),
    lockTimeoutMs: g.lockTimeoutSeconds * 1000,
    requestMaxBytes: config?.request_max_bytes,
    listingSnapshot: true,
    longRunning: options.longRunning,
    onLockWait: ({ lockPath, holderPid, timeoutMs }) =>
      warn(
        `agent-lanes: waiting for the queue lock ${lockPath}${holderPid === null ? "" : ` (held by pid ${holderPid})`}; ` +
          `giving up after ${timeoutMs / 1000} s (--lock-timeout)`,
      ),
  });
  return { config, queueRoot: store.root, queueLabel: store.location ?? store.root, store };
}

/** Run `body` with this invocation's queue and close the store afterwards, whatever happens. */
export async function withQueue<T>(cmd: Command, body: (queue: QueueContext) => Promise<T>, options: OpenQueueOptions = {}): Promise<T> {
  const queue = await openQueue(cmd, options);
  try {
    return await body(queue);
  } finally {
    await queue.store.close();
  }
}

/** Print a payload: JSON (2-space indent, sorted keys) with --json, else the given text lines. */
export async function emit(cmd: Command, payload: unknown, textLines?: string[] | (() => string[])): Promise<void> {
  const g = globals(cmd);
  if (g.json || textLines === undefined) {
    const { toPythonJson } = await import("../store/json.js");
    writeOut(`${toPythonJson(payload, 2)}\n`);
    return;
  }
  const lines = typeof textLines === "function" ? textLines() : textLines;
  if (lines.length > 0) writeOut(`${lines.join("\n")}\n`);
}

/**
 * Print a payload holding a long list under `listKey`: as emit, but the JSON
 * is written an item at a time (byte for byte what emit would print), so
 * status --all of a queue with fifty thousand tasks never builds one huge
 * string. `itemJson` gives an item's JSON text, indented by `pad`, as parts
 * (a rendered view is bytes already); by default the item is serialised.
 */
export async function emitList<T>(
  cmd: Command,
  payload: Record<string, unknown>,
  listKey: string,
  items: readonly T[],
  textLines: () => string[],
  itemJson?: (item: T, pad: string) => Array<string | Uint8Array>,
): Promise<void> {
  if (!globals(cmd).json || items.length === 0) return emit(cmd, { ...payload, [listKey]: items }, textLines);
  const { toPythonJson } = await import("../store/json.js");
  const mark = "\u0001agent-lanes-items\u0001";
  const head = toPythonJson({ ...payload, [listKey]: [mark] }, 2);
  const quoted = toPythonJson(mark);
  const at = head.indexOf(quoted);
  const pad = head.slice(head.lastIndexOf("\n", at) + 1, at); // the indentation of the list's items
  const json = itemJson ?? ((item: T, itemPad: string) => [toPythonJson(item, 2).replaceAll("\n", `\n${itemPad}`)]);
  let parts: Array<string | Uint8Array> = [head.slice(0, at)];
  let size = 0;
  const flush = (): void => {
    // Runs of text are joined and encoded once (a Buffer.from a part costs more than the part).
    const chunks: Uint8Array[] = [];
    let text: string[] = [];
    for (const part of parts) {
      if (typeof part === "string") text.push(part);
      else {
        if (text.length > 0) chunks.push(Buffer.from(text.join("")));
        text = [];
        chunks.push(part);
      }
    }
    if (text.length > 0) chunks.push(Buffer.from(text.join("")));
    writeOut(chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks));
    parts = [];
    size = 0;
  };
  const separator = `,\n${pad}`;
  for (let i = 0; i < items.length; i += 1) {
    if (i > 0) parts.push(separator);
    for (const part of json(items[i] as T, pad)) {
      parts.push(part);
      size += part.length;
    }
    if (size >= 1 << 20) flush();
  }
  parts.push(`${head.slice(at + quoted.length)}\n`);
  flush();
}

/**
 * A text line with its control characters escaped as JSON writes them (\n,
 * \t, \u001b): a lane, owner or failure reason holding a newline must not
 * start a line of its own that a script would read as another `key=value`.
 */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (ch) => (ch === "\u007f" ? "\\u007f" : JSON.stringify(ch).slice(1, -1)));
}

/** One line on stderr (warnings, heartbeats, deprecations), control characters escaped; stdout stays for payloads. */
export function warn(line: string): void {
  writeErr(`${oneLine(line)}\n`);
}

/** Throw a CliError for a missing required value of a flag. */
export function requireFlag(value: unknown, flag: string, hint = ""): string {
  if (typeof value !== "string" || value === "") throw new CliError(`missing required option ${flag}${hint ? `: ${hint}` : ""}`);
  return value;
}
