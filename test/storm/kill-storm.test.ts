// The kill storm: a real `agent-lanes dispatch` is SIGKILLed 20 times at
// seeded random moments — right after a claim, around the spawn of the agent
// (guard and handshake), while the agent runs, while the response is written,
// any time — and restarted each time. Its agents are as hostile as agents
// get: some ignore SIGTERM, some start grandchildren, some start a descendant
// that leaves the process group with setsid and would outlive the run by a
// minute. After each kill, no process of the killed supervisor's runs is
// alive 2 s later (agents, grandchildren, setsid descendants, the guards'
// watchers); after the storm, every task completed exactly once, with its own
// answer. Its own suite (npm run test:reliability, .ci/run): it takes minutes.

import { mkdtemp, realpath, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditQueue, livePids } from "../chaos/support/audit.js";
import { runChaos } from "../chaos/support/chaos.js";
import { requireBuild } from "../chaos/support/processes.js";
import { createFigures, FUZZ_SEED } from "../fuzz/support/figures.js";

const figures = createFigures("kill-storm");
const TASKS = 80;
const KILLS = 20;
/** The promise under test: a killed supervisor's runs are gone within this long. */
const SURVIVOR_DEADLINE_MS = 2000;

let tmp: string;
beforeAll(async () => {
  requireBuild();
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), "al-storm-")));
});
afterAll(async () => {
  figures.write();
  await rm(tmp, { recursive: true, force: true });
});

describe.runIf(process.platform === "linux")("kill storm: 20 SIGKILLs of the supervisor, hostile agents", () => {
  it("no process of a killed supervisor's runs is alive 2 s after its kill; every task completed exactly once", async () => {
    await figures.guard(async () => {
      const result = await runChaos({
        root: path.join(tmp, "storm"),
        tasks: TASKS,
        kills: KILLS,
        supervisors: 1,
        seed: FUZZ_SEED,
        concurrency: 4,
        agentMaxMs: 600,
        grandchildPercent: 40,
        ignoreTermPercent: 50,
        setsidPercent: 30,
        moments: ["after-claim", "mid-spawn", "child-running", "responding", "any-time"],
        survivorDeadlineMs: SURVIVOR_DEADLINE_MS,
        // 20 kills may land on one task many times; none of them is the task's fault.
        maxAttempts: KILLS + 5,
        drainTimeoutMs: 90_000,
      });
      expect(result.crashes, "no supervisor died on its own").toEqual([]);
      expect(result.drained, "the queue drained after the last kill").toBe(true);
      expect(result.kills.length).toBeGreaterThanOrEqual(KILLS);
      const survivors = result.kills.flatMap((kill) =>
        kill.survivors.map(
          (p) =>
            `${kill.supervisor} (${kill.moment}): ${p.role} ${p.pid} [${p.detail ?? ""}]` +
            (kill.before ? `; just before the kill: ${kill.before.processes.join(" | ")}; the supervisor's last log lines: ${kill.before.log}` : ""),
        ),
      );
      expect(survivors, "processes alive 2 s after their supervisor's SIGKILL").toEqual([]);
      expect(await livePids(result.pidRoot), "nothing left at the end").toEqual([]);

      const audit = await auditQueue(result.queue);
      expect(audit.problems, "every file parses").toEqual([]);
      expect(audit.tasks).toHaveLength(TASKS);
      for (const task of audit.tasks) {
        expect(task.state, `${task.id} completed`).toBe("completed");
        expect(task.response?.status, `${task.id} response`).toBe("completed");
        expect(task.response?.body, `${task.id} got its own answer`).toContain(`done ${task.marker} `);
        // A kill between response.json and its event can lose the event, never add a second answer.
        expect(task.events.filter((e) => e.type === "response").length, `${task.id}: response events`).toBeLessThanOrEqual(1);
      }
      const moments = result.kills.reduce<Record<string, number>>((acc, k) => ({ ...acc, [k.moment]: (acc[k.moment] ?? 0) + 1 }), {});
      figures.add({ tasks: audit.tasks.length, kills: result.kills.length, cases: audit.filesChecked });
      figures.note(
        `kill storm: ${audit.tasks.length} tasks, ${result.kills.length} SIGKILLs (${Object.entries(moments).map(([m, n]) => `${n} ${m}`).join(", ")}), ` +
          `agents: 50 % ignore SIGTERM, 40 % fork a grandchild, 30 % start a setsid descendant; ` +
          `${survivors.length} processes alive 2 s after a kill; every task completed once; ` +
          `kill phase ${(result.killPhaseMs / 1000).toFixed(1)} s, drain ${(result.drainMs / 1000).toFixed(1)} s`,
      );
    });
  }, 300_000);
});
