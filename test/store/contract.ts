// The store contract: one suite of behaviour every Store must show (states,
// rules, error messages, JSON shapes, wake-ups, concurrency, cancel, prune,
// pauses), run against the file store (test/store/contract.test.ts, in the
// default suite) and against PostgreSQL (test/postgres/contract.test.ts, in
// `npm run test:postgres`). Tests about files themselves (byte layout, modes,
// flock, torn lines, golden files, Python interop) stay in the file store's
// own test files.

import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Store, Task } from "../../src/store/index.js";
import { setPause, listPauses, readPause, clearPause } from "../../src/supervisor/pauses.js";
import type { TestWorkspace } from "../helpers/workspace.js";

export interface StoreBackend {
  name: string;
  /** A fresh workspace on a fresh, empty queue. */
  makeWorkspace(): Promise<TestWorkspace>;
  /** Another store on the same queue (another process or host would open it so). */
  openOther(ws: TestWorkspace): Promise<Store>;
  /** Put the task's lease in the past, as the store's own clock sees it. */
  expireLease(ws: TestWorkspace, taskId: string): Promise<void>;
}

const DAY = 24 * 60 * 60 * 1000;

export function storeContract(backend: StoreBackend): void {
  let ws: TestWorkspace;
  const others: Store[] = [];
  const other = async (): Promise<Store> => {
    const store = await backend.openOther(ws);
    others.push(store);
    return store;
  };
  beforeEach(async () => {
    ws = await backend.makeWorkspace();
  });
  afterEach(async () => {
    for (const store of others.splice(0)) await store.close();
    await ws.cleanup();
  });

  describe(`${backend.name} store: create`, () => {
    it("makes a queued task with the protocol's fields and a created event", async () => {
      const task = await ws.submit({ correlation_id: "Review API!", metadata: { effort: "high" }, prompt: "look" });
      expect(task.id).toMatch(/^\d{8}T\d{12}Z-Review-API-[0-9a-f]{12}$/);
      expect(task).toMatchObject({
        state: "queued",
        workspace_id: "ws",
        correlation_id: "Review API!",
        source_agent: "orchestrator",
        lane: "default",
        prompt: "look",
        metadata: { effort: "high" },
        claim_owner: null,
        claim_token: null,
        lease_expires_at: null,
        claimed_at: null,
        completed_at: null,
        failed_at: null,
        failure_reason: null,
      });
      expect(task.created_at).toBe(task.updated_at);
      expect(await ws.store.get(task.id)).toEqual(task);
      const events = await ws.store.readEvents(task.id);
      expect(events.map((e) => [e.type, e.message, e.data])).toEqual([["created", "task created on lane default", { lane: "default" }]]);
    });

    it("stores absolute resolved paths and hashes supporting files", async () => {
      const support = await ws.file("docs/spec.md", "spec\n");
      const task = await ws.submit({ supporting_paths: [support, { path: "docs/spec.md" }] });
      expect(path.isAbsolute(task.request_path)).toBe(true);
      expect(task.response_path.startsWith(ws.root)).toBe(true);
      expect(task.supporting_paths).toHaveLength(2);
      // sha256 of "spec\n"
      const sha = "3b92cc255009c1a8541990fd00bcde181bc803a80b234f086647210c078bb7e4";
      expect(task.supporting_paths).toEqual([{ path: support, sha256: sha }, { path: support, sha256: sha }]);
    });

    it.each([
      ["request_path", { request_path: "/etc/hostname" }],
      ["response_path", { response_path: "../outside.md" }],
      ["supporting_paths", { supporting_paths: ["/etc/hostname"] }],
    ])("refuses a %s outside workspace_root", async (field, overrides) => {
      await expect(ws.submit(overrides)).rejects.toThrow(new RegExp(`${field} is outside workspace_root`));
      expect(await ws.store.list()).toEqual([]);
    });

    it("refuses a missing request file, an invalid parent_task_id and unknown dependencies", async () => {
      await expect(ws.submit({ request_path: path.join(ws.root, "nope.md") })).rejects.toThrow(/request_path does not exist/);
      await expect(ws.submit({ metadata: { parent_task_id: "../x" } })).rejects.toThrow(/invalid task_id/);
      await expect(ws.submit({ depends_on: ["20261124T000000000000Z-none-000000000000"] })).rejects.toThrow(/depends_on names a task that is not in the queue/);
    });

    it("gives tasks created in a burst distinct, ordered ids", async () => {
      const request = await ws.file("same.md", "same\n");
      const tasks: Task[] = [];
      for (let i = 0; i < 20; i++) tasks.push(await ws.submit({ request_path: request, correlation_id: "same" }));
      const ids = tasks.map((t) => t.id);
      expect(new Set(ids).size).toBe(20);
      expect([...ids].sort()).toEqual(ids);
      expect((await ws.store.list()).map((t) => t.id)).toEqual(ids);
    });
  });

  describe(`${backend.name} store: claim`, () => {
    it("sets owner, token, claimed_at and the lease, and appends a claimed event", async () => {
      const task = await ws.submit();
      const claimed = await ws.store.claim(task.id, { owner: "bot", leaseSeconds: 60 });
      expect(claimed.state).toBe("claimed");
      expect(claimed.claim_owner).toBe("bot");
      expect(claimed.claim_token).toMatch(/^[0-9a-f]{32}$/);
      const lease = Date.parse(claimed.lease_expires_at ?? "") - Date.parse(claimed.claimed_at ?? "");
      expect(lease).toBeGreaterThanOrEqual(59_000);
      expect(lease).toBeLessThanOrEqual(61_000);
      expect(await ws.store.get(task.id)).toEqual(claimed);
      expect((await ws.store.readEvents(task.id)).at(-1)).toMatchObject({ type: "claimed", message: "claimed by bot", data: { owner: "bot" } });
    });

    it("refuses a live lease, naming the holder", async () => {
      const task = await ws.submit();
      await ws.store.claim(task.id, { owner: "first" });
      await expect(ws.store.claim(task.id, { owner: "second" })).rejects.toThrow(`cannot claim ${task.id}; active lease held by first`);
      await expect(ws.store.claim(task.id, { owner: "second" })).rejects.toMatchObject({ code: "lease_held" });
    });

    it("reclaims an expired lease with a new token; the old token is refused", async () => {
      const task = await ws.submit();
      const first = await ws.store.claim(task.id, { owner: "dead", leaseSeconds: 60 });
      await backend.expireLease(ws, task.id);
      expect((await ws.store.next("default"))?.id).toBe(task.id);
      const second = await ws.store.claim(task.id, { owner: "alive", leaseSeconds: 60 });
      expect(second.claim_owner).toBe("alive");
      expect(second.claim_token).not.toBe(first.claim_token);
      await expect(ws.store.renew(task.id, { claimToken: first.claim_token ?? "" })).rejects.toThrow("claim token does not match active lease");
    });

    it("refuses terminal tasks", async () => {
      const done = await ws.submit();
      await ws.store.respond(done.id, { body: "ok" });
      await expect(ws.store.claim(done.id, { owner: "x" })).rejects.toThrow(`cannot claim ${done.id}; task is completed`);
      const failed = await ws.submit();
      await ws.store.respond(failed.id, { body: "no", status: "failed" });
      await expect(ws.store.claim(failed.id, { owner: "x" })).rejects.toThrow(`cannot claim ${failed.id}; task is failed`);
    });

    it("refuses unknown and invalid ids, and bad input before reading anything", async () => {
      await expect(ws.store.claim("20261124T000000000000Z-none-000000000000", { owner: "x" })).rejects.toThrow(
        "unknown task: 20261124T000000000000Z-none-000000000000",
      );
      for (const bad of ["../x", "a/b", ".hidden", ""]) {
        await expect(ws.store.claim(bad, { owner: "x" })).rejects.toThrow(/invalid task_id/);
        await expect(ws.store.get(bad)).rejects.toThrow(/invalid task_id/);
      }
      const task = await ws.submit();
      await expect(ws.store.claim(task.id, { owner: "" })).rejects.toThrow("owner is required and must be a non-empty string");
      await expect(ws.store.claim(task.id, { owner: "x", leaseSeconds: 0 })).rejects.toThrow(/Expected `lease_seconds` to be a number > 0/);
      await expect(ws.store.claim(task.id, { owner: "a\nb" })).rejects.toThrow(/owner must not contain control characters/);
      expect((await ws.store.get(task.id)).state).toBe("queued");
    });

    it("holds back a task not yet due or waiting on a dependency, and counts the lane's live leases", async () => {
      const later = await ws.submit({ not_before: "+1h" });
      await expect(ws.store.claim(later.id, { owner: "x" })).rejects.toMatchObject({ code: "not_due", message: expect.stringContaining(`cannot claim ${later.id}; not before`) });
      const first = await ws.submit({ lane: "wip" });
      const after = await ws.submit({ lane: "wip", depends_on: [first.id] });
      await expect(ws.store.claim(after.id, { owner: "x" })).rejects.toThrow(`cannot claim ${after.id}; it depends on ${first.id}, which is queued`);
      expect((await ws.store.available({ lanes: ["wip"] })).map((t) => t.id)).toEqual([first.id]);
      const other = await ws.submit({ lane: "wip" });
      await ws.store.claim(first.id, { owner: "x", maxRunning: 1 });
      await expect(ws.store.claim(other.id, { owner: "y", maxRunning: 1 })).rejects.toThrow(`cannot claim ${other.id}; lane wip already runs 1 task(s) (lanes.wip.max_running)`);
      expect((await ws.store.claim(other.id, { owner: "y", maxRunning: 2 })).state).toBe("claimed");
    });

    it("claims higher priority first within a lane, then the oldest", async () => {
      const low = await ws.submit();
      const high = await ws.submit({ priority: 5 });
      const mid = await ws.submit({ priority: 1 });
      expect((await ws.store.available({ lanes: ["default"] })).map((t) => t.id)).toEqual([high.id, mid.id, low.id]);
      expect((await ws.store.next("default"))?.id).toBe(high.id);
    });
  });

  describe(`${backend.name} store: renew and release`, () => {
    it("renew moves the lease forward and records the owner", async () => {
      const task = await ws.submit();
      const claimed = await ws.store.claim(task.id, { owner: "bot", leaseSeconds: 10 });
      const renewed = await ws.store.renew(task.id, { claimToken: claimed.claim_token ?? "", leaseSeconds: 3600 });
      expect(Date.parse(renewed.lease_expires_at ?? "")).toBeGreaterThan(Date.parse(claimed.lease_expires_at ?? "") + 3000_000);
      expect(renewed.claim_token).toBe(claimed.claim_token);
      expect((await ws.store.readEvents(task.id)).at(-1)).toMatchObject({ type: "renewed", message: "lease renewed by bot", data: { owner: "bot" } });
    });

    it("renew and release refuse a wrong token and a task that is not claimed", async () => {
      const task = await ws.submit();
      await expect(ws.store.renew(task.id, { claimToken: "x" })).rejects.toThrow(`cannot renew ${task.id}; task is queued`);
      await expect(ws.store.release(task.id, { claimToken: "x" })).rejects.toThrow(`cannot release ${task.id}; task is queued`);
      await ws.store.claim(task.id, { owner: "bot" });
      await expect(ws.store.renew(task.id, { claimToken: "wrong" })).rejects.toMatchObject({ code: "token_mismatch", message: "claim token does not match active lease" });
      await expect(ws.store.release(task.id, { claimToken: "wrong" })).rejects.toThrow("claim token does not match active lease");
    });

    it("release puts the task back to queued with the claim fields nulled", async () => {
      const task = await ws.submit();
      const claimed = await ws.store.claim(task.id, { owner: "bot" });
      const released = await ws.store.release(task.id, { claimToken: claimed.claim_token ?? "", reason: "shutting down" });
      expect(released).toMatchObject({ state: "queued", claim_owner: null, claim_token: null, claimed_at: null, lease_expires_at: null });
      expect((await ws.store.readEvents(task.id)).at(-1)).toMatchObject({ type: "released", message: "released by bot: shutting down", data: { reason: "shutting down" } });
      expect((await ws.store.next("default"))?.id).toBe(task.id);
      await expect(ws.store.release(task.id, { claimToken: "t", reason: 5 as unknown as string })).rejects.toThrow("Expected `reason` to be a string, got `5`");
    });
  });

  describe(`${backend.name} store: respond`, () => {
    it("answers a claimed task with a verdict; the response has the protocol's shape", async () => {
      const task = await ws.submit();
      const claimed = await ws.store.claim(task.id, { owner: "bot" });
      const { task: done, response } = await ws.store.respond(task.id, {
        claimToken: claimed.claim_token,
        body: "two issues",
        reviewer: "codex",
        verdict: "needs-revision",
        blockingCount: 2,
        nonblockingCount: 1,
        followUpRequired: true,
        expectSha256: task.request_sha256,
        metadata: { model_used: "x" },
      });
      expect(done.state).toBe("completed");
      expect(done.completed_at).not.toBeNull();
      expect(Object.keys(response).sort()).toEqual([
        "blocking_count", "body", "created_at", "follow_up_required", "metadata", "nonblocking_count", "request_changed_before_response",
        "reviewed_request_sha256", "reviewer", "status", "task_id", "verdict",
      ]);
      expect(response).toMatchObject({
        task_id: task.id,
        reviewer: "codex",
        status: "completed",
        body: "two issues",
        verdict: "needs-revision",
        blocking_count: 2,
        nonblocking_count: 1,
        follow_up_required: true,
        reviewed_request_sha256: task.request_sha256,
        request_changed_before_response: false,
        metadata: { model_used: "x" },
      });
      expect(await ws.store.getResponse(task.id)).toEqual(response);
      expect(await ws.store.get(task.id)).toEqual(done);
      expect((await ws.store.readEvents(task.id)).at(-1)).toMatchObject({ type: "response", message: "completed response from codex", data: { reviewer: "codex" } });
    });

    it("answers a queued task without a token; a failed response records the reason", async () => {
      const task = await ws.submit();
      const { task: failed } = await ws.store.respond(task.id, { body: "could not run", status: "failed" });
      expect(failed).toMatchObject({ state: "failed", failure_reason: "could not run", completed_at: null });
      expect(failed.failed_at).not.toBeNull();
    });

    it("refuses what §5 refuses", async () => {
      const task = await ws.submit();
      const claimed = await ws.store.claim(task.id, { owner: "bot" });
      await expect(ws.store.respond(task.id, { body: "x" })).rejects.toThrow("claim token does not match active lease");
      await expect(ws.store.respond(task.id, { body: "x", claimToken: "nope" })).rejects.toThrow("claim token does not match active lease");
      await expect(ws.store.respond(task.id, { body: "x", claimToken: claimed.claim_token, expectSha256: "abc" })).rejects.toThrow(
        /^reviewed request hash does not match task/,
      );
      await expect(ws.store.respond(task.id, { body: "x", claimToken: claimed.claim_token, blockingCount: 1, verdict: "accept" })).rejects.toThrow(
        "blocking-count > 0 requires verdict needs-revision",
      );
      await expect(ws.store.respond(task.id, { body: "x", claimToken: claimed.claim_token, verdict: "great" as never })).rejects.toThrow(/Expected `verdict` to be one of/);
      expect(await ws.store.getResponse(task.id)).toBeNull();
      await ws.store.respond(task.id, { body: "x", claimToken: claimed.claim_token });
      await expect(ws.store.respond(task.id, { body: "again" })).rejects.toThrow(`task is already completed: ${task.id}`);
      const failed = await ws.submit();
      await ws.store.respond(failed.id, { body: "x", status: "failed" });
      await expect(ws.store.respond(failed.id, { body: "again" })).rejects.toThrow(`task is failed: ${failed.id}`);
    });
  });

  describe(`${backend.name} store: cancel`, () => {
    it("answers a queued task failed with who and why, logs the response event and wakes its waiter", async () => {
      const task = await ws.submit();
      const waiting = ws.store.waitForResponse(task.id, { timeoutMs: 10_000 });
      const { task: done, response } = await ws.store.cancel(task.id, { by: "alice", reason: "wrong\nlane" });
      expect(done.state).toBe("failed");
      expect(done.failure_reason).toBe("cancelled by alice: wrong lane");
      expect(response).toMatchObject({ status: "failed", reviewer: "alice", body: "cancelled by alice: wrong lane", verdict: null, metadata: { cancelled: true } });
      const events = await ws.store.readEvents(task.id);
      expect(events.at(-1)).toMatchObject({ type: "response", message: "cancelled by alice: wrong lane", data: { reviewer: "alice", cancelled: true, reason: "wrong lane" } });
      expect((await waiting)?.body).toBe("cancelled by alice: wrong lane");
      expect(await ws.store.next("default")).toBeNull();
    });

    it("refuses a claimed task (naming its owner), a finished one and an unknown one, changing nothing", async () => {
      const task = await ws.submit();
      const claimed = await ws.store.claim(task.id, { owner: "bot" });
      await expect(ws.store.cancel(task.id)).rejects.toThrow(
        `cannot cancel task ${task.id}: it is claimed by bot; only queued tasks can be cancelled (release the claim first)`,
      );
      expect(await ws.store.get(task.id)).toEqual(claimed);
      expect(await ws.store.getResponse(task.id)).toBeNull();
      const done = await ws.submit();
      await ws.store.respond(done.id, { body: "done" });
      await expect(ws.store.cancel(done.id)).rejects.toThrow(`cannot cancel task ${done.id}: it is already completed`);
      await expect(ws.store.cancel("20200101T000000000000Z-nope-000000000000")).rejects.toThrow(/unknown task/);
      const plain = await ws.submit();
      expect((await ws.store.cancel(plain.id)).response).toMatchObject({ body: "cancelled", reviewer: "agent-lanes" });
    });

    it("lets only one of two racing cancels win", async () => {
      const task = await ws.submit();
      const second = await other();
      const results = await Promise.allSettled([ws.store.cancel(task.id, { by: "a" }), second.cancel(task.id, { by: "b" })]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      expect(results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason))).toEqual([
        expect.stringContaining("it is already failed"),
      ]);
    });
  });

  describe(`${backend.name} store: finishedFacts and finishedCount (the dashboard's counts, recent cards and charts)`, () => {
    it("counts every finished task by lane and state, returns the newest first and those finished since a time, with vendor and cost", async () => {
      const store = ws.store;
      expect(store.finishedFacts).toBeTypeOf("function");
      const facts = (options: { since: Date; recent: number }) => (store.finishedFacts as NonNullable<Store["finishedFacts"]>)(options);
      const past = new Date(Date.now() - DAY);
      expect(await facts({ since: past, recent: 5 })).toEqual({ total: 0, counts: {}, recent: [], window: [] });
      expect(await store.finishedCount?.()).toBe(0);
      const a = await ws.submit({ lane: "review", correlation_id: "a", metadata: { vendor: "claude", model: "opus", effort: "high" } });
      const b = await ws.submit({ lane: "review", correlation_id: "b" });
      const c = await ws.submit({ lane: "build", correlation_id: "c" });
      await ws.submit({ lane: "build", correlation_id: "still-queued" });
      const ca = await store.claim(a.id, { owner: "w1" });
      await store.respond(a.id, { body: "done", claimToken: ca.claim_token, metadata: { vendor: "codex", cost_usd: 0.25 } });
      await store.cancel(b.id, { by: "tester" });
      await new Promise((resolve) => setTimeout(resolve, 5));
      await store.respond(c.id, { body: "done" });
      const all = await facts({ since: past, recent: 2 });
      expect(all.total).toBe(3);
      expect(await store.finishedCount?.()).toBe(3);
      expect(all.counts).toEqual({ review: { completed: 1, failed: 1 }, build: { completed: 1, failed: 0 } });
      // Newest finished first, cut to `recent`.
      expect(all.recent.map((f) => f.correlation_id)).toEqual(["c", "b"]);
      expect(all.window.map((f) => f.id).sort()).toEqual([a.id, b.id, c.id].sort());
      const fa = all.window.find((f) => f.id === a.id);
      expect(fa).toMatchObject({ lane: "review", state: "completed", vendor: "codex", cost_usd: 0.25 });
      expect(fa?.created_ms).toBe(Date.parse(a.created_at));
      expect(fa?.claimed_ms).toBe(Date.parse(ca.claimed_at as string));
      expect(fa?.finished_ms).toBe(Date.parse((await store.get(a.id)).completed_at as string));
      expect(all.window.find((f) => f.id === b.id)).toMatchObject({ state: "failed", vendor: null, cost_usd: 0 });
      // A card: what the board shows of a finished task.
      const card = (await facts({ since: past, recent: 5 })).recent.find((f) => f.id === a.id);
      expect(card).toMatchObject({ correlation_id: "a", lane: "review", state: "completed", vendor: "codex", cost_usd: 0.25, claim_owner: "w1", metadata: { vendor: "claude", model: "opus", effort: "high" } });
      expect(card?.claimed_at).toBe(ca.claimed_at);
      // Nothing finished after tomorrow: counts and recent stay, the window is empty.
      const later = await facts({ since: new Date(Date.now() + DAY), recent: 1 });
      expect(later).toMatchObject({ total: 3, window: [] });
      expect(later.recent.map((f) => f.correlation_id)).toEqual(["c"]);
      // Another store (another process or host) sees the same.
      const again = await (await other()).finishedFacts?.({ since: past, recent: 2 });
      expect(again?.counts).toEqual(all.counts);
      expect(again?.recent.map((f) => f.id)).toEqual(all.recent.map((f) => f.id));
    });
  });

  describe(`${backend.name} store: events`, () => {
    it("appends custom events in order; refuses the store's own types and unknown tasks", async () => {
      const task = await ws.submit();
      const written = await ws.store.appendEvent(task.id, { type: "note", message: "hi", data: { k: "v" } });
      expect(written).toMatchObject({ type: "note", message: "hi", data: { k: "v" } });
      await ws.store.appendEvent(task.id, { type: "progress" });
      expect((await ws.store.readEvents(task.id)).map((e) => [e.type, e.message, e.data])).toEqual([
        ["created", "task created on lane default", { lane: "default" }],
        ["note", "hi", { k: "v" }],
        ["progress", "", {}],
      ]);
      await expect(ws.store.appendEvent(task.id, { type: "claimed" })).rejects.toThrow(/event type claimed is written by the store itself/);
      await expect(ws.store.appendEvent("20261124T000000000000Z-none-000000000000", { type: "note" })).rejects.toThrow(
        "unknown task: 20261124T000000000000Z-none-000000000000",
      );
      expect(await ws.store.readEvents("20261124T000000000000Z-none-000000000000")).toEqual([]);
    });

    it("claim and respond log their caller's events in their own transition, in order; store types refused before anything is written", async () => {
      expect(ws.store.transitionEvents).toBe(true);
      const task = await ws.submit();
      await ws.store.appendEvent(task.id, { type: "note", message: "before" });
      let seen: { claimed: string | null; history: string[] } | null = null;
      const claimed = await ws.store.claim(task.id, {
        owner: "me",
        events: (t, history) => {
          seen = { claimed: t.claim_owner, history: history.map((e) => e.type) };
          return [{ type: "dispatcher_started", message: "attempt 1", data: { attempt: history.filter((e) => e.type === "claimed").length } }];
        },
      });
      // The callback saw the claimed task and every event up to and including its `claimed`.
      expect(seen).toEqual({ claimed: "me", history: ["created", "note", "claimed"] });
      await ws.store.respond(task.id, {
        body: "ok",
        claimToken: claimed.claim_token,
        events: [{ type: "headless_completed", message: "done", data: { exit_code: 0 } }],
      });
      expect((await ws.store.readEvents(task.id)).map((e) => [e.type, e.message, e.data])).toEqual([
        ["created", "task created on lane default", { lane: "default" }],
        ["note", "before", {}],
        ["claimed", "claimed by me", { owner: "me" }],
        ["dispatcher_started", "attempt 1", { attempt: 1 }],
        ["headless_completed", "done", { exit_code: 0 }],
        ["response", "completed response from worker", { reviewer: "worker" }],
      ]);

      // A store type among the caller's events: the transition is refused and nothing changes.
      const other = await ws.submit();
      await expect(ws.store.claim(other.id, { owner: "me", events: () => [{ type: "response" }] })).rejects.toThrow(/event type response is written by the store itself/);
      expect((await ws.store.get(other.id)).state).toBe("queued");
      await expect(ws.store.respond(other.id, { body: "x", events: [{ type: "claimed" }] })).rejects.toThrow(/event type claimed is written by the store itself/);
      expect((await ws.store.get(other.id)).state).toBe("queued");
      expect((await ws.store.readEvents(other.id)).map((e) => e.type)).toEqual(["created"]);
    });
  });

  describe(`${backend.name} store: list, summaries, next and available`, () => {
    it("list is oldest first, filters by lane, state and active-only, pages with after/limit both ways", async () => {
      const a = await ws.submit({ lane: "review" });
      const b = await ws.submit();
      const c = await ws.submit({ lane: "review" });
      await ws.store.respond(c.id, { body: "done" });
      expect((await ws.store.list()).map((t) => t.id)).toEqual([a.id, b.id, c.id]);
      expect((await ws.store.list({ lane: "review" })).map((t) => t.id)).toEqual([a.id, c.id]);
      expect((await ws.store.list({ lane: "review", activeOnly: true })).map((t) => t.id)).toEqual([a.id]);
      expect((await ws.store.list({ states: ["completed"] })).map((t) => t.id)).toEqual([c.id]);
      expect((await ws.store.list({ newestFirst: true, limit: 2 })).map((t) => t.id)).toEqual([c.id, b.id]);
      expect((await ws.store.list({ after: a.id })).map((t) => t.id)).toEqual([b.id, c.id]);
      expect((await ws.store.list({ after: c.id, newestFirst: true })).map((t) => t.id)).toEqual([b.id, a.id]);
      expect((await ws.store.list({ since: new Date(Date.now() + DAY) })).map((t) => t.id)).toEqual([]);
      expect((await ws.store.list({ since: new Date(Date.now() - DAY) })).map((t) => t.id)).toEqual([a.id, b.id, c.id]);
    });

    it("summaries carry response_exists and the last event", async () => {
      const open = await ws.submit();
      const done = await ws.submit();
      await ws.store.appendEvent(open.id, { type: "note", message: "looking" });
      await ws.store.respond(done.id, { body: "ok", reviewer: "r" });
      const byId = new Map((await ws.store.summaries()).map((s) => [s.task.id, s]));
      expect(byId.get(open.id)).toMatchObject({ response_exists: false, last_event: { type: "note", message: "looking" } });
      expect(byId.get(done.id)).toMatchObject({ response_exists: true, last_event: { type: "response", data: { reviewer: "r" } } });
      expect(byId.get(done.id)?.task.state).toBe("completed");
    });

    it("next skips live claims, takes expired ones, and available applies the filter without blocking", async () => {
      const codex = await ws.submit({ metadata: { required_vendor: "codex" } });
      const claude = await ws.submit({ metadata: { required_vendor: "claude" } });
      expect((await ws.store.next("default"))?.id).toBe(codex.id);
      const forClaude = await ws.store.available({ lanes: ["default"], accept: (t) => t.metadata.required_vendor !== "codex" });
      expect(forClaude.map((t) => t.id)).toEqual([claude.id]);
      await ws.store.claim(codex.id, { owner: "x", leaseSeconds: 60 });
      expect((await ws.store.next("default"))?.id).toBe(claude.id);
      await backend.expireLease(ws, codex.id);
      expect((await ws.store.next("default"))?.id).toBe(codex.id);
      expect(await ws.store.next("other")).toBeNull();
    });
  });

  describe(`${backend.name} store: waiting and wake-ups`, () => {
    it("wakes on the response written by another store and writes the body to response_path", async () => {
      const task = await ws.submit();
      const second = await other();
      const waiting = ws.store.waitForResponse(task.id, { timeoutMs: 10_000 });
      const responding = new Promise((resolve, reject) => setTimeout(() => second.respond(task.id, { body: "the answer\n" }).then(resolve, reject), 50));
      const response = await waiting;
      await responding;
      expect(response?.body).toBe("the answer\n");
      const target = await ws.store.writeResponseOutput(await ws.store.get(task.id), response!);
      expect(target).toBe(task.response_path);
      expect(await readFile(target, "utf8")).toBe("the answer\n");
    });

    it("writeResponseOutput stays inside the workspace", async () => {
      const task = await ws.submit();
      const { response } = await ws.store.respond(task.id, { body: "x" });
      await expect(ws.store.writeResponseOutput({ ...task, response_path: "../escape.md" }, response)).rejects.toThrow(/response_path is outside workspace_root/);
    });

    it("times out with null; an unknown task is an error", async () => {
      const task = await ws.submit();
      expect(await ws.store.waitForResponse(task.id, { timeoutMs: 50 })).toBeNull();
      await expect(ws.store.waitForResponse("20261124T000000000000Z-x-000000000000", { timeoutMs: 10 })).rejects.toThrow(/unknown task/);
    });

    it("a task created by another store wakes a waiter without the safety poll", async () => {
      await ws.submit();
      const notifier = await ws.store.changes();
      const since = notifier.generation;
      const woke = notifier.wait(60_000, since).then(() => notifier.generation);
      const second = await other();
      await second.create({
        workspace_id: "ws", correlation_id: "new", lane: "default", workspace_root: ws.root,
        request_path: await ws.file("new.md"), response_path: "responses/new.md",
      });
      expect(await woke).toBeGreaterThan(since);
    }, 15_000);

    it("two waiters on different tasks both wake on responses written by another store", async () => {
      const a = await ws.submit();
      const b = await ws.submit();
      const waitA = ws.store.waitForResponse(a.id, { timeoutMs: 20_000 });
      const waitB = ws.store.waitForResponse(b.id, { timeoutMs: 20_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const second = await other();
      await second.respond(a.id, { body: "for a" });
      expect((await waitA)?.body).toBe("for a");
      await second.respond(b.id, { body: "for b" });
      expect((await waitB)?.body).toBe("for b");
    }, 15_000);
  });

  describe(`${backend.name} store: concurrency`, () => {
    it("four stores race to drain 60 tasks: every task claimed exactly once", async () => {
      const request = await ws.file("shared.md", "shared\n");
      for (let i = 0; i < 60; i++) await ws.submit({ request_path: request, correlation_id: `t${i}` });
      const racers = [ws.store, await other(), await other(), await other()];
      const won = await Promise.all(
        racers.map(async (store, r) => {
          const mine: string[] = [];
          for (;;) {
            const candidates = await store.available({ lanes: ["default"] });
            if (candidates.length === 0) return mine;
            for (const t of candidates) {
              try {
                await store.claim(t.id, { owner: `r${r}` });
                mine.push(t.id);
              } catch (error) {
                expect(String(error)).toMatch(/active lease held by r\d/);
              }
            }
          }
        }),
      );
      const all = won.flat();
      expect(all).toHaveLength(60);
      expect(new Set(all).size).toBe(60);
      for (const t of await ws.store.list()) {
        expect(t.state).toBe("claimed");
        expect((await ws.store.readEvents(t.id)).map((e) => e.type)).toEqual(["created", "claimed"]);
      }
    }, 60_000);
  });

  describe(`${backend.name} store: claims across processes`, () => {
    const worker = path.resolve(__dirname, "../fixtures/store/claim-worker.mjs");
    const runWorker = (args: string[], go = false): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [worker, ...args]);
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
        if (go) child.stdin.end("go\n");
      });

    it("two processes race for one task: exactly one wins, the other hears who", async () => {
      const task = await ws.submit();
      const outs = await Promise.all(["a", "b"].map((owner) => runWorker([ws.queue, owner, "one", task.id], true)));
      const winners = outs.flatMap((o) => JSON.parse(o.stdout).won as string[]);
      expect(winners).toEqual([task.id]);
      expect(outs.map((o) => o.stderr).join("")).toMatch(/active lease held by (a|b)/);
    });

    it("4 processes drain 200 tasks: every task claimed exactly once", async () => {
      const request = await ws.file("shared.md", "shared\n");
      for (let i = 0; i < 200; i++) await ws.submit({ request_path: request, correlation_id: `p${i}` });
      const outs = await Promise.all(Array.from({ length: 4 }, (_, i) => runWorker([ws.queue, `w${i}`, "all"])));
      for (const o of outs) expect(o.code, o.stderr).toBe(0);
      const claimed = outs.flatMap((o) => JSON.parse(o.stdout).won as string[]);
      expect(claimed).toHaveLength(200);
      expect(new Set(claimed).size).toBe(200);
      const tasks = await ws.store.list();
      expect(tasks.map((t) => t.state)).toEqual(Array(200).fill("claimed"));
    }, 120_000);
  });

  describe(`${backend.name} store: prune`, () => {
    const finish = async (task: Task, opts: { status?: "completed" | "failed"; fetch?: boolean } = {}): Promise<void> => {
      const claimed = await ws.store.claim(task.id, { owner: "t" });
      const { response } = await ws.store.respond(task.id, { claimToken: claimed.claim_token, body: `answer ${task.id}`, status: opts.status ?? "completed" });
      if (opts.fetch !== false) await ws.store.writeResponseOutput(await ws.store.get(task.id), response);
    };

    it("removes finished, fetched tasks past the policy, never live ones nor unfetched answers unless forced", async () => {
      const old = [await ws.submit(), await ws.submit({ lane: "other" })];
      for (const t of old) await finish(t);
      const failed = await ws.submit();
      await finish(failed, { status: "failed" });
      const unfetched = await ws.submit();
      await finish(unfetched, { fetch: false });
      const queued = await ws.submit();
      const claimed = await ws.submit();
      await ws.store.claim(claimed.id, { owner: "t", leaseSeconds: 1 });
      const later = new Date(Date.now() + 40 * DAY);

      const dry = await ws.store.prune({ olderThanMs: 30 * DAY, now: later, dryRun: true });
      expect(dry.dry_run).toBe(true);
      expect(dry.pruned.map((p) => p.id).sort()).toEqual([...old, failed].map((t) => t.id).sort());
      expect((await ws.store.list()).map((t) => t.id)).toHaveLength(6);

      const result = await ws.store.prune({ olderThanMs: 30 * DAY, now: later });
      expect(result.pruned.map((p) => p.id).sort()).toEqual([...old, failed].map((t) => t.id).sort());
      expect(result.kept).toEqual([expect.objectContaining({ id: unfetched.id, reason: "response_not_fetched", detail: expect.stringMatching(/run wait .*, or prune with --force/) })]);
      expect(result.remaining_finished).toBe(1);
      expect((await ws.store.list()).map((t) => t.id)).toEqual([unfetched.id, queued.id, claimed.id]);
      await expect(ws.store.get(old[0]!.id)).rejects.toThrow(/unknown task/);
      expect(await ws.store.readEvents(old[0]!.id)).toEqual([]);

      expect((await ws.store.prune({ olderThanMs: 30 * DAY, now: new Date() })).pruned).toEqual([]);
      const forced = await ws.store.prune({ olderThanMs: 30 * DAY, now: later, force: true });
      expect(forced.pruned.map((p) => p.id)).toEqual([unfetched.id]);
      await expect(ws.store.prune({ olderThanMs: -1 })).rejects.toThrow("older_than must be a duration >= 0");
    });

    it("keep-last, lane and state narrow the selection", async () => {
      const tasks: Task[] = [];
      for (let i = 0; i < 5; i += 1) {
        tasks.push(await ws.submit({ lane: i < 4 ? "a" : "b" }));
        await finish(tasks[i]!, { status: i === 3 ? "failed" : "completed" });
      }
      const result = await ws.store.prune({ olderThanMs: 0, now: new Date(Date.now() + DAY), keepLast: 1, lane: "a", states: ["completed"] });
      // lane a, completed: tasks 0, 1, 2; the newest (2) is kept by keep-last
      expect(result.pruned.map((p) => p.id).sort()).toEqual([tasks[0]!.id, tasks[1]!.id].sort());
      expect((await ws.store.list()).map((t) => t.id)).toEqual([tasks[2]!.id, tasks[3]!.id, tasks[4]!.id]);
    });
  });

  describe(`${backend.name} store: vendor pauses`, () => {
    it("set, get, list and clear a pause; another store on the queue sees it", async () => {
      const now = new Date();
      expect((await readPause(ws.store, "codex", now)).pause).toBeNull();
      const record = await setPause(ws.store, "codex", { reason: "limit", kind: "usage-limit", owner: "d1", until: new Date(now.getTime() + 3600_000), jitter: false }, { now });
      expect(record).toMatchObject({ vendor: "codex", reason: "limit", kind: "usage-limit", set_by: "d1", consecutive: 1 });
      const second = await other();
      expect((await readPause(second, "codex", now)).pause).toEqual(record);
      // a pause is only ever extended
      expect(await setPause(second, "codex", { reason: "shorter", kind: "usage-limit", owner: "d2", until: new Date(now.getTime() + 60_000), jitter: false }, { now })).toEqual(record);
      await setPause(ws.store, "claude", { reason: "login", kind: "needs-login", owner: "d1", fix: "run claude /login" }, { now });
      const { pauses, warnings } = await listPauses(second, now);
      expect(warnings).toEqual([]);
      expect(pauses.map((p) => [p.vendor, p.active])).toEqual([["claude", true], ["codex", true]]);
      expect(await clearPause(second, "codex", { onlyExpired: true, now })).toBe(false);
      expect(await clearPause(second, "codex")).toBe(true);
      expect(await clearPause(second, "codex")).toBe(false);
      expect((await readPause(ws.store, "codex", now)).pause).toBeNull();
      expect((await readPause(ws.store, "claude", new Date(now.getTime() + 2 * DAY))).pause).toBeNull();
      expect(() => ws.store.pauses.where("../etc")).toThrow(/invalid vendor name/);
    });
  });
}
