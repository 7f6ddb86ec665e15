// Class 9 of issue 11: attempts cannot be forged. The CLI (and, through the
// store, HTTP and MCP) refuse event types the store writes itself; the
// dispatcher counts attempts from `claimed` events, which only the store's
// claim writes, and counts an uncounted (usage-limit) attempt once, and only
// for an attempt that was really claimed.

import { describe, expect, it } from "vitest";
import { ValidationError, openStore, type TaskEvent } from "../../src/store/index.js";
import { attemptInfo } from "../../src/supervisor/attempts.js";
import { eachCliWorkspace, type CliWorkspace } from "./support.js";

let ws: CliWorkspace;
eachCliWorkspace("al-sec-events-", (w) => (ws = w));

describe("the event API", () => {
  it("refuses created, claimed, renewed, released and response from the CLI and the store; the task's events are unchanged", async () => {
    const id = await ws.submit("review");
    for (const type of ["created", "claimed", "renewed", "released", "response"]) {
      const r = await ws.run(["event", id, "--type", type, "--message", "forged"]);
      expect(r.exitCode, type).toBe(1);
      expect(r.errLines, type).toEqual([
        `agent-lanes: event type ${type} is written by the store itself (created, claimed, renewed, released, response); use another type, e.g. note or progress`,
      ]);
    }
    const store = openStore(ws.queue);
    try {
      await expect(store.appendEvent(id, { type: "claimed", data: { owner: "x" } })).rejects.toThrow(ValidationError);
      await expect(store.appendEvent(id, { type: "note\nclaimed" })).rejects.toThrow(/must not contain control characters/);
      expect((await store.readEvents(id)).map((e) => e.type)).toEqual(["created"]);
      // Other types still go through.
      await store.appendEvent(id, { type: "progress", message: "half way" });
    } finally {
      await store.close();
    }
    expect((await ws.run(["event", id, "--type", "note", "--message", "ok"])).exitCode).toBe(0);
  });

  it("three forged claimed events no longer fail a fresh task as out of attempts", async () => {
    const id = await ws.submit("review");
    for (let i = 0; i < 3; i += 1) await ws.run(["event", id, "--type", "claimed"]);
    const claim = await ws.run(["claim", id, "--owner", "dispatcher", "--json"]);
    expect(claim.exitCode).toBe(0);
    const store = openStore(ws.queue);
    try {
      expect(attemptInfo(await store.readEvents(id))).toMatchObject({ attempt: 1, counted: 1, history: [] });
    } finally {
      await store.close();
    }
  });
});

describe("attemptInfo", () => {
  const at = (type: string, data: Record<string, unknown> = {}): TaskEvent => ({ created_at: "2026-01-01T00:00:00Z", type, message: "", data });

  it("counts an uncounted attempt once, and only for an attempt that was claimed", () => {
    const events = [
      at("created"),
      at("claimed", { owner: "a" }),
      // Repeated and stray "uncounted" failures: only attempt 1's counts, once.
      ...Array.from({ length: 5 }, () => at("headless_failed", { attempt: 1, counts_as_attempt: false })),
      at("headless_failed", { attempt: 7, counts_as_attempt: false }),
      at("headless_failed", { attempt: "2", counts_as_attempt: false }),
      at("claimed", { owner: "b" }),
      at("claimed", { owner: "c" }),
    ];
    expect(attemptInfo(events)).toMatchObject({ attempt: 3, counted: 2 });
  });
});
