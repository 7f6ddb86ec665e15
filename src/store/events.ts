// events.jsonl: one JSON object a line, appended under the queue lock and
// fsynced, never through a symbolic link. Readers skip a torn or corrupt line instead of failing, because a
// writer may have crashed mid-append.

import { closeSync, constants, fstatSync, readSync, writeSync } from "node:fs";
import { fsyncFd, syncLater, type SyncBatch } from "./durability.js";
import { TransitionError, ValidationError } from "./errors.js";
import { assertJsonDepth, assertOneLineName } from "./input-shape.js";
import { toJsonLine } from "./json.js";
import { openOwnFd, readOwnFile } from "./safe-file.js";
import { isoNow } from "./time.js";
import type { EventInput, TaskEvent } from "./types.js";

/**
 * Append one event; the caller holds the queue lock. In a locked
 * transition's batch (durability.ts) the line's fsync runs alongside what
 * follows and is waited for before the next rename, or after the lock at the latest.
 */
export async function appendEventLine(file: string, input: EventInput, createdAt: string = isoNow(), batch?: SyncBatch): Promise<TaskEvent> {
  const [event] = await appendEvents(file, [eventOf(input, createdAt)], batch);
  return event as TaskEvent;
}

/** The event line `input` makes at `createdAt`. */
export function eventOf(input: EventInput, createdAt: string = isoNow()): TaskEvent {
  return { created_at: createdAt, type: input.type, message: input.message ?? "", data: input.data ?? {} };
}

/**
 * Append events, one line each, with one write and one fsync (the caller
 * holds the queue lock): on disk the same lines as appending them one by one,
 * and all of them durable when the fsync is. Batch as appendEventLine's.
 */
export async function appendEvents(file: string, events: readonly TaskEvent[], batch?: SyncBatch): Promise<TaskEvent[]> {
  const fd = openOwnFd(file, constants.O_RDWR | constants.O_APPEND);
  try {
    // A previous writer may have died mid-line; start on a fresh line so this
    // event is never glued to the torn one.
    const { size } = fstatSync(fd);
    let prefix = "";
    if (size > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = "\n";
    }
    writeSync(fd, `${prefix}${events.map((event) => `${toJsonLine(event)}\n`).join("")}`);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  await syncLater(batch, () => fsyncFd(fd).finally(() => closeSync(fd)));
  return [...events];
}

/** Every well-formed event of a task, oldest first; [] when there is no file. */
export async function readEventLines(file: string): Promise<TaskEvent[]> {
  let text: string;
  try {
    text = await readOwnFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const events: TaskEvent[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const value = JSON.parse(line) as Partial<TaskEvent>;
      if (value && typeof value === "object" && typeof value.type === "string") {
        events.push({
          created_at: String(value.created_at ?? ""),
          type: value.type,
          message: typeof value.message === "string" ? value.message : "",
          data: value.data && typeof value.data === "object" ? value.data : {},
        });
      }
    } catch {
      // torn or corrupt line: skipped by design
    }
  }
  return events;
}

/** Event types only the store writes, each with its transition (PROTOCOL.md §6); appendEvent refuses them. */
export const STORE_EVENT_TYPES: ReadonlySet<string> = new Set(["created", "claimed", "renewed", "released", "response"]);

/** appendEvent's input rules, checked before anything is read or written. */
export function checkEventInput(taskId: string, event: EventInput): void {
  if (typeof event?.type !== "string" || event.type === "") {
    throw new TransitionError("invalid_input", "event type is required and must be a non-empty string", { taskId });
  }
  // The store writes these itself, with the transition they record; a forged
  // `claimed` would count as a dispatcher attempt (see supervisor/attempts.ts).
  if (STORE_EVENT_TYPES.has(event.type)) {
    throw new ValidationError(
      `event type ${event.type} is written by the store itself (${[...STORE_EVENT_TYPES].join(", ")}); use another type, e.g. note or progress`,
      { taskId },
    );
  }
  assertOneLineName("event type", event.type, { taskId });
  if (event.data !== undefined) assertJsonDepth(event.data, "event data", { taskId });
}

/** The events a claim's or respond's caller adds to its transition (ClaimInput.events, RespondInput.events), checked as appendEvent checks one. */
export function checkedEvents(taskId: string, events: readonly EventInput[]): readonly EventInput[] {
  for (const event of events) checkEventInput(taskId, event);
  return events;
}
