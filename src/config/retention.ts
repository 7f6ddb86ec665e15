// handoff.yaml's `retention:` section: the policy `agent-lanes prune` applies
// when given no flags, and a running dispatcher applies once a day.
//
//   retention:
//     older_than: 30d        # finished longer ago than this (required)
//     keep_last: 500         # always keep the newest N finished tasks
//     lane: review           # only this lane
//     state: completed       # only completed (or failed) tasks
//     archive: ../archive    # DIR/<YYYY-MM>.tar.gz instead of deleting; relative to this file's folder

import { parseDuration, DURATION_RULE } from "../store/duration.js";
import { ConfigError } from "./errors.js";
import { isMapping, keyName, kindOf, resolveUserPath, type EngineConfig } from "./handoff.js";

export interface RetentionPolicy {
  olderThanMs: number;
  keepLast?: number;
  lane?: string;
  states?: Array<"completed" | "failed">;
  archiveDir?: string;
}

const KEYS = new Set(["older_than", "keep_last", "lane", "state", "archive"]);

/** The retention policy of a config, or null when it has no `retention:` section. */
export function retentionOf(config: Pick<EngineConfig, "raw" | "path" | "dir">): RetentionPolicy | null {
  const section = config.raw.retention;
  const file = config.path;
  if (section === undefined || section === null) return null;
  const fail = (key: string, message: string): never => {
    throw new ConfigError(`${file}: ${key} ${message}`, { file, key });
  };
  if (!isMapping(section)) return fail("retention", `must be a mapping (older_than, keep_last, lane, state, archive), got ${kindOf(section)}`);
  for (const key of Object.keys(section)) if (!KEYS.has(key)) fail(`retention.${keyName(key)}`, "is not a retention key (older_than, keep_last, lane, state, archive)");
  const olderThanMs = parseDuration(section.older_than);
  if (olderThanMs === null) fail("retention.older_than", `must be ${DURATION_RULE}, got ${JSON.stringify(section.older_than ?? null)}`);
  const policy: RetentionPolicy = { olderThanMs: olderThanMs as number };
  if (section.keep_last !== undefined && section.keep_last !== null) {
    if (typeof section.keep_last !== "number" || !Number.isInteger(section.keep_last) || section.keep_last < 0) {
      fail("retention.keep_last", `must be a whole number >= 0, got ${JSON.stringify(section.keep_last)}`);
    }
    policy.keepLast = section.keep_last as number;
  }
  if (section.lane !== undefined && section.lane !== null) {
    if (typeof section.lane !== "string" || section.lane === "") fail("retention.lane", `must be a lane name, got ${JSON.stringify(section.lane)}`);
    policy.lane = section.lane as string;
  }
  if (section.state !== undefined && section.state !== null) {
    if (section.state !== "completed" && section.state !== "failed") fail("retention.state", `must be completed or failed, got ${JSON.stringify(section.state)}`);
    policy.states = [section.state as "completed" | "failed"];
  }
  if (section.archive !== undefined && section.archive !== null) {
    if (typeof section.archive !== "string" || section.archive === "") fail("retention.archive", `must be a folder path, got ${JSON.stringify(section.archive)}`);
    policy.archiveDir = resolveUserPath(config.dir, section.archive as string);
  }
  return policy;
}
