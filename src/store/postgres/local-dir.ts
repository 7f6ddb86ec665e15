// The host-local folder that stands in for the queue folder of a PostgreSQL
// queue, for what never leaves a host (run records of this host's
// dispatchers, notification markers, worktrees): the Store's `root`.

import { createHash } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { maskUrl, urlLabel } from "./url.js";

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
