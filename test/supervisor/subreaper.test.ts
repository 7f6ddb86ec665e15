// The dispatcher as a child subreaper (Linux), with a real `agent-lanes
// dispatch` subprocess: a descendant that left its run's process group with
// setsid is ended when the run ends, and no re-parented orphan stays a zombie
// of the dispatcher.

import { readdirSync, readFileSync } from "node:fs";
import { promises as fs } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";
import { allGone, FAKE_ADAPTER, killQuietly, startCli, waitFor, type CliProcess } from "./helpers.js";

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

/** Children of `pid` that are zombies (Linux /proc). */
function zombieChildren(pid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z" && Number(fields[1]) === pid) found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe.runIf(process.platform === "linux")("dispatch as a child subreaper", () => {
  it("ends a setsid descendant and a grandchild with their run, and leaves no zombie behind", async () => {
    const pidFile = path.join(ws.root, "pids");
    const task = await ws.submit({ metadata: { agent: "escape", agent_args: [pidFile, "0.5"] } });
    const cli = startCli(
      ["--store", ws.queue, "dispatch", "--vendor", "fake", "--vendor-module", FAKE_ADAPTER, "--poll-seconds", "0.2", "--kill-grace-seconds", "0.3", "--log-format", "json"],
      { cwd: ws.root },
    );
    clis.push(cli);
    const agentPids = (await waitFor("the agent's pids", () => fs.readFile(pidFile, "utf8").catch(() => ""))).trim().split(" ").map(Number);
    agentPids.forEach((pid) => pids.add(pid));
    await waitFor(`${task.id} to complete`, async () => (await ws.store.get(task.id)).state === "completed");
    // The escaped one ignores SIGTERM and left the group: only the subreaper can find it.
    expect(await allGone(agentPids, 2000)).toBe(true);
    expect(await waitFor("no zombie child of the dispatcher", () => zombieChildren(cli.pid).length === 0, 2000)).toBe(true);
    expect(cli.lines.some((line) => String(line.msg).includes("descendants of finished runs"))).toBe(true);
  });
});
