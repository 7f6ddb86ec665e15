// The store contract (test/store/contract.ts) on the file store; the same
// suite runs on PostgreSQL in test/postgres/contract.test.ts.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { openStore, writeJsonAtomic } from "../../src/store/index.js";
import { makeWorkspace } from "../helpers/workspace.js";
import { storeContract } from "./contract.js";

storeContract({
  name: "file",
  makeWorkspace: () => makeWorkspace(),
  openOther: async (ws) => openStore(ws.queue),
  async expireLease(ws, taskId) {
    const file = path.join(ws.queue, "tasks", taskId, "task.json");
    const task = JSON.parse(await readFile(file, "utf8"));
    await writeJsonAtomic(file, { ...task, lease_expires_at: new Date(Date.now() - 1000).toISOString() });
  },
});
