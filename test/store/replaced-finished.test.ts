// Regression (found by test/fuzz/queue-files with seed 354016838): the scanner
// keeps only the ids of finished tasks and never looked at their files again,
// so a long-lived store (a dispatcher, the server behind the dashboard) whose
// finished task's folder was replaced — restored from a backup, made again
// under the same name, task.json edited back to queued — kept treating it as
// the old finished task: a corrupt replacement was neither listed nor reported,
// and a queued one was never offered to run.

import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { toJsonFile, type Task } from "../../src/store/index.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await makeWorkspace();
});
afterEach(async () => {
  await ws.cleanup();
});

/** A task answered through the store, then learnt as finished by a listing. */
async function finishedTask(): Promise<Task> {
  const task = await ws.submit({ correlation_id: "done-once" });
  const claimed = await ws.store.claim(task.id, { owner: "t", leaseSeconds: 60 });
  await ws.store.respond(task.id, { body: "ok", claimToken: claimed.claim_token });
  const listed = await ws.store.list();
  expect(listed.find((t) => t.id === task.id)?.state).toBe("completed");
  return (await ws.store.get(task.id)) as Task;
}

/** Remove the folder and make it again with `taskJson` (what a restore or a hand edit does). */
async function replaceFolder(id: string, taskJson: string): Promise<void> {
  const dir = path.join(ws.queue, "tasks", id);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "task.json"), taskJson);
}

describe("a finished task whose folder is replaced", () => {
  it("by a corrupt task.json: the next listing reports it and does not list it", async () => {
    const done = await finishedTask();
    await replaceFolder(done.id, toJsonFile({ ...done, id: "another-id", state: "queued" }));
    const listed = await ws.store.list();
    expect(listed.map((t) => t.id)).not.toContain(done.id);
    const problem = ws.store.problems().find((p) => p.taskId === done.id);
    expect(problem?.file).toBe(path.join(ws.queue, "tasks", done.id, "task.json"));
  });

  it("by a queued task.json: the next listing shows it queued and it is offered to run", async () => {
    const done = await finishedTask();
    const requeued = { ...done, state: "queued", claim_owner: null, claim_token: null, claimed_at: null, lease_expires_at: null, completed_at: null };
    await replaceFolder(done.id, toJsonFile(requeued));
    expect((await ws.store.list()).find((t) => t.id === done.id)?.state).toBe("queued");
    expect((await ws.store.available()).map((t) => t.id)).toContain(done.id);
    expect((await ws.store.next("default"))?.id).toBe(done.id);
    expect(ws.store.problems()).toEqual([]);
  });

  it("with the change notifier running, the event on its name alone makes the scanner read it again", async () => {
    const done = await finishedTask();
    const notifier = await ws.store.changes();
    await ws.store.list();
    const requeued = { ...done, state: "queued", claim_owner: null, claim_token: null, claimed_at: null, lease_expires_at: null, completed_at: null };
    const since = notifier.generation;
    await replaceFolder(done.id, toJsonFile(requeued));
    await notifier.wait(5000, since);
    // available() lists no finished task: only the event names can bring it back.
    await expect.poll(async () => (await ws.store.available()).map((t) => t.id), { timeout: 5000 }).toContain(done.id);
  });
});
