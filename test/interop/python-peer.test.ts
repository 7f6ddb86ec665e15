// Mixed implementations on one queue: a Python peer (fcntl.flock, the Python
// file layout, its own claims and answers) works the queue at the same time
// as our store (a Node peer process), our CLI (next/claim/respond) and our
// supervisor (`agent-lanes dispatch`). Afterwards no task was claimed twice,
// nothing was torn, every file is in Python's exact JSON style, and every
// task was answered once, by whoever claimed it, with its own body.

import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type Store } from "../../src/store/index.js";
import { auditQueue, claimOwners, overlappingClaims, livePids } from "../chaos/support/audit.js";
import { CLI, requireBuild, run, sleep, start, stop, until, type Running } from "../chaos/support/processes.js";
import { createFigures, FUZZ_SEED } from "../fuzz/support/figures.js";
import { pythonToolPath } from "./python-tool.js";

const figures = createFigures("interop");
const hasPython = spawnSync("python3", ["-c", "import yaml"]).status === 0;
/** The real Python tool: the peer writes through its HandoffStore. */
const TOOL = pythonToolPath();
const PEER = path.resolve(__dirname, "../fixtures/interop/python_peer.py");
const NODE_PEER = path.resolve(__dirname, "../fixtures/interop/node_peer.mjs");
const AGENT = path.resolve(__dirname, "../fixtures/chaos/agent.mjs");
const PER_PEER = 40;

let tmp: string;
beforeAll(async () => {
  requireBuild();
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), "al-interop-")));
});
afterAll(async () => {
  figures.write();
  await rm(tmp, { recursive: true, force: true });
});

/** Our CLI as a claimer: next -> claim -> respond, until told to stop. */
async function cliClaimer(queue: string, shouldStop: () => boolean): Promise<{ claimed: string[]; refused: number; errors: string[] }> {
  const out = { claimed: [] as string[], refused: 0, errors: [] as string[] };
  const cli = (...args: string[]) => run(process.execPath, [CLI, "--store", queue, ...args]);
  while (!shouldStop()) {
    const next = await cli("next", "--lane", "default", "--timeout", "0", "--json");
    const payload = next.code === 0 ? (JSON.parse(next.stdout) as { status: string; task?: { id: string; prompt: string | null } }) : null;
    if (payload?.status === "task_available" && payload.task) {
      const task = payload.task;
      const claim = await cli("claim", task.id, "--owner", "cli", "--lease-seconds", "600", "--json");
      if (claim.code === 0) {
        const { claim_token: token } = JSON.parse(claim.stdout) as { claim_token: string };
        const marker = /MARKER:(\S+)/.exec(task.prompt ?? "")?.[1] ?? "none";
        const respond = await cli("respond", task.id, "--claim-token", token, "--body", `done ${marker} by cli`, "--reviewer", "cli", "--json");
        if (respond.code === 0) out.claimed.push(task.id);
        else out.errors.push(`respond ${task.id}: ${respond.stderr.trim()}`);
      } else if (/active lease held|task is completed/.test(claim.stderr)) {
        out.refused += 1; // another claimer won between our next and our claim
      } else {
        out.errors.push(`claim ${task.id}: ${claim.stderr.trim()}`);
      }
    } else if (next.code !== 0) {
      out.errors.push(`next: ${next.stderr.trim()}`);
    }
    await sleep(50);
  }
  return out;
}

interface PeerReport {
  created: string[];
  claimed: string[];
  responded: string[];
  lost_claims: unknown[];
  torn_reads: unknown[];
  style_mismatches?: string[];
  lock_turns?: number;
  unlocked_reads: number;
}

describe.runIf(hasPython)("interop: the real Python tool, our store, CLI and supervisor on one queue", () => {
  it("the Python peer is the real Python tool (agent_lanes 0.1.1 from shared/)", () => {
    expect(TOOL, "put the Python package in ../shared/agent-lanes-py or set AGENT_LANES_PY").not.toBeNull();
  });

  it("nothing is claimed twice, nothing is torn, every task is answered once with its own body", () => figures.guard(async () => {
    const ws = path.join(tmp, "ws");
    const queue = path.join(ws, "handoff", "state");
    const pidDir = path.join(tmp, "pids");
    const stopFile = path.join(tmp, "stop");
    await mkdir(pidDir, { recursive: true });
    await mkdir(ws, { recursive: true });
    const store: Store = openStore(queue);
    await store.list(); // queue folder and lock exist before the peers open them

    const processes: Running[] = [];
    try {
      const supervisor = start(
        process.execPath,
        [CLI, "--store", queue, "dispatch", "--vendor", "command", "--command", `${process.execPath} ${AGENT}`, "--concurrency", "2",
          "--lease-seconds", "30", "--poll-seconds", "1", "--log-format", "json"],
        { env: { ...process.env, CHAOS_PID_DIR: pidDir, CHAOS_MAX_MS: "100", CHAOS_GRANDCHILD_PERCENT: "20" } },
      );
      const python = start("python3", [PEER, "--queue", queue, "--workspace", ws, "--create", String(PER_PEER), "--claim",
        "--stop-file", stopFile, "--seed", String(FUZZ_SEED), "--max-seconds", "90", "--owner", "python-peer", "--max-gap-ms", "80",
        ...(TOOL ? ["--tool", TOOL] : [])]);
      const nodePeer = start(process.execPath, [NODE_PEER, queue, ws, "default", "node-peer", String(PER_PEER), stopFile, "90", "80"]);
      processes.push(supervisor, python, nodePeer);
      let stopCli = false;
      // Two CLI loops: each command is a process start, so one loop alone rarely wins a task.
      const clis = [cliClaimer(queue, () => stopCli), cliClaimer(queue, () => stopCli)];

      const settled = await until(async () => {
        const tasks = await store.list();
        return tasks.length === 2 * PER_PEER && tasks.every((t) => t.state === "completed" || t.state === "failed");
      }, 60_000, 300);
      await writeFile(stopFile, "");
      stopCli = true;
      const cliResults = await Promise.all(clis);
      const cliResult = {
        claimed: cliResults.flatMap((r) => r.claimed),
        refused: cliResults.reduce((n, r) => n + r.refused, 0),
        errors: cliResults.flatMap((r) => r.errors),
      };
      const ends = await Promise.all([python.exited, nodePeer.exited]);
      await stop(supervisor, "SIGTERM");
      expect(settled, `all ${2 * PER_PEER} tasks answered in time; supervisor stderr: ${supervisor.stderr().slice(-2000)}`).toBe(true);
      expect(ends.map((e) => e.code), `peers: ${python.stderr()} ${nodePeer.stderr()}`).toEqual([0, 0]);

      const py = JSON.parse(python.stdout()) as PeerReport;
      const nd = JSON.parse(nodePeer.stdout()) as PeerReport;
      // Nothing torn, nothing lost, our files byte-identical to Python's style, as Python reads them.
      expect(py.torn_reads).toEqual([]);
      expect(nd.torn_reads).toEqual([]);
      expect(py.style_mismatches).toEqual([]);
      expect(py.lost_claims).toEqual([]);
      expect(nd.lost_claims).toEqual([]);
      expect(cliResult.errors).toEqual([]);

      const audit = await auditQueue(queue, { pythonStyle: true });
      expect(audit.problems).toEqual([]);
      expect(audit.tasks).toHaveLength(2 * PER_PEER);
      const createdBy = new Map<string, string>([...py.created.map((id) => [id, "python"] as const), ...nd.created.map((id) => [id, "node"] as const)]);
      const claimers = new Map<string, string>();
      for (const task of audit.tasks) {
        expect(task.state, task.id).toBe("completed");
        expect(overlappingClaims(task), `${task.id} claimed while claimed`).toBe(0);
        const owners = claimOwners(task);
        expect(owners, task.id).toHaveLength(1);
        expect(task.events.filter((e) => e.type === "response"), task.id).toHaveLength(1);
        expect(task.response?.body, task.id).toContain(`done ${task.marker} `);
        claimers.set(task.id, owners[0] as string);
      }
      // Each claimer's own record agrees with the events: one claimer per task.
      for (const [who, ids] of [["python-peer", py.claimed], ["node-peer", nd.claimed], ["cli", cliResult.claimed]] as const) {
        for (const id of ids) expect(claimers.get(id), `${id} claimed by ${who}`).toBe(who);
      }
      const bySupervisor = [...claimers.values()].filter((o) => o.startsWith("command@")).length;
      // The run really mixed implementations (else it proved nothing).
      expect(py.claimed.some((id) => createdBy.get(id) === "node"), "python answered a task our store created").toBe(true);
      expect([...claimers].some(([id, o]) => o !== "python-peer" && createdBy.get(id) === "python"), "we answered a task python created").toBe(true);
      expect(bySupervisor, "the supervisor took part").toBeGreaterThan(0);
      expect(cliResult.claimed.length + cliResult.refused, "the CLI raced for tasks (won some or was refused by the lock)").toBeGreaterThan(0);
      expect(await livePids(pidDir), "no agent outlives the run").toEqual([]);

      figures.add({ tasks: audit.tasks.length, cases: audit.filesChecked });
      figures.note(
        `interop: ${audit.tasks.length} tasks (${py.created.length} written by python, ${nd.created.length} by our store); claimed by ` +
          `python ${py.claimed.length}, node store ${nd.claimed.length}, CLI ${cliResult.claimed.length} (refused ${cliResult.refused}), supervisor ${bySupervisor}; ` +
          `python lock turns ${py.lock_turns}, unlocked reads ${py.unlocked_reads + nd.unlocked_reads}, files audited ${audit.filesChecked}`,
      );
    } finally {
      await writeFile(stopFile, "").catch(() => undefined);
      for (const p of processes) await stop(p, "SIGKILL");
      await store.close();
    }
  }), 120_000);
});
