// The rendered views of finished tasks, kept beside the queue in
// <queue>/cache/finished-rendered-<tag>.dat: what `status --all --json` and
// `list --json` print for a finished task, as the exact JSON text, so a
// listing of fifty thousand finished tasks copies bytes instead of parsing,
// rebuilding and re-serialising fifty thousand views. A finished task's view
// changes only when its events.jsonl does (its last event) and with the clock
// (last_event_age_seconds, left out of the text and written in at print time).
//
// Each record is one JSON header line, then the text, then a newline:
//   [id, ino, mtimeMs, size, events ino, events mtimeMs, events size,
//    response_exists (0|1), last event time (ms, or null), age offset (-1: none), text length]
// The identities are those of the task.json and events.jsonl the text was
// made from; a record is used only while both files still have them. Appends
// are single write(2)s with O_APPEND (whole records, whatever other processes
// append); reading stops at the first damaged record (a crash mid-append) and
// the file is rewritten with what was read. The renderer's `tag` names the
// file, so a change of the view's layout starts a new one. A cache: losing it
// costs one full rendering.

import { promises as fs } from "node:fs";
import path from "node:path";
import { STATE_DIR_MODE, STATE_FILE_MODE } from "./atomic.js";
import type { CachePaths, Identity } from "./summary-cache.js";
import type { TaskSummary } from "./types.js";

/** The text of one finished task's view, and where its age goes. */
export interface RenderedText {
  /** The view's JSON text without the digits of last_event_age_seconds, as bytes. ASCII only (JSON with \u escapes). */
  text: Buffer;
  /** Offset in `text` where the age is written in; -1 when the view has none (no last event). */
  ageAt: number;
  /** Time (ms) the age counts from: the last event's created_at; null when none or unparseable. */
  since: number | null;
}

/** Renders a finished task's view; `tag` changes whenever the text it makes would. */
export interface FinishedRenderer {
  tag: string;
  render(summary: TaskSummary): RenderedText;
}

/** A finished task's rendered view, ready to print. */
export interface RenderedRecord extends RenderedText {
  id: string;
  file: Identity;
  events: Identity | null;
  response_exists: boolean;
}

export function renderedPath(paths: CachePaths, tag: string): string {
  return path.join(paths.dir, `finished-rendered-${tag.replace(/[^A-Za-z0-9_.-]/g, "_")}.dat`);
}

function isIdentityAt(h: unknown[], i: number): boolean {
  return typeof h[i] === "number" && typeof h[i + 1] === "number" && typeof h[i + 2] === "number";
}

/** The records of the file (the last of an id wins) and whether it ended cleanly. */
export async function loadRendered(file: string): Promise<{ records: Map<string, RenderedRecord>; count: number; damaged: boolean }> {
  const records = new Map<string, RenderedRecord>();
  let buf: Buffer;
  try {
    buf = await fs.readFile(file);
  } catch {
    return { records, count: 0, damaged: false };
  }
  let pos = 0;
  let count = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(10, pos);
    if (nl === -1) return { records, count, damaged: true };
    let h: unknown[];
    try {
      h = JSON.parse(buf.toString("latin1", pos, nl)) as unknown[];
    } catch {
      return { records, count, damaged: true };
    }
    const length = h[10];
    const end = nl + 1 + (typeof length === "number" ? length : 0);
    if (!Array.isArray(h) || h.length !== 11 || typeof h[0] !== "string" || !isIdentityAt(h, 1) || typeof length !== "number" || end >= buf.length || buf[end] !== 10) {
      return { records, count, damaged: true };
    }
    const events = h[4] === null ? null : isIdentityAt(h, 4) ? ([h[4], h[5], h[6]] as Identity) : undefined;
    if (events !== undefined && typeof h[9] === "number" && (h[8] === null || typeof h[8] === "number")) {
      records.set(h[0], {
        id: h[0],
        file: [h[1], h[2], h[3]] as Identity,
        events,
        response_exists: h[7] === 1,
        since: h[8] as number | null,
        ageAt: h[9],
        text: buf.subarray(nl + 1, end),
      });
    }
    count += 1;
    pos = end + 1;
  }
  return { records, count, damaged: false };
}

const NEWLINE = Buffer.from("\n");

/** A record as the bytes the file holds. */
export function recordBytes(r: RenderedRecord): Buffer[] {
  const e = r.events;
  const head = [r.id, r.file[0], r.file[1], r.file[2], e ? e[0] : null, e ? e[1] : null, e ? e[2] : null, r.response_exists ? 1 : 0, r.since, r.ageAt, r.text.length];
  return [Buffer.from(`${JSON.stringify(head)}\n`, "latin1"), r.text, NEWLINE];
}

/** Append records in one write; best effort (a read-only queue simply goes uncached). */
export async function appendRendered(paths: CachePaths, file: string, records: readonly RenderedRecord[]): Promise<void> {
  if (records.length === 0) return;
  try {
    await fs.mkdir(paths.dir, { recursive: true, mode: STATE_DIR_MODE });
    await fs.appendFile(file, Buffer.concat(records.flatMap(recordBytes)), { mode: STATE_FILE_MODE });
  } catch {
    // an optimisation only
  }
}

/** Replace the file with exactly these records (compaction, a damaged tail). */
export async function rewriteRendered(paths: CachePaths, file: string, records: Iterable<RenderedRecord>): Promise<void> {
  const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    await fs.mkdir(paths.dir, { recursive: true, mode: STATE_DIR_MODE });
    const parts: Buffer[] = [];
    for (const r of records) parts.push(...recordBytes(r));
    await fs.writeFile(temp, Buffer.concat(parts), { mode: STATE_FILE_MODE });
    await fs.rename(temp, file);
  } catch {
    await fs.rm(temp, { force: true }).catch(() => undefined);
  }
}
