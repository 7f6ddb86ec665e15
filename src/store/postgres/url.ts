// PostgreSQL queue addresses: which targets are database URLs, how they are
// shown (password masked), and the host-local folder that stands in for the
// queue folder for what never leaves a host (run records of this host's
// dispatchers, notification markers, worktrees).

import { createHash } from "node:crypto";
import os from "node:os";
import path from "node:path";

/** postgres://… or postgresql://… (the forms libpq and the pg driver accept). */
export function isPostgresUrl(target: unknown): target is string {
  return typeof target === "string" && /^postgres(?:ql)?:\/\//i.test(target.trim());
}

/** The URL with its password replaced by `***`, for messages and logs. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    // Not parseable: hide everything between "//user:" and "@".
    return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
  }
}

/** host:port/database of a URL, for folder names and short messages. */
export function urlLabel(url: string): string {
  try {
    const parsed = new URL(url);
    const db = decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "postgres";
    return `${parsed.hostname || "localhost"}:${parsed.port || "5432"}/${db}`;
  } catch {
    return "postgres";
  }
}

/**
 * This host's folder for the queue at `url` ($XDG_STATE_HOME or
 * ~/.local/state, then agent-lanes/postgres/<host_port_db>-<hash>): the
 * Store's `root` for a PostgreSQL store. Nothing shared lives there.
 */
export function localStateDir(url: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = env.AGENT_LANES_STATE_DIR || (env.XDG_STATE_HOME ? path.join(env.XDG_STATE_HOME, "agent-lanes") : path.join(os.homedir(), ".local", "state", "agent-lanes"));
  const label = urlLabel(url).replace(/[^A-Za-z0-9_.-]+/g, "_");
  const hash = createHash("sha256").update(maskUrl(url)).digest("hex").slice(0, 8);
  return path.join(base, "postgres", `${label}-${hash}`);
}
