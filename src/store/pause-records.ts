// Vendor pause records and where they are kept. A pause stops every
// dispatcher of a vendor on one queue from claiming until a time (a usage
// limit, a CLI that needs a login, a person's `resume`). The policy (backoff,
// jitter, "only ever extended") is supervisor/pauses.ts's; this module is the
// storage: the file store keeps one JSON file per vendor at
// <queue_root>/pauses/<vendor>.json (byte for byte what it always wrote), the
// PostgreSQL store a row per vendor (store/postgres/). Both go through the
// PauseBackend below, reached as `store.pauses`.

import { promises as fs, readdirSync } from "node:fs";
import path from "node:path";
import { ensureDir, writeJsonAtomic } from "./atomic.js";
import { readOwnFile } from "./safe-file.js";
import { parseIso } from "./time.js";

/** Why claiming is paused: a vendor limit, a CLI that needs a login, the daily cost fuse, or a person. */
export type PauseKind = "usage-limit" | "needs-login" | "budget" | "manual" | (string & {});

/** A pause as stored (snake_case: it is the file's JSON). */
export interface PauseRecord {
  vendor: string;
  /** ISO-8601 UTC with Z: claiming resumes at this instant. */
  until: string;
  reason: string;
  kind: PauseKind;
  set_at: string;
  /** Owner id of the supervisor that set it. */
  set_by: string;
  /** 1 for a first pause, +1 for each pause that follows within consecutiveWindowSeconds. */
  consecutive: number;
  /** The reset time the vendor announced (before jitter), or null when it gave none. */
  reset_at: string | null;
  /** needs-login: what a person should do to end it (present only then). */
  fix?: string;
}

export interface PauseRead {
  /** The pause, or null (none, expired when filtered, or unreadable). */
  pause: PauseRecord | null;
  /** Set when a stored pause was malformed and ignored. */
  warning: string | null;
}

/** Where a queue keeps its pauses: get/set/clear/list of raw records (expired ones included). */
export interface PauseBackend {
  /** The vendor's stored pause (expired or not), or a warning when it cannot be read. */
  get(vendor: string): Promise<PauseRead>;
  /** Store `record` under record.vendor, replacing any previous one. */
  set(record: PauseRecord): Promise<void>;
  /** Remove the vendor's pause; true when there was one. */
  clear(vendor: string): Promise<boolean>;
  /** Every stored pause, sorted by vendor; malformed ones become warnings. */
  list(): Promise<{ records: PauseRecord[]; warnings: string[] }>;
  /** Where the vendor's pause lives, for messages: a file path, or the database's pauses table. */
  where(vendor: string): string;
}

const VENDOR_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

/** Throws on a vendor name that is no safe file name (both stores keep the rule, so pauses move between them). */
export function assertPauseVendor(vendor: string): void {
  if (!VENDOR_NAME.test(vendor) || vendor.includes("..")) {
    throw new Error(`invalid vendor name for a pause file: ${JSON.stringify(vendor)} (letters, digits, '.', '_' or '-')`);
  }
}

/** <queue_root>/pauses/<vendor>.json; throws on a vendor name that is no safe file name. */
export function pausePath(queueRoot: string, vendor: string): string {
  assertPauseVendor(vendor);
  return path.join(queueRoot, "pauses", `${vendor}.json`);
}

/** A stored pause's JSON as a record, or a warning naming `where` when it is malformed. */
export function pauseFromJson(data: unknown, vendor: string, where: string): PauseRead {
  const record = data as Partial<PauseRecord> | null;
  if (record === null || typeof record !== "object" || Array.isArray(record) || parseIso(record.until) === null) {
    return { pause: null, warning: `pause file ${where} has no valid "until" timestamp; ignoring it` };
  }
  return {
    pause: {
      vendor: typeof record.vendor === "string" ? record.vendor : vendor,
      until: record.until as string,
      reason: typeof record.reason === "string" ? record.reason : "",
      kind: typeof record.kind === "string" ? record.kind : "usage-limit",
      set_at: typeof record.set_at === "string" ? record.set_at : "",
      set_by: typeof record.set_by === "string" ? record.set_by : "",
      consecutive: typeof record.consecutive === "number" && record.consecutive >= 1 ? Math.floor(record.consecutive) : 1,
      reset_at: typeof record.reset_at === "string" ? record.reset_at : null,
      ...(typeof record.fix === "string" && record.fix !== "" ? { fix: record.fix } : {}),
    },
    warning: null,
  };
}

async function readPauseFile(file: string): Promise<PauseRead> {
  let text: string;
  try {
    // Read before every claim: a plain system call (a missing file is one failed open), never a thread-pool round trip.
    text = await readOwnFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { pause: null, warning: null };
    return { pause: null, warning: `pause file ${file} cannot be read (${(error as Error).message}); ignoring it` };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { pause: null, warning: `pause file ${file} is not valid JSON (${(error as Error).message}); ignoring it` };
  }
  return pauseFromJson(data, path.basename(file, ".json"), file);
}

/** The file store's pauses: <queueRoot>/pauses/<vendor>.json, written atomically. */
export function filePauses(queueRoot: string): PauseBackend {
  return {
    get: (vendor) => readPauseFile(pausePath(queueRoot, vendor)),
    async set(record) {
      const file = pausePath(queueRoot, record.vendor);
      await ensureDir(path.dirname(file));
      await writeJsonAtomic(file, record);
    },
    async clear(vendor) {
      try {
        await fs.unlink(pausePath(queueRoot, vendor));
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
        throw error;
      }
    },
    async list() {
      const dir = path.join(queueRoot, "pauses");
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return { records: [], warnings: [] };
        throw error;
      }
      const records: PauseRecord[] = [];
      const warnings: string[] = [];
      // Temp files of an atomic write in progress start with "." and are skipped.
      for (const name of names.filter((n) => n.endsWith(".json") && !n.startsWith(".")).sort()) {
        const read = await readPauseFile(path.join(dir, name));
        if (read.warning) warnings.push(read.warning);
        if (read.pause) records.push(read.pause);
      }
      return { records, warnings };
    },
    where: (vendor) => pausePath(queueRoot, vendor),
  };
}
