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

// Cancel's rules are in the contract suite (test/store/contract.ts); here
// what is the file store's own: the answer on disk, a missing queue folder.
describe("cancel (file store)", () => {
  it("writes the cancellation as response.json", async () => {
    const task = await ws.submit();
    await ws.store.cancel(task.id, { by: "alice", reason: "wrong\nlane" });
    const onDisk = JSON.parse(await readFile(path.join(ws.queue, "tasks", task.id, "response.json"), "utf8"));
    expect(onDisk).toMatchObject({ status: "failed", reviewer: "alice", body: "cancelled by alice: wrong lane", metadata: { cancelled: true } });
  });

  it("on a queue folder that does not exist: unknown task, and nothing is created", async () => {
    const fresh = openStore(path.join(ws.root, "no-queue"));
    await expect(fresh.cancel("abc")).rejects.toThrow("unknown task: abc");
    await fresh.close();
    const { existsSync } = await import("node:fs");
    expect(existsSync(path.join(ws.root, "no-queue"))).toBe(false);
  });

  it("refuses a non-string reason before writing anything", async () => {
    const task = await ws.submit();
    await expect(ws.store.cancel(task.id, { reason: 5 as unknown as string })).rejects.toThrow("Expected `reason` to be a string, got `5` (number)");
    expect((await ws.store.get(task.id)).state).toBe("queued");
  });
});
