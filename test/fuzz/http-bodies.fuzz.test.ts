// Fuzz: the HTTP API with bodies, ids and query strings of any kind, on an
// in-process server over a temp queue. Bad input is a 4xx with {"error": ...},
// never a 500 (nothing logged as an unexpected failure); success has the
// documented shape; the queue stays valid and its paths inside workspace_root.

import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type AgentLanesServer } from "../../src/server/index.js";
import { openStore, VERDICTS, type Store, type Task } from "../../src/store/index.js";
import { auditQueue } from "../chaos/support/audit.js";
import { anyValue, garbageText, hostilePath } from "./support/arbitraries.js";
import { createFigures, runs } from "./support/figures.js";

const figures = createFigures("fuzz-http");

let tmp: string;
let ws: string;
let outside: string;
let queue: string;
let store: Store;
let server: AgentLanesServer;
let base: string;
const unexpected: unknown[] = [];
const ids: string[] = [];
let token = "";

beforeAll(async () => {
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), "al-fuzz-http-")));
  ws = path.join(tmp, "ws");
  outside = path.join(tmp, "outside");
  queue = path.join(ws, "handoff", "state");
  await mkdir(path.join(ws, "sub"), { recursive: true });
  await mkdir(outside, { recursive: true });
  await writeFile(path.join(ws, "req.md"), "request\n");
  await writeFile(path.join(ws, "sub", "req.md"), "request two\n");
  await writeFile(path.join(outside, "secret.md"), "secret\n");
  await symlink(outside, path.join(ws, "link-out"));
  store = openStore(queue);
  for (let i = 0; i < 4; i++) {
    const task = await store.create({ workspace_id: "ws", correlation_id: `seed-${i}`, lane: "default", workspace_root: ws, request_path: path.join(ws, "req.md"), response_path: `out/${i}.md` });
    ids.push(task.id);
  }
  token = (await store.claim(ids[0] as string, { owner: "seed", leaseSeconds: 3600 })).claim_token as string;
  server = createServer({
    store,
    allowedRoots: [ws],
    // The API only: "/tasks/.." normalises to "/", the dashboard's HTML page.
    dashboard: false,
    maxWaitSeconds: 0.2,
    logger: { debug: () => undefined, error: (obj: object) => void unexpected.push(obj) },
  });
  base = (await server.listen(0, "127.0.0.1")).url;
});

afterAll(async () => {
  figures.write();
  await server?.close();
  await store?.close();
  await rm(tmp, { recursive: true, force: true });
});

// --- request generators -----------------------------------------------------------

/** Mostly a well-typed value, so requests get past validation and the success paths run too. */
const sane = <T>(value: fc.Arbitrary<T>) => fc.oneof({ weight: 15, arbitrary: value }, { weight: 1, arbitrary: anyValue });
/** Mostly one of the good values, sometimes a hostile one. */
const mostly = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) => fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: bad });
const where = () => ({ inside: ws, outside });
const idArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("seed-0", "seed-1", "seed-2", "seed-3") },
  { weight: 2, arbitrary: fc.constantFrom("..", "%2e%2e", "a..b", "unknown-task", "-x", ".x", "%00", "a%2Fb", "x%20y", "%E9", "%") },
  { weight: 1, arbitrary: garbageText.map((t) => encodeURIComponent(t.replace(/[\ud800-\udfff]/g, ""))) },
);

/** Built once the fixture paths exist. */
function requests(): fc.Arbitrary<Call> {
const bodies = {
  create: fc.record(
    {
      workspace_id: sane(fc.constant("ws")),
      correlation_id: sane(fc.string({ minLength: 1, maxLength: 10 })),
      lane: sane(fc.constantFrom("default", "other")),
      workspace_root: sane(mostly(fc.constant(ws), hostilePath(where()))),
      request_path: sane(mostly(fc.constantFrom("req.md", "sub/req.md", path.join(ws, "req.md")), hostilePath(where()))),
      response_path: sane(mostly(fc.constantFrom("out/x.md", "sub/y.md"), hostilePath(where()))),
      source_agent: sane(fc.string({ maxLength: 6 })),
      worktree_path: sane(fc.option(hostilePath(where()), { freq: 2 })),
      expected_branch: sane(fc.option(fc.string({ maxLength: 6 }))),
      prompt: sane(fc.option(garbageText)),
      supporting_paths: sane(fc.array(mostly(fc.constantFrom("req.md", { path: "sub/req.md" }), fc.oneof(hostilePath(where()), fc.record({ path: fc.oneof(hostilePath(where()), anyValue) }))), { maxLength: 2 })),
      metadata: sane(fc.dictionary(fc.string({ maxLength: 6 }), anyValue, { maxKeys: 3 })),
    },
    { requiredKeys: ["workspace_id", "correlation_id", "lane", "workspace_root", "request_path", "response_path"] },
  ),
  claim: fc.record({ owner: sane(fc.string({ maxLength: 6 })), lease_seconds: sane(fc.oneof(fc.double(), fc.integer({ min: 1, max: 3600 }))) }, { requiredKeys: [] }),
  events: fc.record({ type: sane(fc.string({ maxLength: 6 })), message: sane(garbageText), data: sane(fc.dictionary(fc.string({ maxLength: 4 }), anyValue, { maxKeys: 2 })) }, { requiredKeys: [] }),
  response: fc.record(
    {
      claim_token: sane(fc.oneof(fc.constant("TOKEN"), fc.string({ maxLength: 8 }), fc.constant(null))),
      body: sane(garbageText),
      reviewer: sane(fc.string({ maxLength: 6 })),
      status: sane(mostly(fc.constantFrom("completed", "failed"), fc.constant("done"))),
      verdict: sane(mostly(fc.constantFrom(null, ...VERDICTS), fc.constant("maybe"))),
      blocking_count: sane(mostly(fc.constant(0), fc.integer({ min: -2, max: 3 }))),
      nonblocking_count: sane(mostly(fc.nat(3), fc.integer({ min: -2, max: 3 }))),
      follow_up_required: sane(fc.boolean()),
      expect_sha256: sane(fc.option(fc.string({ maxLength: 8 }))),
      metadata: sane(fc.dictionary(fc.string({ maxLength: 4 }), anyValue, { maxKeys: 2 })),
    },
    { requiredKeys: [] },
  ),
  release: fc.record({ claim_token: sane(fc.oneof(fc.constant("TOKEN"), fc.string({ maxLength: 8 }))), reason: sane(fc.option(garbageText)) }, { requiredKeys: [] }),
};

/** A body as sent: the structure as JSON, or something that is not a JSON object at all. */
const raw = (structure: fc.Arbitrary<unknown>): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 6, arbitrary: structure.map((v) => JSON.stringify(v) ?? "") },
    { weight: 1, arbitrary: anyValue.map((v) => JSON.stringify(v) ?? "") },
    { weight: 1, arbitrary: garbageText },
    { weight: 1, arbitrary: fc.constantFrom("", "{", "[]", "null", '{"a":1}{', '{"__proto__": {"body": "x"}}', '{"body": "\\ud800"}', " \n") },
  );
const query = fc.oneof(fc.constantFrom("0", "0.05", "-1", "abc", "1e309", "", "%", "0x1", "0.2"), fc.nat(3).map(String));
return fc.oneof(
  raw(bodies.create).map((body) => ({ method: "POST" as const, route: "POST /tasks", path: "/tasks", body })),
  fc.tuple(idArb, raw(bodies.claim)).map(([id, body]) => ({ method: "POST" as const, route: "POST claim", path: `/tasks/${id}/claim`, body })),
  fc.tuple(idArb, raw(bodies.events)).map(([id, body]) => ({ method: "POST" as const, route: "POST events", path: `/tasks/${id}/events`, body })),
  fc.tuple(idArb, raw(bodies.response)).map(([id, body]) => ({ method: "POST" as const, route: "POST response", path: `/tasks/${id}/response`, body })),
  fc.tuple(idArb, raw(bodies.release)).map(([id, body]) => ({ method: "POST" as const, route: "POST release", path: `/tasks/${id}/release`, body })),
  idArb.map((id) => ({ method: "GET" as const, route: "GET task", path: `/tasks/${id}` })),
  fc.tuple(idArb, query).map(([id, q]) => ({ method: "GET" as const, route: "GET response", path: `/tasks/${id}/response?wait_seconds=${q}` })),
  fc.tuple(fc.constantFrom("default", "other", "", "%", "x%20y"), query).map(([lane, q]) => ({ method: "GET" as const, route: "GET next", path: `/tasks/next?lane=${lane}&wait_seconds=${q}` })),
  fc.tuple(fc.constantFrom("GET", "POST") as fc.Arbitrary<"GET" | "POST">, fc.constantFrom("/", "/tasks/", "//tasks", "/tasks/x/y/z", "/tasks/x/claim/", "/nope", "/tasks?x=1", "/%", "/tasks/%ZZ/claim")).map(([method, p]) => ({ method, route: "other", path: p })),
);
}

interface Call {
  method: "GET" | "POST";
  route: string;
  path: string;
  body?: string;
}

/** Placeholders to real ids and the live claim token. */
function concrete(c: Call): Call {
  const out = { ...c, path: c.path.replace(/seed-(\d)/, (_m, n: string) => ids[Number(n)] as string) };
  if (out.body) out.body = out.body.replace(/"TOKEN"/g, JSON.stringify(token));
  return out;
}

function inside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

describe("fuzz: HTTP bodies", () => {
  it("any request: 2xx with the documented shape or 4xx with {error}; never 500; the queue stays valid", async () => {
    const statuses: Record<string, number> = {};
    const property = fc.asyncProperty(requests(), async (generated) => {
      const c = concrete(generated);
      const response = await fetch(`${base}${c.path}`, {
        method: c.method,
        headers: { "content-type": "application/json" },
        ...(c.method === "POST" ? { body: c.body ?? "" } : {}),
      });
      const text = await response.text();
      const shown = `${c.method} ${c.path} ${c.body ?? ""}\n-> ${response.status} ${text.slice(0, 500)}`;
      const key = `${c.route} ${response.status}`;
      statuses[key] = (statuses[key] ?? 0) + 1;
      expect(response.status, shown).toBeLessThan(500);
      let payload: Record<string, unknown>;
      try {
        payload = JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw new Error(`not JSON: ${shown}`);
      }
      if (response.status >= 400) {
        expect(typeof payload.error, shown).toBe("string");
        expect((payload.error as string).trim(), shown).not.toBe("");
        expect(payload.error, shown).not.toMatch(/^\s+at\s/m);
      } else if (c.route === "POST /tasks") {
        expect(response.status, shown).toBe(201);
        const task = payload.task as Task;
        for (const p of [task.request_path, task.response_path, ...task.supporting_paths.map((s) => s.path)]) {
          expect(inside(task.workspace_root, p), `${p} inside ${task.workspace_root}: ${shown}`).toBe(true);
        }
      } else if (c.route === "POST response" || c.route === "GET response") {
        expect(typeof (payload.response as { body?: unknown })?.body, shown).toBe("string");
      } else if (c.route === "POST events") {
        expect(payload, shown).toEqual({ ok: true });
      } else if (c.route === "GET next") {
        expect(payload.task === null || typeof (payload.task as Task).id === "string", shown).toBe(true);
      } else if (c.route !== "other") {
        expect(typeof (payload.task as Task)?.id, shown).toBe("string");
      }
      if (c.route === "POST claim" && response.status === 200) token = (payload.task as Task).claim_token as string;
    });
    await figures.check("HTTP requests", property, { numRuns: runs(400) });
    figures.note(`HTTP requests: ${Object.entries(statuses).sort().map(([k, n]) => `${k}: ${n}`).join(", ")}`);
    await figures.guard(async () => {
      expect(unexpected, "no request was logged as an unexpected failure").toEqual([]);

      const audit = await auditQueue(queue, { pythonStyle: true });
      expect(audit.problems).toEqual([]);
      const tasks = await store.list();
      expect(store.problems()).toEqual([]);
      for (const task of tasks) {
        for (const p of [task.request_path, task.response_path]) expect(inside(task.workspace_root, p)).toBe(true);
      }
      figures.note(`HTTP requests: the queue held ${tasks.length} tasks afterwards, ${audit.filesChecked} files audited`);
    });
  }, 120_000);
});
