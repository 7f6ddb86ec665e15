// Which queue a target names, and opening it: a PostgreSQL URL
// (postgres://user@host/db, also postgresql://) opens the PostgreSQL store,
// anything else is a queue folder (the file store). Every command, the
// server, MCP and the dispatcher open their queue through openStore here.
// The target comes from `--store`, else the AGENT_LANES_STORE environment
// variable, else queue_root of handoff.yaml (storeTarget below).

import path from "node:path";
import { openStore as openFileStore, type OpenStoreOptions } from "./file-store.js";
import type { PostgresStoreOptions } from "./postgres/store.js";
import { isPostgresUrl, maskUrl } from "./postgres/url.js";
import type { Store } from "./types.js";

export { isPostgresUrl, maskUrl };

/** The environment variable naming the queue when --store is not given (a folder or a URL). */
export const STORE_ENV = "AGENT_LANES_STORE";

export interface OpenAnyStoreOptions extends OpenStoreOptions, Pick<PostgresStoreOptions, "migrate"> {}

/**
 * Open the queue `target` names: a PostgreSQL store for a postgres:// URL
 * (connects and checks the schema: StoreUnavailableError naming the URL,
 * password masked, when the server cannot be reached; SchemaVersionError when
 * the schema is older, unless `migrate`, or newer than this build), else the
 * file store of that folder (resolved against the cwd).
 */
export async function openStore(target: string, options: OpenAnyStoreOptions = {}): Promise<Store> {
  if (isPostgresUrl(target)) {
    const { openPostgresStore } = await import("./postgres/store.js");
    return openPostgresStore(target.trim(), { pollMs: options.pollMs, requestMaxBytes: options.requestMaxBytes, migrate: options.migrate });
  }
  return openFileStore(path.resolve(target), options);
}

/** The queue as messages show it: a folder, or a URL with its password masked. */
export function displayTarget(target: string): string {
  return isPostgresUrl(target) ? maskUrl(target) : target;
}
