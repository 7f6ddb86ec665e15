// What `agent-lanes serve` and `agent-lanes dashboard` do (their flags are in
// serve.ts): serve the HTTP API of PROTOCOL.md §8 (and the dashboard at /)
// over this queue until SIGINT/SIGTERM; print the URL of a running serve on
// loopback, or start one. Loaded from dist/ when one of them runs, with its
// own module graph (context, store), as the server needs; the server and pino
// load inside, so other commands never pay for them.

import { spawn } from "node:child_process";
import type { Command } from "commander";
import { SERVER_DEFAULTS, TOKEN_ENV } from "../../server/defaults.js";
import { openQueue, STORE_START_WAIT_MS } from "../context.js";
import { CliError } from "../errors.js";
import { LOG_LEVELS } from "./serve.js";
import { holdYoungGeneration, releaseMemoryLater } from "../../process-memory.js";

export interface ServeOptions {
  host: string;
  port: string;
  token?: string;
  logLevel: string;
  allowHost?: string[];
  allowRoot?: string[];
}

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

const tokenOf = (opts: { token?: string }): string | undefined => opts.token ?? (process.env[TOKEN_ENV] || undefined);

/** The dashboard's address; a token rides in the fragment, which the browser never sends to a server. */
const dashboardUrl = (base: string, token: string | undefined): string => `${base}/${token ? `#token=${encodeURIComponent(token)}` : ""}`;

/** Serve until a stop signal; `onListening` runs once the socket is bound. */
export async function runServe(cmd: Command, opts: ServeOptions, onListening?: (url: string) => void): Promise<void> {
  holdYoungGeneration({ forLife: true }); // process-memory.ts
  const port = parsePort(opts.port);
  const host = opts.host;
  if (!(LOG_LEVELS as readonly string[]).includes(opts.logLevel)) {
    throw new CliError(`Expected \`--log-level\` to be one of ${LOG_LEVELS.join(", ")}, got \`${opts.logLevel}\``);
  }
  const token = tokenOf(opts);
  const { createServer, isLoopbackHost } = await import("../../server/index.js");
  if (!isLoopbackHost(host)) {
    if (!token) {
      throw new CliError(`refusing to serve on ${host} without a token: pass --token or set ${TOKEN_ENV} (or bind 127.0.0.1)`);
    }
    process.stderr.write(`agent-lanes serve: warning: ${host} is not a loopback address; other machines can reach this API, every request must send Authorization: Bearer <token>\n`);
  }

  // A PostgreSQL queue's schema is brought up to date here (never destructive);
  // a server that is still starting is waited for, as dispatch does.
  const { store, config } = await openQueue(cmd, { migrate: true, startWaitMs: STORE_START_WAIT_MS, longRunning: true });
  const { pino } = await import("pino");
  const { resolveAllowedRoots } = await import("../../store/allowed-roots.js");
  const logger = pino({ level: opts.logLevel }, pino.destination(2));
  let server: ReturnType<typeof createServer> | undefined;
  try {
    // Over HTTP a task's workspace_root must lie inside a root the operator allows (issue 11).
    const allowedRoots = await resolveAllowedRoots([...(config ? [config.workspace_root] : []), ...(opts.allowRoot ?? [])], { requireFolders: true });
    if (allowedRoots.length === 0) {
      process.stderr.write("agent-lanes serve: warning: no workspace root is allowed (no config, no --allow-root): POST /tasks will refuse every task\n");
    }
    server = createServer({ store, token: token ?? null, logger, allowedRoots, allowHosts: opts.allowHost ?? [] });
    const { url } = await server.listen(port, host);
    const stopped = firstStopSignal();
    process.stderr.write(`agent-lanes serve: listening on ${url} (queue ${store.location ?? store.root})\n`);
    onListening?.(url);
    // Start-up is over: give back the memory it left committed (process-memory.ts).
    releaseMemoryLater();
    const signal = await stopped;
    process.stderr.write(`agent-lanes serve: ${signal}, stopping\n`);
  } catch (error) {
    throw new CliError(error instanceof Error ? error.message : String(error), { cause: error });
  } finally {
    await server?.close();
    await store.close();
  }
}

/** True when an agent-lanes server answers on `base` (a 401 from one with a token counts). */
async function serverRuns(base: string, token: string | undefined): Promise<boolean> {
  try {
    const res = await fetch(`${base}/health`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(1500) });
    if (res.status === 401) return (res.headers.get("www-authenticate") ?? "").includes("agent-lanes");
    const body = (await res.json().catch(() => null)) as { status?: unknown; long_polls?: unknown } | null;
    return res.ok && body?.status === "ok" && typeof body.long_polls === "number";
  } catch {
    return false;
  }
}

/** Open `url` in the desktop's browser, without waiting for it. */
function openInBrowser(url: string): void {
  const [command, args] = process.platform === "darwin" ? ["open", [url]] : process.platform === "win32" ? ["cmd", ["/c", "start", "", url]] : ["xdg-open", [url]];
  try {
    const child = spawn(command, args as string[], { stdio: "ignore", detached: true });
    child.on("error", () => process.stderr.write(`agent-lanes dashboard: could not run ${command}; open ${url} yourself\n`));
    child.unref();
  } catch {
    process.stderr.write(`agent-lanes dashboard: could not run ${command}; open ${url} yourself\n`);
  }
}

interface DashboardOptions {
  port: string;
  token?: string;
  open?: boolean;
  logLevel: string;
  allowRoot?: string[];
}

export async function runDashboard(cmd: Command): Promise<void> {
  const opts = cmd.opts<DashboardOptions>();
  const port = parsePort(opts.port);
  const token = tokenOf(opts);
  const base = `http://${SERVER_DEFAULTS.host}:${port}`;
  const show = (url: string): void => {
    process.stdout.write(`${dashboardUrl(url, token)}\n`);
    if (opts.open) openInBrowser(dashboardUrl(url, token));
  };
  if (port !== 0 && (await serverRuns(base, token))) {
    process.stderr.write(`agent-lanes dashboard: a server already runs on ${base}\n`);
    show(base);
    return;
  }
  await runServe(cmd, { host: SERVER_DEFAULTS.host, port: opts.port, logLevel: opts.logLevel, allowRoot: opts.allowRoot, ...(opts.token ? { token: opts.token } : {}) }, show);
}
