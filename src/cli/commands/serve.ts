// `agent-lanes serve`: the HTTP API of PROTOCOL.md §8 over this queue until
// SIGINT/SIGTERM. The server and pino load inside the action, so other
// commands never pay for them.

import type { Command } from "commander";
import { SERVER_DEFAULTS, TOKEN_ENV } from "../../server/defaults.js";
import { openQueue } from "../context.js";
import { CliError } from "../errors.js";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

interface ServeOptions {
  host: string;
  port: string;
  token?: string;
  logLevel: string;
  allowHost: string[];
  allowRoot: string[];
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || port > 65_535) {
    throw new CliError(`Expected \`--port\` to be a whole number from 0 to 65535, got \`${value}\``);
  }
  return port;
}

/** Resolve on the first SIGINT or SIGTERM; a second one gets Node's default (immediate exit). */
function firstStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(signal);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

async function runServe(cmd: Command): Promise<void> {
  const opts = cmd.opts<ServeOptions>();
  const port = parsePort(opts.port);
  const host = opts.host;
  if (!(LOG_LEVELS as readonly string[]).includes(opts.logLevel)) {
    throw new CliError(`Expected \`--log-level\` to be one of ${LOG_LEVELS.join(", ")}, got \`${opts.logLevel}\``);
  }
  const token = opts.token ?? (process.env[TOKEN_ENV] || undefined);
  const { createServer, isLoopbackHost } = await import("../../server/index.js");
  if (!isLoopbackHost(host)) {
    if (!token) {
      throw new CliError(`refusing to serve on ${host} without a token: pass --token or set ${TOKEN_ENV} (or bind 127.0.0.1)`);
    }
    process.stderr.write(`agent-lanes serve: warning: ${host} is not a loopback address; other machines can reach this API, every request must send Authorization: Bearer <token>\n`);
  }

  const { store, config } = await openQueue(cmd);
  const { pino } = await import("pino");
  const { resolveAllowedRoots } = await import("../../server/workspace-roots.js");
  const logger = pino({ level: opts.logLevel }, pino.destination(2));
  let server: Awaited<ReturnType<typeof createServer>> | undefined;
  try {
    // Over HTTP a task's workspace_root must lie inside a root the operator allows (issue 11).
    const allowedRoots = await resolveAllowedRoots([...(config ? [config.workspace_root] : []), ...opts.allowRoot]);
    if (allowedRoots.length === 0) {
      process.stderr.write("agent-lanes serve: warning: no workspace root is allowed (no config, no --allow-root): POST /tasks will refuse every task\n");
    }
    server = createServer({ store, token: token ?? null, logger, allowedRoots, allowHosts: opts.allowHost });
    const { url } = await server.listen(port, host);
    const stopped = firstStopSignal();
    process.stderr.write(`agent-lanes serve: listening on ${url} (queue ${store.root})\n`);
    const signal = await stopped;
    process.stderr.write(`agent-lanes serve: ${signal}, stopping\n`);
  } catch (error) {
    throw new CliError(error instanceof Error ? error.message : String(error), { cause: error });
  } finally {
    await server?.close();
    await store.close();
  }
}

/** Add `serve [--host] [--port] [--token] [--log-level]` to the program. */
export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("serve the HTTP API over this queue (POST /tasks, GET /tasks/next, ...) until SIGINT/SIGTERM")
    .option("--host <host>", "address to bind; anything but loopback requires a token", SERVER_DEFAULTS.host)
    .option("--port <port>", "TCP port (0 picks a free one)", String(SERVER_DEFAULTS.port))
    .option("--token <token>", `bearer token every request must send (default: $${TOKEN_ENV})`)
    .option("--allow-host <name>", "also accept this name in the Host header (repeatable; the bound address and localhost always are)", collect, [])
    .option("--allow-root <dir>", "also allow tasks whose workspace_root lies in this folder (repeatable; the config's workspace_root always is)", collect, [])
    .option("--log-level <level>", `log level on stderr: ${LOG_LEVELS.join(", ")} (debug logs each request)`, "info")
    .action(async (_options: unknown, cmd: Command) => runServe(cmd));
}
