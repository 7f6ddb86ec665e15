// The store's public surface.
export { openStore, type FileStore, type OpenStoreOptions } from "./file-store.js";
export * from "./types.js";
export * from "./errors.js";
export { DEFAULT_LEASE_SECONDS } from "./claim.js";
export { assertTaskId, isValidTaskId, isInside, slug, queuePaths, TASK_ID_PATTERN, type QueuePaths } from "./layout.js";
export { isClaimable, isTerminal, leaseExpired } from "./context.js";
export { formatIso, isoNow, isoFromDate, parseIso } from "./time.js";
export { toJsonFile, toJsonLine, toPythonJson } from "./json.js";
export { ensureDir, writeFileAtomic, writeJsonAtomic } from "./atomic.js";
export { withLock } from "./lock.js";
export { cancelBody } from "./cancel.js";
export { assertAllowedRoot, resolveAllowedRoots } from "./allowed-roots.js";
export { DEFAULT_REQUEST_MAX_BYTES } from "./safe-file.js";
export { MAX_JSON_DEPTH, assertJsonDepth, assertOneLineName, jsonDepth, jsonTextDepth, parseDecimal } from "./input-shape.js";
// A queue folder or a postgres:// URL (issue 18): openQueueStore picks the store.
export { openStore as openQueueStore, isPostgresUrl, maskUrl, STORE_ENV, type OpenAnyStoreOptions } from "./open.js";
export type { PostgresStore, PostgresStoreOptions } from "./postgres/store.js";
export type { PauseBackend, PauseRecord, PauseRead } from "./pause-records.js";
