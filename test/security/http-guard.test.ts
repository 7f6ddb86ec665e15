// Issue 11 over HTTP, with real requests on a real socket: the browser guard
// (Host, Origin, Sec-Fetch-Site, JSON-only bodies, no CORS), the operator's
// workspace roots, and the limits on what a client can send (nesting, size,
// id length) — every refusal a 4xx naming the fix, never a 500, no task made.

import http from "node:http";
import { mkdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { startServer, type Harness } from "../server/helpers.js";

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** One request with exactly these headers (fetch would not let us forge Host). */
function raw(method: string, url: string, headers: Record<string, string>, body?: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function taskBody(extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const request = await h.ws.file("requests/r.md", "please review\n");
  return { workspace_id: "ws", correlation_id: "c-1", lane: "default", workspace_root: h.ws.root, request_path: request, response_path: "out/r.md", ...extra };
}

const port = (): string => new URL(h.url).port;

describe("the browser guard", () => {
  it("refuses a foreign Host (DNS rebinding), accepts the bound address, localhost and --allow-host names", async () => {
    h = await startServer({ allowHosts: ["agents.internal"] });
    const task = await h.ws.submit();
    for (const host of [`attacker.example:${port()}`, "attacker.example", `127.0.0.1.nip.io:${port()}`, `localhost.attacker.example:${port()}`, `10.1.2.3:${port()}`]) {
      const reply = await raw("GET", `${h.url}/tasks/${task.id}`, { host });
      expect(reply.status, host).toBe(403);
      expect(reply.body.error, host).toMatch(/Host .* is not this server's address.*--allow-host/);
    }
    for (const host of [`127.0.0.1:${port()}`, `localhost:${port()}`, `LOCALHOST:${port()}`, `[::1]:${port()}`, "agents.internal", `agents.internal:${port()}`]) {
      expect((await raw("GET", `${h.url}/tasks/${task.id}`, { host })).status, host).toBe(200);
    }
  });

  it("refuses a foreign Origin and cross-site fetches on every route; its own origin gets through", async () => {
    h = await startServer();
    const body = JSON.stringify(await taskBody());
    const json = { "content-type": "application/json" };
    for (const origin of ["http://evil.example", `http://localhost:${Number(port()) + 1}`, "null", `https://127.0.0.1:${port()}`]) {
      const reply = await raw("POST", `${h.url}/tasks`, { ...json, origin }, body);
      expect(reply.status, origin).toBe(403);
      expect(reply.body.error).toContain("cross-origin");
      expect(reply.headers["access-control-allow-origin"]).toBeUndefined();
    }
    for (const site of ["cross-site", "same-site"]) {
      expect((await raw("GET", `${h.url}/tasks?lane=default`, { "sec-fetch-site": site })).status, site).toBe(403);
    }
    expect(await h.ws.store.list()).toEqual([]);
    const own = await raw("POST", `${h.url}/tasks`, { ...json, origin: `http://127.0.0.1:${port()}`, "sec-fetch-site": "same-origin" }, body);
    expect(own.status).toBe(201);
    expect(own.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("takes bodies only as application/json: a form, text/plain or no type is 415 and creates nothing", async () => {
    h = await startServer();
    const body = JSON.stringify(await taskBody());
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp", undefined]) {
      const headers: Record<string, string> = type ? { "content-type": type } : {};
      const reply = await raw("POST", `${h.url}/tasks`, headers, body);
      expect(reply.status, String(type)).toBe(415);
      expect(reply.body.error).toContain("Content-Type: application/json");
    }
    expect(await h.ws.store.list()).toEqual([]);
    expect((await raw("POST", `${h.url}/tasks`, { "content-type": "application/json; charset=utf-8" }, body)).status).toBe(201);
    // A POST without any body (curl -X POST .../claim) still works.
    const [task] = await h.ws.store.list();
    expect((await raw("POST", `${h.url}/tasks/${task?.id}/claim`, {})).status).toBe(200);
  });

  it("a token set on loopback is required on data routes", async () => {
    h = await startServer({ token: "loop-token" });
    expect((await raw("GET", `${h.url}/tasks?lane=x`, {})).status).toBe(401);
    expect((await raw("GET", `${h.url}/tasks?lane=x`, { authorization: "Bearer loop-token" })).status).toBe(200);
  });
});

describe("workspace roots are the operator's", () => {
  it("refuses a workspace_root outside the allowed roots (`/`, a sibling, a symlink out), accepts one inside", async () => {
    h = await startServer();
    const sibling = path.join(path.dirname(h.ws.root), `${path.basename(h.ws.root)}-other`);
    await mkdir(sibling, { recursive: true });
    onTestFinished(() => rm(sibling, { recursive: true, force: true }));
    const escape = path.join(h.ws.root, "link-out");
    await (await import("node:fs/promises")).symlink(os.tmpdir(), escape);
    for (const root of ["/", sibling, escape, os.homedir()]) {
      const reply = await h.api("POST", "/tasks", await taskBody({ workspace_root: root, request_path: "/etc/hostname" }));
      expect(reply.status, root).toBe(400);
      expect(reply.body.error, root).toMatch(/workspace_root is outside the allowed roots.*--allow-root/);
      expect(JSON.stringify(reply.body)).not.toMatch(/sha256/);
    }
    expect(await h.ws.store.list()).toEqual([]);
    await mkdir(path.join(h.ws.root, "sub"), { recursive: true });
    const inner = await h.ws.file("sub/req.md", "inner\n");
    expect((await h.api("POST", "/tasks", await taskBody({ workspace_root: path.join(h.ws.root, "sub"), request_path: inner }))).status).toBe(201);
  });

  it("a file, a relative path or a missing folder as workspace_root is a 400 naming it (the store's root_not_allowed)", async () => {
    h = await startServer();
    const file = await h.ws.file("not-a-folder.md", "x\n");
    const cases: Array<[unknown, RegExp]> = [
      [file, /^workspace_root is not a folder: .*not-a-folder\.md$/],
      ["relative/dir", /^workspace_root must be an absolute path to a folder, got "relative\/dir"$/],
      [path.join(h.ws.root, "missing"), /^workspace_root is outside the allowed roots: .*missing \(allowed: /],
    ];
    for (const [root, message] of cases) {
      const reply = await h.api("POST", "/tasks", await taskBody({ workspace_root: root }));
      expect(reply.status, String(root)).toBe(400);
      expect(reply.body.error, String(root)).toMatch(message);
    }
    expect(await h.ws.store.list()).toEqual([]);
  });

  it("with no allowed root every task is refused", async () => {
    h = await startServer({ allowedRoots: [] });
    const reply = await h.api("POST", "/tasks", await taskBody());
    expect(reply.status).toBe(400);
    expect(reply.body.error).toContain("allowed: none");
  });
});

describe("what a client can send is a 4xx, never a 500", () => {
  it("nesting: 64 levels are read, 65 are a 400 and no task folder is left behind", async () => {
    h = await startServer();
    const nest = (levels: number): unknown => (levels === 0 ? "leaf" : { k: nest(levels - 1) });
    // The body object itself is level 1: 63 levels of metadata make 64 in all.
    const ok = await h.api("POST", "/tasks", await taskBody({ metadata: nest(63) }));
    expect(ok.status).toBe(201);
    for (const levels of [64, 3000]) {
      const reply = await h.api("POST", "/tasks", await taskBody({ correlation_id: `deep-${levels}`, metadata: nest(levels) }));
      expect(reply.status, String(levels)).toBe(400);
      expect(reply.body.error).toContain("deeper than 64 levels");
    }
    const deepArray = `{"metadata":${"[".repeat(10_000)}${"]".repeat(10_000)}}`;
    expect((await h.api("POST", "/tasks", deepArray)).status).toBe(400);
    expect(await h.ws.store.list()).toHaveLength(1);
  });

  it("a 300-character task id is a 400 on every route, not a 500", async () => {
    h = await startServer();
    const id = `a${"b".repeat(299)}`;
    for (const [method, route] of [["GET", ""], ["GET", "/response"], ["POST", "/claim"], ["POST", "/events"], ["POST", "/response"], ["POST", "/release"]] as const) {
      const reply = await h.api(method, `/tasks/${id}${route}`, method === "POST" ? { body: "x", claim_token: "t" } : undefined);
      expect(reply.status, `${method} ${route}`).toBe(400);
      expect(reply.body.error).toContain("invalid task_id");
    }
    expect(h.logs.filter((line) => line.level === 50)).toEqual([]);
  });

  it("an oversized body is a 413", async () => {
    h = await startServer({ maxBodyBytes: 1000 });
    const reply = await h.api("POST", "/tasks", await taskBody({ prompt: "p".repeat(5000) }));
    expect(reply.status).toBe(413);
    expect(await h.ws.store.list()).toEqual([]);
  });

  it("wait_seconds must be strictly decimal (0x10, 1e3, Infinity are 400)", async () => {
    h = await startServer();
    const task = await h.ws.submit();
    for (const value of ["0x10", "1e3", "Infinity", "-1", "5s", "NaN"]) {
      const reply = await h.api("GET", `/tasks/${task.id}/response?wait_seconds=${encodeURIComponent(value)}`);
      expect(reply.status, value).toBe(400);
    }
  });
});
