import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await makeWorkspace();
});
afterEach(async () => {
  await ws.cleanup();
});

describe("cancel", () => {
  it("answers a queued task failed with who and why, logs the response event and wakes its waiter", async () => {
    const task = await ws.submit();
    const waiting = ws.store.waitForResponse(task.id, { timeoutMs: 10_000 });
    const { task: done, response } = await ws.store.cancel(task.id, { by: "alice", reason: "wrong\nlane" });
    expect(done.state).toBe("failed");
    expect(done.failure_reason).toBe("cancelled by alice: wrong lane");
    expect(response).toMatchObject({ status: "failed", reviewer: "alice", body: "cancelled by alice: wrong lane", verdict: null, metadata: { cancelled: true } });
    const onDisk = JSON.parse(await readFile(path.join(ws.queue, "tasks", task.id, "response.json"), "utf8"));
    expect(onDisk.body).toBe("cancelled by alice: wrong lane");
    const events = await ws.store.readEvents(task.id);
    expect(events.at(-1)).toMatchObject({ type: "response", message: "cancelled by alice: wrong lane", data: { reviewer: "alice", cancelled: true, reason: "wrong lane" } });
    expect((await waiting)?.body).toBe("cancelled by alice: wrong lane");
    expect(await ws.store.next("default")).toBeNull();
  });

  it("says just `cancelled` without who or why", async () => {
    const task = await ws.submit();
    const { response } = await ws.store.cancel(task.id);
    expect(response.body).toBe("cancelled");
    expect(response.reviewer).toBe("agent-lanes");
  });

  it("refuses a claimed task, naming its owner, and leaves it untouched", async () => {
    const task = await ws.submit();
    const claimed = await ws.store.claim(task.id, { owner: "bot" });
    await expect(ws.store.cancel(task.id)).rejects.toThrow(
      `cannot cancel task ${task.id}: it is claimed by bot; only queued tasks can be cancelled (release the claim first)`,
    );
    expect(await ws.store.get(task.id)).toEqual(claimed);
    expect(await ws.store.getResponse(task.id)).toBeNull();
  });

  it("refuses a finished task and an unknown one", async () => {
    const task = await ws.submit();
    await ws.store.respond(task.id, { body: "done" });
    await expect(ws.store.cancel(task.id)).rejects.toThrow(`cannot cancel task ${task.id}: it is already completed`);
    await expect(ws.store.cancel("20200101T000000000000Z-nope-000000000000")).rejects.toThrow(/unknown task/);
    const fresh = openStore(path.join(ws.root, "no-queue"));
    await expect(fresh.cancel("abc")).rejects.toThrow("unknown task: abc");
  });

  it("refuses a non-string reason before writing anything", async () => {
    const task = await ws.submit();
    await expect(ws.store.cancel(task.id, { reason: 5 as unknown as string })).rejects.toThrow("Expected `reason` to be a string, got `5` (number)");
    expect((await ws.store.get(task.id)).state).toBe("queued");
  });

  it("lets only one of two racing cancels win", async () => {
    const task = await ws.submit();
    const other = openStore(ws.queue);
    const results = await Promise.allSettled([ws.store.cancel(task.id, { by: "a" }), other.cancel(task.id, { by: "b" })]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason))).toEqual([
      expect.stringContaining("it is already failed"),
    ]);
    await other.close();
  });
});
