// Chaos: supervisors are SIGKILLed at random moments — right after a claim,
// while the agent (and maybe its grandchild) runs, while the response is being
// written, or any time — and restarted, over 100 tasks and 20+ kills. After
// the queue drains: every task was answered exactly once (or failed after its
// attempts) with its own body, every file parses, and no process of a killed
// supervisor is alive. Then the same with two supervisors competing.

import { mkdtemp, realpath, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditQueue, livePids } from "./support/audit.js";
import { runChaos, type ChaosResult } from "./support/chaos.js";
import { requireBuild } from "./support/processes.js";
import { createFigures, FUZZ_SEED } from "../fuzz/support/figures.js";

const figures = createFigures("chaos");
const TASKS = 100;
const KILLS = 20;

let tmp: string;
beforeAll(async () => {
  requireBuild();
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), "al-chaos-")));
});
afterAll(async () => {
  figures.write();
  await rm(tmp, { recursive: true, force: true });
});

async function expectEverythingAnsweredOnce(label: string, result: ChaosResult): Promise<void> {
  expect(result.crashes, "no supervisor died on its own").toEqual([]);
  expect(result.drained, "the queue drained after the last kill").toBe(true);
  expect(result.kills.length).toBeGreaterThanOrEqual(KILLS);
  for (const kill of result.kills) expect(kill.survivors, `processes of ${kill.supervisor} killed ${kill.moment}`).toEqual([]);
  expect(await livePids(result.pidRoot), "no agent, grandchild or run guard left at the end").toEqual([]);

  const audit = await auditQueue(result.queue);
  expect(audit.problems, "every task.json, response.json, index and event line parses").toEqual([]);
  expect(audit.tasks).toHaveLength(TASKS);
  let failed = 0;
  let leftoverTemps = 0;
  for (const task of audit.tasks) {
    leftoverTemps += task.leftoverTemps.length;
    const responses = task.events.filter((e) => e.type === "response").length;
    // A kill between response.json and its event can lose the event, never add a second answer.
    expect(responses, `${task.id}: response events`).toBeLessThanOrEqual(1);
    expect(task.response, `${task.id} has a response.json`).not.toBeNull();
    expect(task.response?.status).toBe(task.state);
    if (task.state === "completed") {
      expect(task.response?.body, `${task.id} got its own answer`).toContain(`done ${task.marker} `);
    } else {
      expect(task.state, task.id).toBe("failed");
      failed += 1;
    }
  }
  const moments = result.kills.reduce<Record<string, number>>((acc, k) => ({ ...acc, [`${k.moment}${k.triggered ? "" : " (fallback)"}`]: (acc[`${k.moment}${k.triggered ? "" : " (fallback)"}`] ?? 0) + 1 }), {});
  figures.add({ tasks: audit.tasks.length, kills: result.kills.length, cases: audit.filesChecked });
  figures.note(
    `${label}: ${audit.tasks.length} tasks, ${result.kills.length} SIGKILLs (${Object.entries(moments).map(([m, n]) => `${n} ${m}`).join(", ")}), ` +
      `${result.restarts} restarts, ${audit.tasks.length - failed} completed once, ${failed} failed after their attempts, ` +
      `${audit.filesChecked} files audited, ${leftoverTemps} temp files left by killed writers, 0 survivors; ` +
      `kill phase ${(result.killPhaseMs / 1000).toFixed(1)} s, drain ${(result.drainMs / 1000).toFixed(1)} s`,
  );
}

describe("chaos: supervisors killed with SIGKILL and restarted", () => {
  it("one supervisor, 100 tasks, 20 kills: every task answered exactly once, no orphaned process", async () => {
    await figures.guard(async () => {
      const result = await runChaos({ root: path.join(tmp, "one"), tasks: TASKS, kills: KILLS, supervisors: 1, seed: FUZZ_SEED, concurrency: 3 });
      await expectEverythingAnsweredOnce("one supervisor", result);
    });
  }, 120_000);

  it("two supervisors competing on one queue, 100 tasks, 20 kills: the same", async () => {
    await figures.guard(async () => {
      const result = await runChaos({ root: path.join(tmp, "two"), tasks: TASKS, kills: KILLS, supervisors: 2, seed: FUZZ_SEED + 1, concurrency: 2 });
      await expectEverythingAnsweredOnce("two supervisors", result);
    });
  }, 120_000);
});
