// Every default of the HTTP server in one place, each named with its unit.
// No imports: the CLI reads these at start-up without loading the server.

const SECOND_MS = 1000;
const MIB = 1024 * 1024;

export const SERVER_DEFAULTS = {
  /** Loopback only: the API is meant for agents on this host. @default "127.0.0.1" */
  host: "127.0.0.1",
  /** @default 8765 */
  port: 8765,
  /** Request bodies over this size are refused with 413. @default 1 MiB */
  maxBodyBytes: 1 * MIB,
  /**
   * An oversized body is read and dropped up to this size so the client still
   * gets its 413 on a live connection; past it the connection is cut.
   * @default 8 MiB
   */
  maxDrainBytes: 8 * MIB,
  /** Longer `wait_seconds` are capped to this (the CLI's long-poll default, PROTOCOL §5). @default 21600 */
  maxWaitSeconds: 21_600,
  /** A waiting long-poll re-checks this often when no file-system event arrives. @default 2000 */
  safetyPollMs: 2 * SECOND_MS,
  /** On close, in-flight short requests get this long to finish before connections are cut. @default 5000 */
  closeGraceMs: 5 * SECOND_MS,
} as const;

/** The environment variable holding the bearer token (the `--token` flag wins). */
export const TOKEN_ENV = "AGENT_LANES_TOKEN";
