// Fuzz: what the CLI and the HTTP API pass to the store (task ids, create,
// claim, renew, release and respond inputs of any type) either succeeds with
// well-typed files inside the queue, or fails with a StoreError — never
// another exception, never a path outside workspace_root, never a half-made task.

import { mkdir, mkdtemp, readFile, readdir, realpath, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  InvalidTaskIdError,
  StoreError,
  VERDICTS,
  isValidTaskId,
  openStore,
  parseIso,
  type CreateTaskInput,
  type Store,
  type Task,
} from "../../src/store/index.js";
import { anyValue, garbageText, hostilePath } from "./support/arbitraries.js";
import { createFigures, runs } from "./support/figures.js";
import { snapshotTree, treeDiff } from "./support/tree.js";

const figures = createFigures("fuzz-store-inputs");

let tmp: string;
let ws: string;
let outside: string;
let queue: string;
let store: Store;
let n = 0;

beforeAll(async () => {
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), "al-fuzz-store-")));
  ws = path.join(tmp, "ws");
  outside = path.join(tmp, "outside");
  queue = path.join(ws, "handoff", "state");
  await mkdir(path.join(ws, "sub"), { recursive: true });
  await mkdir(outside, { recursive: true });
  await writeFile(path.join(ws, "req.md"), "request\n");
  await writeFile(path.join(ws, "sub", "req.md"), "sub request\n");
  await writeFile(path.join(outside, "req.md"), "outside request\n");
  await writeFile(path.join(outside, "secret.md"), "secret\n");
  await symlink(outside, path.join(ws, "link-out"));
  await symlink(path.join(ws, "sub"), path.join(ws, "link-in"));
  await symlink("loop", path.join(ws, "loop"));
  store = openStore(queue);
  await store.list(); // the queue folder and its lock exist from here on
});

afterAll(async () => {
  figures.write();
  await store.close();
  await rm(tmp, { recursive: true, force: true });
});

async function settle<T>(promise: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise() };
  } catch (error) {
    return { ok: false, error };
  }
}

function expectStoreError(error: unknown, what: string): asserts error is StoreError {
  if (!(error instanceof StoreError)) throw new Error(`${what}: expected a StoreError, got ${String((error as Error)?.stack ?? error)}`);
  expect(error.message.trim()).not.toBe("");
}

function inside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === "" || (!rel.startsWith(`..${path.sep}`) && rel !== ".." && !path.isAbsolute(rel));
}

/** The real path of `p`, resolving the longest existing prefix. */
async function realResolve(p: string): Promise<string> {
  const rest: string[] = [];
  let current = p;
  for (;;) {
    try {
      return path.join(await realpath(current), ...rest.reverse());
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return p;
      rest.push(path.basename(current));
      current = parent;
    }
  }
}

// No tasks folder yet (reads never create one) means no tasks.
const taskIds = () =>
  readdir(path.join(queue, "tasks")).then(
    (ids) => ids.sort(),
    (error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? [] : Promise.reject(error)),
  );
const skipLock = (rel: string) => rel === path.join("ws", "handoff", "state", "lock");

async function freshTask(): Promise<Task> {
  n += 1;
  return store.create({
    workspace_id: "ws",
    correlation_id: `fresh-${n}`,
    lane: "default",
    workspace_root: ws,
    request_path: path.join(ws, "req.md"),
    response_path: `out/r${n}.md`,
    metadata: { parent_task_id: null },
  });
}

const idLike = fc.oneof(
  garbageText,
  hostilePath({ inside: "tasks", outside: "/tmp" }),
  anyValue,
  fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,30}$/),
  fc.constantFrom("..", ".", "a..b", "../tasks", "tasks/../../x", "x/y", "", " ", "-x", ".hidden", "a\nb"),
);

describe("fuzz: store inputs", () => {
  it("any task id: a StoreError (invalid_task_id for a malformed one), nothing written anywhere", async () => {
    // waitForResponse starts a file watcher; keep it off the store the other
    // properties use (a watching process pays for every new task folder).
    const waiter = openStore(queue);
    const ops = ["get", "claim", "renew", "release", "respond", "appendEvent", "readEvents", "getResponse", "waitForResponse"] as const;
    const property = fc.asyncProperty(idLike, fc.constantFrom(...ops), async (id, op) => {
      const before = await snapshotTree(tmp, skipLock);
      const anyId = id as string;
      const call: Record<(typeof ops)[number], () => Promise<unknown>> = {
        get: () => store.get(anyId),
        claim: () => store.claim(anyId, { owner: "o" }),
        renew: () => store.renew(anyId, { claimToken: "t" }),
        release: () => store.release(anyId, { claimToken: "t" }),
        respond: () => store.respond(anyId, { body: "b" }),
        appendEvent: () => store.appendEvent(anyId, { type: "note" }),
        readEvents: () => store.readEvents(anyId),
        getResponse: () => store.getResponse(anyId),
        waitForResponse: () => waiter.waitForResponse(anyId, { timeoutMs: 0 }),
      };
      const result = await settle(call[op]);
      if (!isValidTaskId(id)) {
        expect(result.ok).toBe(false);
        if (!result.ok) {
          expect(result.error).toBeInstanceOf(InvalidTaskIdError);
          expect((result.error as Error).message).toContain("invalid task_id");
        }
      } else if (result.ok) {
        // Only the plain reads may answer for an unknown task: nothing to report.
        expect(["readEvents", "getResponse"]).toContain(op);
        expect(result.value === null || (Array.isArray(result.value) && result.value.length === 0)).toBe(true);
      } else {
        expectStoreError(result.error, op);
        expect((result.error as StoreError).code).toBe("unknown_task");
      }
      expect(treeDiff(before, await snapshotTree(tmp, skipLock))).toEqual([]);
    });
    try {
      await figures.check("task ids", property, { numRuns: runs(400) });
    } finally {
      await waiter.close();
    }
  });

  it("any create input: a task whose paths all lie inside workspace_root, or a StoreError and no task", async () => {
    const where = { inside: ws, outside };
    // Mostly sane values, so that most cases get past validation and the
    // confinement and file checks below really run; the rest anything at all.
    const mostly = <T>(sane: fc.Arbitrary<T>, odd: fc.Arbitrary<unknown>) => fc.oneof({ weight: 12, arbitrary: sane }, { weight: 1, arbitrary: odd });
    const name = mostly(
      fc.oneof(
        { weight: 8, arbitrary: fc.string({ minLength: 1, maxLength: 12 }).filter((t) => t.trim() !== "") },
        { weight: 1, arbitrary: fc.constantFrom("..", "a..b", "...", "x".repeat(240), "é/..", " x ") },
      ),
      fc.oneof(anyValue, fc.constantFrom("", " ")),
    );
    const input = fc.record(
      {
        workspace_id: name,
        correlation_id: name,
        lane: name,
        workspace_root: mostly(fc.constantFrom(ws, path.join(ws, "link-in"), path.join(ws, "sub"), `${ws}/`), fc.oneof(hostilePath(where), anyValue)),
        request_path: mostly(fc.constantFrom("req.md", path.join(ws, "req.md"), "sub/req.md", "link-in/req.md"), fc.oneof(hostilePath(where), anyValue)),
        response_path: mostly(
          fc.oneof(fc.constantFrom("out.md", "sub/out.md", "new/dir/out.md", "handoff/state/lock", "handoff/state/tasks/x/task.json", "handoff/x.md"), hostilePath(where)),
          anyValue,
        ),
        supporting_paths: mostly(
          fc.array(
            fc.oneof(
              { weight: 6, arbitrary: fc.constantFrom("req.md", "sub/req.md", "link-in/req.md", { path: "req.md" }) },
              { weight: 1, arbitrary: hostilePath(where) },
              { weight: 1, arbitrary: fc.record({ path: fc.oneof(hostilePath(where), anyValue) }) },
            ),
            { maxLength: 3 },
          ),
          anyValue,
        ),
        metadata: mostly(fc.dictionary(fc.string({ maxLength: 8 }), anyValue), fc.oneof(fc.record({ parent_task_id: idLike }), anyValue)),
        source_agent: mostly(fc.string({ maxLength: 8 }), anyValue),
        // worktree_path must lie inside workspace_root (issue 11): mostly inside, so most cases still get past validation.
        worktree_path: mostly(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(ws, path.join(ws, "sub"), path.join(ws, "link-in")) }, { weight: 1, arbitrary: hostilePath(where) }), anyValue),
        expected_branch: mostly(fc.string({ maxLength: 8 }), anyValue),
        prompt: mostly(garbageText, anyValue),
      },
      { requiredKeys: ["workspace_id", "correlation_id", "lane", "workspace_root", "request_path", "response_path"] },
    );
    let created = 0;
    const refusals = new Map<string, number>();
    const property = fc.asyncProperty(input, async (raw) => {
      const idsBefore = await taskIds();
      const outsideBefore = await snapshotTree(outside);
      const result = await settle(() => store.create(raw as unknown as CreateTaskInput));
      expect(await snapshotTree(outside), "nothing is written outside the workspace").toEqual(outsideBefore);
      if (!result.ok) {
        expectStoreError(result.error, "create");
        const reason = result.error.message.replace(/[:(].*$/s, "").trim();
        refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
        expect(await taskIds(), "a failed create leaves no task behind").toEqual(idsBefore);
        return;
      }
      const task = result.value;
      created += 1;
      expect(await taskIds()).toEqual([...idsBefore, task.id].sort());
      expect(isValidTaskId(task.id)).toBe(true);
      const root = await realpath(task.workspace_root);
      for (const p of [task.request_path, task.response_path, ...task.supporting_paths.map((s) => s.path), ...(task.worktree_path ? [task.worktree_path] : [])]) {
        expect(inside(root, p), `${p} inside ${root}`).toBe(true);
        expect(inside(root, await realResolve(p)), `${p} resolves inside ${root}`).toBe(true);
      }
      // `wait` writes the answer to response_path: never over the queue's own files.
      expect(inside(queue, await realResolve(task.response_path)), `${task.response_path} is outside the queue`).toBe(false);
      // What was written reads back as the same task, with the protocol's field types.
      const onDisk = JSON.parse(await readFile(path.join(queue, "tasks", task.id, "task.json"), "utf8")) as Task;
      expect(await store.get(task.id)).toEqual(onDisk);
      for (const key of ["workspace_id", "correlation_id", "lane", "source_agent", "request_sha256"] as const) expect(typeof onDisk[key]).toBe("string");
      for (const key of ["worktree_path", "expected_branch", "prompt"] as const) expect(onDisk[key] === null || typeof onDisk[key] === "string", key).toBe(true);
      expect(typeof onDisk.metadata === "object" && !Array.isArray(onDisk.metadata)).toBe(true);
    });
    await figures.check("create input", property, { numRuns: runs(300) });
    const top = [...refusals].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([m, k]) => `${k}x ${m}`);
    figures.note(`create input: ${created} cases created a task; refusals (top 5): ${top.join("; ")}`);
    expect(created, "the generator reaches past validation").toBeGreaterThan(runs(300) / 30);
  });

  it("any claim, renew and release input: a StoreError or a well-formed lease", async () => {
    const lease = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(1e20, 8.64e12, Number.MAX_VALUE, 0, -1, 1e-9), anyValue);
    const property = fc.asyncProperty(
      fc.record({ owner: fc.oneof(fc.string({ maxLength: 8 }), anyValue), leaseSeconds: fc.option(lease) }),
      fc.record({ leaseSeconds: fc.option(lease), token: fc.oneof(fc.constant("right"), anyValue) }),
      fc.oneof(fc.constant(null), anyValue),
      async (claimInput, renewInput, reason) => {
        const task = await freshTask();
        const claim = await settle(() => store.claim(task.id, { owner: claimInput.owner as string, leaseSeconds: (claimInput.leaseSeconds ?? undefined) as number }));
        if (!claim.ok) {
          expectStoreError(claim.error, "claim");
          expect((await store.get(task.id)).state).toBe("queued");
          return;
        }
        const claimed = claim.value;
        expect(typeof claimed.claim_owner).toBe("string");
        expect(parseIso(claimed.lease_expires_at), `lease_expires_at ${claimed.lease_expires_at}`).not.toBeNull();
        const token = renewInput.token === "right" ? claimed.claim_token : renewInput.token;
        const renew = await settle(() => store.renew(task.id, { claimToken: token as string, leaseSeconds: (renewInput.leaseSeconds ?? undefined) as number }));
        if (renew.ok) expect(parseIso(renew.value.lease_expires_at)).not.toBeNull();
        else expectStoreError(renew.error, "renew");
        const release = await settle(() => store.release(task.id, { claimToken: claimed.claim_token as string, reason: reason as string }));
        if (!release.ok) expectStoreError(release.error, "release");
        const events = await store.readEvents(task.id);
        for (const event of events) expect(typeof event.message).toBe("string");
      },
    );
    await figures.check("claim/renew/release input", property, { numRuns: runs(150) });
  });

  it("any respond input: a StoreError, or a response.json with the protocol's field types", async () => {
    const property = fc.asyncProperty(
      fc.boolean(),
      fc.record(
        {
          body: fc.oneof({ weight: 3, arbitrary: garbageText }, { weight: 1, arbitrary: anyValue }),
          reviewer: fc.oneof(fc.string({ maxLength: 8 }), anyValue),
          status: fc.oneof(fc.constantFrom("completed", "failed"), anyValue),
          followUpRequired: fc.oneof(fc.boolean(), anyValue),
          verdict: fc.oneof(fc.constantFrom(null, ...VERDICTS), anyValue),
          blockingCount: fc.oneof(fc.nat(5), anyValue),
          nonblockingCount: fc.oneof(fc.nat(5), anyValue),
          expectSha256: fc.oneof(fc.constant("right"), anyValue),
          metadata: fc.oneof(fc.dictionary(fc.string({ maxLength: 6 }), anyValue), anyValue),
          claimToken: fc.oneof(fc.constant("right"), anyValue),
        },
        { requiredKeys: [] },
      ),
      async (claimFirst, raw) => {
        const task = await freshTask();
        const claimed = claimFirst ? await store.claim(task.id, { owner: "fuzzer", leaseSeconds: 600 }) : task;
        const input = {
          ...raw,
          claimToken: raw.claimToken === "right" ? claimed.claim_token : raw.claimToken,
          expectSha256: raw.expectSha256 === "right" ? task.request_sha256 : raw.expectSha256,
        };
        const result = await settle(() => store.respond(task.id, input as never));
        const responseFile = path.join(queue, "tasks", task.id, "response.json");
        if (!result.ok) {
          expectStoreError(result.error, "respond");
          expect((await store.get(task.id)).state).toBe(claimed.state);
          expect(await store.getResponse(task.id)).toBeNull();
          return;
        }
        const response = JSON.parse(await readFile(responseFile, "utf8")) as Record<string, unknown>;
        expect(["completed", "failed"]).toContain(response.status);
        expect(typeof response.body).toBe("string");
        expect(typeof response.reviewer, "reviewer").toBe("string");
        expect(typeof response.follow_up_required, "follow_up_required").toBe("boolean");
        expect([null, ...VERDICTS]).toContain(response.verdict);
        for (const key of ["blocking_count", "nonblocking_count"]) expect(Number.isInteger(response[key]) && (response[key] as number) >= 0).toBe(true);
        expect(typeof response.metadata === "object" && response.metadata !== null && !Array.isArray(response.metadata)).toBe(true);
        expect((await store.get(task.id)).state).toBe(response.status);
      },
    );
    await figures.check("respond input", property, { numRuns: runs(150) });
  });
});
