// The bearer token: mandatory off loopback, checked on every route when set.

import { afterEach, describe, expect, it } from "vitest";
import { createBearerCheck, createServer, isLoopbackHost, ServerConfigError } from "../../src/server/index.js";
import { makeWorkspace } from "../helpers/workspace.js";
import { startServer, type Harness } from "./helpers.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const TOKEN = "s3cret-token-value";

describe("listening off loopback", () => {
  it("refuses to listen on a non-loopback address without a token, naming --token and AGENT_LANES_TOKEN", async () => {
    const ws = await makeWorkspace();
    try {
      const server = createServer({ store: ws.store });
      const error = await server.listen(0, "0.0.0.0").catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ServerConfigError);
      expect((error as Error).message).toContain("--token");
      expect((error as Error).message).toContain("AGENT_LANES_TOKEN");
      await server.close();
    } finally {
      await ws.cleanup();
    }
  });

  it("with a token on 0.0.0.0: no token or a wrong one gets 401 on every route, the right one gets through", async () => {
    h = await startServer({ host: "0.0.0.0", token: TOKEN });
    const task = await h.ws.submit();
    const routes: Array<[string, string]> = [
      ["GET", "/health"],
      ["POST", "/tasks"],
      ["GET", "/tasks/next?lane=default"],
      ["GET", `/tasks/${task.id}`],
      ["POST", `/tasks/${task.id}/claim`],
      ["POST", `/tasks/${task.id}/events`],
      ["POST", `/tasks/${task.id}/response`],
      ["POST", `/tasks/${task.id}/release`],
      ["GET", `/tasks/${task.id}/response?wait_seconds=5`],
      ["GET", "/no/such/route"],
    ];
    for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: `Bearer ${TOKEN}x` }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }]) {
      for (const [method, path] of routes) {
        const reply = await h.api(method, path, method === "POST" ? { owner: "intruder", body: "x" } : undefined, headers);
        expect(reply.status, `${method} ${path} with ${JSON.stringify(headers)}`).toBe(401);
        expect(reply.body.error).toContain("Authorization: Bearer");
        expect(reply.headers.get("www-authenticate")).toContain("Bearer");
      }
    }
    // Nothing got through: the task is untouched.
    expect(await h.ws.store.get(task.id)).toMatchObject({ state: "queued", claim_owner: null });
    expect((await h.ws.store.readEvents(task.id)).map((e) => e.type)).toEqual(["created"]);

    const good = { authorization: `Bearer ${TOKEN}` };
    expect((await h.api("GET", "/health", undefined, good)).status).toBe(200);
    expect((await h.api("POST", `/tasks/${task.id}/claim`, { owner: "friend" }, good)).status).toBe(200);
    expect((await h.ws.store.get(task.id)).claim_owner).toBe("friend");
  });

  it("a token set on loopback is checked too", async () => {
    h = await startServer({ token: TOKEN });
    expect((await h.api("GET", "/health")).status).toBe(401);
    expect((await h.api("GET", "/health", undefined, { authorization: `bearer ${TOKEN}` })).status).toBe(200);
  });

  it("refuses an empty token, and one with whitespace that no client could send", async () => {
    const ws = await makeWorkspace();
    try {
      expect(() => createServer({ store: ws.store, token: "  " })).toThrow(/token is empty/);
      expect(() => createServer({ store: ws.store, token: "two words" })).toThrow(/contains whitespace/);
      expect(() => createServer({ store: ws.store, token: "tab\tinside" })).toThrow(/contains whitespace/);
    } finally {
      await ws.cleanup();
    }
  });
});

describe("isLoopbackHost", () => {
  it.each(["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]", "::ffff:127.0.0.1"])("%s is loopback", (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });
  it.each(["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "localhost.example.com", "128.0.0.1", "::ffff:10.0.0.1"])(
    "%s is not loopback",
    (host) => {
      expect(isLoopbackHost(host)).toBe(false);
    },
  );
});

describe("createBearerCheck", () => {
  it("accepts exactly `Bearer <token>` (scheme in any case) and nothing else", () => {
    const check = createBearerCheck(TOKEN);
    expect(check(`Bearer ${TOKEN}`)).toBe(true);
    expect(check(`BEARER  ${TOKEN} `)).toBe(true);
    for (const header of [undefined, "", "Bearer", "Bearer ", `Bearer ${TOKEN.slice(1)}`, `Bearer ${TOKEN} extra`, `Token ${TOKEN}`, TOKEN]) {
      expect(check(header), String(header)).toBe(false);
    }
  });
});
