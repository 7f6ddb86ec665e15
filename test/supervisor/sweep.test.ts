// The start-up sweep: leftovers of a dead dispatcher are killed, but only
// processes of the recorded group that carry the run's marker.

import { spawn } from "node:child_process";
import { link, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dropSpareRunRecords, removeRunRecord, runRecordsDir, sweepLeftovers, writeRunRecord, type RunRecord } from "../../src/supervisor/sweep.js";
import { allGone, isAlive, killQuietly } from "./helpers.js";

let queue: string;
const pids = new Set<number>();

beforeEach(async () => {
  queue = await mkdtemp(path.join(os.tmpdir(), "sweep-"));
});
afterEach(async () => {
  killQuietly(pids);
  pids.clear();
  await rm(queue, { recursive: true, force: true });
});

/** A process leading its own group, with or without the run marker in its environment. */
function leftover(runId: string | null): number {
  const env = { ...process.env };
  if (runId) env.AGENT_LANES_RUN_ID = runId;
  const child = spawn(process.execPath, ["-e", "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { detached: true, stdio: "ignore", env });
  child.unref();
  pids.add(child.pid as number);
  return child.pid as number;
}

/** The pid of a process that has already exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid as number;
}

function record(fields: Partial<RunRecord>): RunRecord {
  return { run_id: "run-1", host: os.hostname(), supervisor_pid: 1, pgid: 1, task_id: "t", owner: "o", started_at: new Date().toISOString(), ...fields };
}

describe.runIf(process.platform === "linux")("sweepLeftovers", () => {
  it("kills the marked processes of a dead dispatcher's run and removes its record", async () => {
    const pid = leftover("run-dead");
    await writeRunRecord(queue, record({ run_id: "run-dead", supervisor_pid: await deadPid(), pgid: pid }));
    const result = await sweepLeftovers(queue);
    expect(result.killed).toEqual([pid]);
    expect(result.removed).toBe(1);
    expect(await allGone([pid], 2000)).toBe(true);
    expect(await readdir(runRecordsDir(queue))).toEqual([]);
  });

  it("also kills a marked process that left the recorded group with setsid (Linux: found by its marker)", async () => {
    const group = leftover(null);
    const escaped = leftover("run-escaped");
    await writeRunRecord(queue, record({ run_id: "run-escaped", supervisor_pid: await deadPid(), pgid: group }));
    const result = await sweepLeftovers(queue);
    expect(result.killed).toEqual([escaped]);
    expect(await allGone([escaped], 2000)).toBe(true);
    expect(isAlive(group)).toBe(true);
  });

  it("leaves a process in the group alone when it does not carry the run's marker", async () => {
    const stranger = leftover(null);
    await writeRunRecord(queue, record({ run_id: "run-x", supervisor_pid: await deadPid(), pgid: stranger }));
    const result = await sweepLeftovers(queue);
    expect(result.killed).toEqual([]);
    expect(isAlive(stranger)).toBe(true);
  });

  it("leaves the runs of a live dispatcher and of other hosts alone", async () => {
    const mine = leftover("run-live");
    const remote = leftover("run-remote");
    await writeRunRecord(queue, record({ run_id: "run-live", supervisor_pid: process.ppid, pgid: mine }));
    await writeRunRecord(queue, record({ run_id: "run-remote", host: "another-host", supervisor_pid: await deadPid(), pgid: remote }));
    const result = await sweepLeftovers(queue, { selfPid: 999_999 });
    expect(result).toMatchObject({ killed: [], removed: 0 });
    expect(isAlive(mine) && isAlive(remote)).toBe(true);
    expect((await readdir(runRecordsDir(queue))).sort()).toEqual(["run-live.json", "run-remote.json"]);
  });
});

describe("run records written into spares", () => {
  afterEach(() => dropSpareRunRecords());

  it("a record removed at a run's end becomes the file of the next record: same inode, the new content, never a half-written record", async () => {
    const first = await writeRunRecord(queue, record({ run_id: "run-a", task_id: "task-a" }));
    const inode = (await stat(first)).ino;
    await removeRunRecord(first);
    // Kept aside under a name no reader of records looks at (no .json).
    const aside = await readdir(runRecordsDir(queue));
    expect(aside).toHaveLength(1);
    expect(aside[0]).toMatch(/^\.spare-\d+-\d+$/);

    const longer = record({ run_id: "run-b", task_id: "task-bb", owner: "a longer owner than before" });
    const second = await writeRunRecord(queue, longer);
    expect((await stat(second)).ino).toBe(inode);
    expect(JSON.parse(await readFile(second, "utf8"))).toEqual(longer);
    const shorter = await writeRunRecord(queue, record({ run_id: "run-c", task_id: "c" }));
    await removeRunRecord(second);
    expect(await readdir(runRecordsDir(queue))).toEqual(expect.arrayContaining(["run-c.json"]));
    expect(JSON.parse(await readFile(shorter, "utf8")).task_id).toBe("c");

    dropSpareRunRecords();
    expect(await readdir(runRecordsDir(queue))).toEqual(["run-c.json"]);
  });

  it("a spare that got another name meanwhile is not written through: the record gets a new file", async () => {
    const first = await writeRunRecord(queue, record({ run_id: "run-a" }));
    await removeRunRecord(first);
    const [spare] = await readdir(runRecordsDir(queue));
    const elsewhere = path.join(queue, "linked.json");
    await link(path.join(runRecordsDir(queue), spare as string), elsewhere);
    const before = await readFile(elsewhere, "utf8");

    const second = await writeRunRecord(queue, record({ run_id: "run-b" }));
    expect(await readFile(elsewhere, "utf8")).toBe(before);
    expect(JSON.parse(await readFile(second, "utf8")).run_id).toBe("run-b");
    expect((await stat(second)).ino).not.toBe((await stat(elsewhere)).ino);
    // The spare was dropped, not reused.
    expect(await readdir(runRecordsDir(queue))).toEqual(["run-b.json"]);
  });

  it.runIf(process.platform === "linux")("the start-up sweep removes the spares of dispatchers that are gone and keeps live ones'", async () => {
    const dir = runRecordsDir(queue);
    const dead = await deadPid();
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, `.spare-${dead}-1`), "{}");
    const live = leftover(null);
    await writeFile(path.join(dir, `.spare-${live}-1`), "{}");
    await sweepLeftovers(queue);
    expect(await readdir(dir)).toEqual([`.spare-${live}-1`]);
  });
});
