// Which queue a command opens (issue 18): --store, else AGENT_LANES_STORE,
// else queue_root of handoff.yaml; a postgres:// URL in any of them opens the
// PostgreSQL store (here: one that cannot be reached, so no server is
// needed; the PostgreSQL runs are in test/postgres/).

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCliWorkspace, run, type CliWorkspace } from "./cli-helpers.js";

let ws: CliWorkspace;
let elsewhere: string;

/** A port of 127.0.0.1 nothing listens on. */
const deadPort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });

beforeAll(async () => {
  ws = await makeCliWorkspace("al-store-target-");
  elsewhere = await mkdtemp(path.join(os.tmpdir(), "al-store-target-other-"));
});

afterAll(async () => {
  await ws.cleanup();
  await rm(elsewhere, { recursive: true, force: true });
});

describe("the queue a command opens", () => {
  it("AGENT_LANES_STORE names a queue folder where there is no handoff.yaml; --store wins over it", async () => {
    const id = await ws.submit();
    const viaEnv = await run(["status", "--all", "--json"], { cwd: elsewhere, env: { AGENT_LANES_STORE: ws.queue } });
    expect(viaEnv.exitCode, viaEnv.stderr).toBe(0);
    expect(viaEnv.json<{ queue_root: string; tasks: Array<{ id: string }> }>()).toMatchObject({ queue_root: ws.queue, tasks: [{ id }] });
    const other = path.join(elsewhere, "empty-queue");
    const overridden = await run(["--store", other, "status", "--all", "--json"], { cwd: elsewhere, env: { AGENT_LANES_STORE: ws.queue } });
    expect(overridden.json<{ queue_root: string; count: number }>()).toMatchObject({ queue_root: other, count: 0 });
  });

  it("migrate on a queue folder has nothing to do", async () => {
    const result = await ws.run(["migrate", "--json"]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json()).toEqual({ status: "ok", store: ws.queue, kind: "file", from: null, to: null, applied: [] });
  });

  it("a postgres:// queue_root, AGENT_LANES_STORE or --store that cannot be reached: one line naming the URL, password masked", async () => {
    const port = await deadPort();
    const url = `postgres://agent:pa55word@127.0.0.1:${port}/lanes`;
    const shown = `postgres://agent:***@127.0.0.1:${port}/lanes`;
    const config = await readFile(ws.config, "utf8");
    await writeFile(ws.config, config.replace(/^queue_root: .*$/m, `queue_root: ${url}`));
    try {
      for (const [args, env] of [
        [["status", "--all"], {}],
        [["status", "--all"], { AGENT_LANES_STORE: url }],
        [["--store", url, "status", "--all"], {}],
      ] as const) {
        const result = await run(args, { cwd: env.AGENT_LANES_STORE || args[0] === "--store" ? elsewhere : ws.root, env: { ...env } });
        expect(result.exitCode).toBe(1);
        expect(result.errLines).toHaveLength(1);
        expect(result.errLines[0]).toMatch(new RegExp(`^agent-lanes: cannot reach the PostgreSQL queue at ${shown.replace(/[*.?/]/g, "\\$&")}: .*\\(start the server or fix the URL in --store, queue_root or AGENT_LANES_STORE`));
        expect(result.stderr).not.toContain("pa55word");
      }
    } finally {
      await writeFile(ws.config, config);
    }
  });
});
