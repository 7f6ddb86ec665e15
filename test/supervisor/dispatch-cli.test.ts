// `agent-lanes dispatch` as a real subprocess (node dist/src/cli/main.js), for
// what only a real process shows: signals, kill -9 and its orphans, exit codes.
// Needs `npm run build` first.

import { promises as fs, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { toJsonFile } from "../../src/store/index.js";
import { runRecordsDir, type RunRecord } from "../../src/supervisor/sweep.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";
import { AGENTS, allGone, FAKE_ADAPTER, FAKE_BIN, isAlive, killQuietly, startCli, waitFor, type CliProcess } from "./helpers.js";
import { statFields } from "../helpers/proc.js";

let ws: TestWorkspace;
const clis: CliProcess[] = [];
const pids = new Set<number>();

beforeEach(async () => {
  ws = await makeWorkspace();
});

afterEach(async () => {
  for (const cli of clis.splice(0)) {
    cli.child.kill("SIGKILL");
    await cli.child;
  }
  killQuietly(pids);
  pids.clear();
  await ws.cleanup();
});

function dispatch(extra: string[] = []): CliProcess {
  const cli = startCli(
    [
      "--store",
      ws.queue,
      "dispatch",
      "--vendor",
      "fake",
      "--vendor-module",
      FAKE_ADAPTER,
      "--lease-seconds",
      "3",
      "--poll-seconds",
      "0.2",
      "--kill-grace-seconds",
      "0.3",
      "--log-format",
      "json",
      ...extra,
    ],
    { cwd: ws.root },
  );
  clis.push(cli);
  return cli;
}

const state = async (id: string) => (await ws.store.get(id)).state;
const until = (id: string, wanted: string, timeoutMs = 20_000) => waitFor(`${id} to be ${wanted}`, async () => (await state(id)) === wanted, timeoutMs);
const readPids = async (file: string): Promise<number[]> => (await fs.readFile(file, "utf8")).trim().split(/\s+/).map(Number);
const started = async (id: string) => (await ws.store.readEvents(id)).filter((e) => e.type === "headless_started");

/** The children of `pid` (Linux /proc): state and session of each. */
function childrenOf(pid: number): Array<{ pid: number; state: string; session: number }> {
  const found: Array<{ pid: number; state: string; session: number }> = [];
  for (const name of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      const fields = statFields(stat);
      if (Number(fields[1]) === pid) found.push({ pid: Number(name), state: fields[0] ?? "", session: Number(fields[3]) });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Children of `pid` that are zombies (Linux /proc). */
function zombieChildren(pid: number): number[] {
  return childrenOf(pid)
    .filter((child) => child.state === "Z")
    .map((child) => child.pid);
}

/** Children of `pid` in a session of their own, dead or alive: what its runs left (guards, watchers, orphans). */
function runLeftovers(pid: number): number[] {
  const own = Number(statFields(readFileSync(`/proc/${pid}/stat`, "latin1"))[3]);
  return childrenOf(pid)
    .filter((child) => child.session !== own)
    .map((child) => child.pid);
}

async function runRecords(): Promise<RunRecord[]> {
  const dir = runRecordsDir(ws.queue);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const records: RunRecord[] = [];
  for (const name of names.filter((n) => n.endsWith(".json"))) {
    records.push(JSON.parse(await fs.readFile(path.join(dir, name), "utf8")) as RunRecord);
  }
  return records;
}

/** Finished task folders written straight to disk (as a long-lived queue holds them); returns their ids. */
async function writeFinished(count: number): Promise<string[]> {
  const tasks = path.join(ws.queue, "tasks");
  await fs.mkdir(tasks, { recursive: true });
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const stamp = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const id = `${stamp.replace(/[-:]/g, "").replace("Z", "000000Z")}-old${i}-0123456789ab`;
    const task = {
      id, workspace_id: "ws", correlation_id: `old${i}`, source_agent: "test", lane: "default", workspace_root: ws.root,
      worktree_path: null, expected_branch: null, request_path: path.join(ws.root, "r.md"), request_sha256: "0".repeat(64),
      supporting_paths: [], response_path: path.join(ws.root, "out.md"), prompt: "", metadata: {}, state: "completed",
      created_at: stamp, updated_at: stamp, claim_owner: "t", claim_token: "k", lease_expires_at: stamp, claimed_at: stamp,
      completed_at: stamp, failed_at: null, failure_reason: null,
    };
    await fs.mkdir(path.join(tasks, id));
    await fs.writeFile(path.join(tasks, id, "task.json"), toJsonFile(task));
    ids.push(id);
  }
  return ids;
}

describe("agent-lanes dispatch (subprocess)", () => {
  it("on a queue of 1,200 finished tasks (first scan and start-up sweep made by the helper process) it sweeps a stale temp file and runs a new task", async () => {
    const old = await writeFinished(1200);
    // A temp file a writer killed mid-write left in a finished task's folder two hours ago.
    const stale = path.join(ws.queue, "tasks", old[5] as string, ".task.json.0123abcd.tmp");
    await fs.writeFile(stale, "{}");
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await fs.utimes(stale, twoHoursAgo, twoHoursAgo);
    dispatch();
    await waitFor("the stale temp file to be swept", () => fs.access(stale).then(() => false, () => true), 20_000);
    // Only the helper writes a listing snapshot (the long-running process never does): it made the first scan.
    await waitFor("the helper's listing snapshot", () => fs.access(path.join(ws.queue, "cache", "tasks-listing.txt")).then(() => true, () => false), 20_000);
    const t = await ws.submit();
    await until(t.id, "completed");
    expect(await state(old[0] as string)).toBe("completed");
    expect((await ws.store.readEvents(old[0] as string)).length).toBe(0); // never touched
  });

  it("a SIGTERM during start-up stops it cleanly: exit 0, nothing claimed", async () => {
    const t = await ws.submit();
    const marker = path.join(ws.root, "loading");
    const cli = startCli(
      ["--store", ws.queue, "dispatch", "--vendor", "fake", "--vendor-module", path.join(path.dirname(FAKE_ADAPTER), "slow-load.mjs"), "--log-format", "json"],
      { cwd: ws.root, env: { SLOW_LOAD_MARKER: marker, SLOW_LOAD_MS: "1500" } },
    );
    clis.push(cli);
    await waitFor("the plugin to start loading", () => fs.access(marker).then(() => true, () => false));
    cli.child.kill("SIGTERM");
    const end = await cli.child;
    expect(end.signal ?? null).toBeNull();
    expect(end.exitCode, cli.stderr()).toBe(0);
    expect(cli.stderr()).toContain("during start-up");
    expect(await state(t.id)).toBe("queued");
    expect((await ws.store.readEvents(t.id)).map((e) => e.type)).toEqual(["created"]);
  });

  it("after kill -9 nothing it started survives 2 s; a second dispatcher reruns the task after the lease, one response", async () => {
    const pidFile = path.join(ws.root, "agent.pids");
    const t = await ws.submit({ metadata: { agent: "grandchild", agent_args: [pidFile, "60"] } });
    const a = dispatch(["--owner", "sup-a"]);
    const [agentPid, grandchildPid] = await waitFor("the agent and its grandchild", () => readPids(pidFile).catch(() => null));
    const [record] = await waitFor("the run record", async () => ((await runRecords()).length > 0 ? runRecords() : null));
    const group = [agentPid as number, grandchildPid as number, record?.pgid as number];
    group.forEach((pid) => pids.add(pid));
    expect(record).toMatchObject({ supervisor_pid: a.pid, task_id: t.id, owner: "sup-a" });

    process.kill(a.pid, "SIGKILL");
    await a.child;
    await allGone(group, 2000);
    expect(group.filter((pid) => isAlive(pid))).toEqual([]);
    expect(await ws.store.getResponse(t.id)).toBeNull();

    const b = dispatch(["--owner", "sup-b"]);
    await until(t.id, "completed", 20_000);
    const response = await ws.store.getResponse(t.id);
    expect(response?.body).toBe("grandchild agent: second run, answering at once\n");
    expect(response).toMatchObject({ reviewer: "sup-b", status: "completed" });
    expect(response?.metadata).toMatchObject({ attempt: 2 });
    const all = await ws.store.readEvents(t.id);
    expect(all.filter((e) => e.type === "response")).toHaveLength(1);
    expect(all.filter((e) => e.type === "claimed").map((e) => e.data.owner)).toEqual(["sup-a", "sup-b"]);
    // b's start-up sweep removed the dead dispatcher's record.
    expect((await runRecords()).filter((r) => r.supervisor_pid === a.pid)).toEqual([]);

    b.child.kill("SIGTERM");
    expect((await b.child).exitCode).toBe(0);
  });

  it("SIGTERM: no new claims, running children finish or are killed after the grace, their tasks queued again, exit 0", async () => {
    const marker = path.join(ws.root, "sleep.log");
    const stubbornPidFile = path.join(ws.root, "stubborn.pid");
    const fast = await ws.submit({ metadata: { agent: "sleep", agent_args: ["1.5", marker] } });
    const slow = await ws.submit({ metadata: { agent: "sleep", agent_args: ["60", marker] } });
    const stubborn = await ws.submit({ metadata: { agent: "ignore-term", agent_args: [stubbornPidFile] } });
    const cli = dispatch(["--concurrency", "3", "--grace-seconds", "3"]);
    await waitFor("three agents running", async () => {
      const lines = (await fs.readFile(marker, "utf8").catch(() => "")).split("\n").filter((l) => l.startsWith("start"));
      return lines.length === 2 && (await fs.readFile(stubbornPidFile, "utf8").catch(() => "")) !== "";
    });
    const agentPids = [
      ...(await fs.readFile(marker, "utf8")).split("\n").filter((l) => l.startsWith("start")).map((l) => Number(l.split(" ")[1])),
      Number((await fs.readFile(stubbornPidFile, "utf8")).trim()),
    ];
    const groupLeaders = (await Promise.all([fast, slow, stubborn].map((t) => started(t.id)))).map((e) => Number(e[0]?.data.pid));
    [...agentPids, ...groupLeaders].forEach((pid) => pids.add(pid));
    const waiting = await ws.submit({ metadata: { agent: "echo" } });

    cli.child.kill("SIGTERM");
    const result = await cli.child;
    expect(result.exitCode).toBe(0);
    expect(await state(fast.id)).toBe("completed");
    expect(await state(slow.id)).toBe("queued");
    expect(await state(stubborn.id)).toBe("queued");
    expect(await state(waiting.id)).toBe("queued");
    expect((await ws.store.readEvents(waiting.id)).filter((e) => e.type === "claimed")).toEqual([]);
    expect(await allGone([...agentPids, ...groupLeaders], 2000)).toBe(true);
    expect(cli.lines.some((l) => l.msg === "grace period over: stopping running children and releasing their tasks")).toBe(true);
    expect(await runRecords()).toEqual([]);
  });

  it("a second SIGTERM stops at once instead of waiting out the grace", async () => {
    const marker = path.join(ws.root, "sleep.log");
    const t = await ws.submit({ metadata: { agent: "sleep", agent_args: ["60", marker] } });
    const cli = dispatch(["--grace-seconds", "120"]);
    await waitFor("the agent", () => fs.readFile(marker, "utf8").catch(() => ""));
    cli.child.kill("SIGTERM");
    await waitFor("the first stop to be logged", () => cli.lines.some((l) => l.msg === "stopping: no new claims"));
    cli.child.kill("SIGTERM");
    const result = await cli.child;
    expect(result.exitCode).toBe(0);
    expect(await state(t.id)).toBe("queued");
  });

  it("SIGHUP re-reads --vendor-config for the next task", async () => {
    const configFile = path.join(ws.root, "vendors.yaml");
    await fs.writeFile(configFile, "vendors:\n  fake:\n    agent: echo\n");
    const cli = dispatch(["--vendor-config", configFile]);
    const before = await ws.submit({ content: "BEFORE\n" });
    await until(before.id, "completed");
    expect((await ws.store.getResponse(before.id))?.body).toMatch(/^echo agent answer/);
    await fs.writeFile(configFile, "vendors:\n  fake:\n    agent: cat-stdin\n");
    cli.child.kill("SIGHUP");
    await waitFor("the reload", () => cli.lines.some((l) => l.msg === "configuration re-read"));
    const after = await ws.submit({ content: "AFTER\n" });
    await until(after.id, "completed");
    expect((await ws.store.getResponse(after.id))?.body).toContain("----- BEGIN REQUEST ARTIFACT:");
    cli.child.kill("SIGTERM");
    expect((await cli.child).exitCode).toBe(0);
  });

  it("runs --vendor command with --command as the agent's argv", async () => {
    const t = await ws.submit({ content: "COMMAND VENDOR\n" });
    const cli = startCli(
      ["--store", ws.queue, "dispatch", "--vendor", "command", "--command", `${process.execPath} ${path.join(AGENTS, "cat-stdin.mjs")}`, "--poll-seconds", "0.2", "--log-format", "json"],
      { cwd: ws.root },
    );
    clis.push(cli);
    await until(t.id, "completed");
    expect((await ws.store.getResponse(t.id))?.body).toContain("COMMAND VENDOR");
    cli.child.kill("SIGTERM");
    expect((await cli.child).exitCode).toBe(0);
  });

  it("passes --command and --max-cost-usd to a built-in vendor's CLI (fake claude)", async () => {
    const invocations = path.join(ws.root, "claude.jsonl");
    const t = await ws.submit({ metadata: { effort: "high" } });
    const cli = startCli(
      ["--store", ws.queue, "dispatch", "--vendor", "claude", "--command", path.join(FAKE_BIN, "claude"), "--max-cost-usd", "2", "--poll-seconds", "0.2", "--log-format", "json"],
      { cwd: ws.root, env: { FAKE_AGENT_LOG: invocations } },
    );
    clis.push(cli);
    await until(t.id, "completed");
    const [call] = (await fs.readFile(invocations, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { argv: string[]; cwd: string });
    expect(call?.argv).toEqual(expect.arrayContaining(["-p", "--max-budget-usd", "2", "--effort", "high"]));
    expect(call?.cwd).toBe(await fs.realpath(ws.root));
    const response = await ws.store.getResponse(t.id);
    expect(response?.metadata).toMatchObject({ model_used: "claude-sonnet-4-6", effort_used: "high", cost_usd: 0.0123, attempt: 1 });
    cli.child.kill("SIGTERM");
    expect((await cli.child).exitCode).toBe(0);
  });

  it.each([
    [["--lease-seconds", "1"], "agent-lanes: Expected `--lease-seconds` to be a number >= 3, got `1` (string)"],
    [["--task-timeout", "10", "--idle-timeout", "20"], "agent-lanes: Expected `--idle-timeout` to be at most `--task-timeout` (10 s)"],
    [["--concurrency", "0"], "agent-lanes: Expected `--concurrency` to be an integer >= 1, got `0` (string)"],
    [["--max-cost-usd", "free"], "agent-lanes: Expected `--max-cost-usd` to be a number > 0, got `free` (string)"],
  ])("refuses %j with one line naming the flag, exit 1", async (flags, message) => {
    const cli = dispatch(flags);
    const result = await cli.child;
    expect(result.exitCode).toBe(1);
    expect(cli.stderr().trim().split("\n")[0]).toContain(message);
  });

  it("names an unknown vendor and the way to plug one in", async () => {
    const cli = startCli(["--store", ws.queue, "dispatch", "--vendor", "nosuch"], { cwd: ws.root });
    clis.push(cli);
    const result = await cli.child;
    expect(result.exitCode).toBe(1);
    expect(cli.stderr()).toMatch(/unknown vendor "nosuch".*--vendor-module/);
  });

  it("--help shows the flags with their defaults and an example", async () => {
    const cli = startCli(["dispatch", "--help"], { cwd: ws.root });
    clis.push(cli);
    let out = "";
    cli.child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
    expect((await cli.child).exitCode).toBe(0);
    for (const text of ["--vendor <name>", "--lane <name>", "--concurrency <n>", "(default: 900, at least 3)", "--task-timeout <s>", "--idle-timeout <s>", "Examples:", "agent-lanes dispatch --vendor claude"]) {
      expect(out).toContain(text);
    }
  });
  it.runIf(process.platform === "linux")("as a child subreaper, ends a setsid descendant and a grandchild with their run, and leaves no zombie and no guard watcher behind", async () => {
    const pidFile = path.join(ws.root, "pids");
    const task = await ws.submit({ metadata: { agent: "escape", agent_args: [pidFile, "0.5"] } });
    const cli = dispatch();
    const agentPids = (await waitFor("the agent's pids", () => fs.readFile(pidFile, "utf8").catch(() => ""))).trim().split(" ").map(Number);
    agentPids.forEach((pid) => pids.add(pid));
    await waitFor(`${task.id} to complete`, async () => (await ws.store.get(task.id)).state === "completed");
    // The escaped one ignores SIGTERM and left the group: only the subreaper can find it.
    expect(await allGone(agentPids, 2000)).toBe(true);
    expect(await waitFor("no zombie child of the dispatcher", () => zombieChildren(cli.pid).length === 0, 2000)).toBe(true);
    // The run's group, kept while its leftovers were ended, is gone too: no guard's watcher stays behind.
    expect(await waitFor("nothing of the run left under the dispatcher", () => runLeftovers(cli.pid).length === 0, 3000)).toBe(true);
    expect(cli.lines.some((line) => String(line.msg).includes("descendants of finished runs"))).toBe(true);
  });
});
