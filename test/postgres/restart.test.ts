// A severed database connection: the test stops the PostgreSQL server and
// starts it again (same port, same data). Writes in between fail with one
// line naming the URL (password masked) and the fix; nothing is lost; a
// waiter that was asleep wakes on the answer written after the restart
// (its LISTEN connection is re-opened), without its safety poll.

import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Store } from "../../src/store/index.js";
import { openPostgresStore } from "../../src/store/postgres/store.js";
import { usePostgres } from "../helpers/postgres.js";
import { makeWorkspaceOn, type TestWorkspace } from "../helpers/workspace.js";

const server = usePostgres();
let ws: TestWorkspace | undefined;
const stores: Store[] = [];

afterEach(async () => {
  await server.start(); // whatever a test left stopped
  for (const s of stores.splice(0)) await s.close();
  await ws?.cleanup();
  ws = undefined;
});

describe("PostgreSQL restarted under the store", () => {
  it("refuses writes while down with the URL and the fix, loses nothing, and wakes a sleeping waiter after the restart", async () => {
    const url = await server.freshDatabase();
    ws = await makeWorkspaceOn(async (root) => ({ queue: url, store: await openPostgresStore(url, { localRoot: path.join(root, "a"), pollMs: 600_000 }) }));
    const writer = await openPostgresStore(url, { localRoot: path.join(ws.root, "b") });
    stores.push(writer);
    const task = await ws.submit({ content: "survives a restart\n" });
    const claimed = await writer.claim(task.id, { owner: "d1", leaseSeconds: 600 });
    // The waiter's safety poll is ten minutes: only a wake-up can end this wait in time.
    const waiting = ws.store.waitForResponse(task.id, { timeoutMs: 60_000 });

    await server.stop();
    const refused = await writer.respond(task.id, { body: "too early", claimToken: claimed.claim_token }).then(
      () => null,
      (error: Error & { code?: string }) => error,
    );
    expect(refused?.code).toBe("store_unavailable");
    expect(refused?.message).toMatch(/^cannot reach the PostgreSQL queue at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/\w+: .*\(start the server or fix the URL/);
    expect(refused?.message).not.toMatch(/agent-lanes-test/);

    await server.start();
    // The same pool connects again; the claim made before the restart still holds.
    expect(await writer.get(task.id)).toEqual(claimed);
    const { response } = await writer.respond(task.id, { body: "after the restart", claimToken: claimed.claim_token });
    expect(await waiting).toEqual(response);
    expect((await ws.store.readEvents(task.id)).map((e) => e.type)).toEqual(["created", "claimed", "response"]);
    expect((await ws.store.requestFiles?.(task.id))?.map((f) => f.content.toString())).toEqual(["survives a restart\n"]);
  }, 90_000);
});
