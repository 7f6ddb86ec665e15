// The store contract (test/store/contract.ts) on PostgreSQL: one embedded
// server for this file, a fresh database per test.

import path from "node:path";
import pg from "pg";
import { openPostgresStore } from "../../src/store/postgres/store.js";
import { usePostgres } from "../helpers/postgres.js";
import { makeWorkspaceOn } from "../helpers/workspace.js";
import { storeContract } from "../store/contract.js";

const server = usePostgres();

storeContract({
  name: "postgres",
  makeWorkspace: () =>
    makeWorkspaceOn(async (root) => {
      const url = await server.freshDatabase();
      return { queue: url, store: await openPostgresStore(url, { localRoot: path.join(root, "local") }) };
    }),
  openOther: (ws) => openPostgresStore(ws.queue, { localRoot: path.join(ws.root, "local-other") }),
  async expireLease(ws, taskId) {
    // On the database's clock, as the store judges leases.
    const client = new pg.Client({ connectionString: ws.queue });
    await client.connect();
    try {
      await client.query(
        `UPDATE agent_lanes.tasks SET lease_expires_at = now() - interval '1 second',
           doc = jsonb_set(doc, '{lease_expires_at}', to_jsonb(to_char((now() - interval '1 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
         WHERE id = $1`,
        [taskId],
      );
    } finally {
      await client.end();
    }
  },
});
