// `agent-lanes dispatch --notify URL` as users run it, against a webhook sink
// started by the test: exactly one notification per transition for 20 tasks,
// a burst over the rate limit folded into one digest, and a vendor pause
// announced once however often dispatchers restart.

import { appendFile, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type Store } from "../../src/store/index.js";
import { setPause } from "../../src/supervisor/pauses.js";
import { CLI, makeCliWorkspace, type CliWorkspace } from "../cli/cli-helpers.js";
import { startHookServer, type HookServer } from "./hook-server.js";

const AGENT = path.join(path.dirname(fileURLToPath(import.meta.url)), "agent.mjs");

let ws: CliWorkspace;
let hook: HookServer;
let store: Store;
const children: ResultPromise[] = [];

beforeAll(async () => {
  ws = await makeCliWorkspace("al-notify-e2e-");
  hook = await startHookServer();
  // The rate limit is raised so 20 quick tasks are 20 notifications, not a digest.
  await appendFile(ws.config, "notify:\n  rate_limit: { max: 100, per_seconds: 60 }\n");
  store = openStore(ws.queue);
});

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await Promise.all(children.map((c) => c.catch(() => undefined)));
  await store?.close();
  await hook?.close();
  await ws?.cleanup();
});

function dispatch(): ResultPromise {
  const child = execa(
    process.execPath,
    [CLI, "--config", ws.config, "dispatch", "--vendor", "command", "--command", `${process.execPath} ${AGENT}`, "--notify", hook.url,
      "--concurrency", "3", "--max-attempts", "1", "--poll-seconds", "0.2", "--log-format", "json"],
    { cwd: ws.root, reject: false, env: { AGENT_LANES_DEBUG: undefined } },
  );
  children.push(child);
  return child;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stop(child: ResultPromise): Promise<void> {
  child.kill("SIGTERM");
  const result = await child;
  expect(result.exitCode).toBe(0);
}

describe("dispatch --notify", () => {
  it("20 tasks: exactly one notification per transition, completed with the verdict, failed with the reason", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await ws.submit("default", i % 5 === 4 ? ["--prompt", "PLEASE FAIL"] : []));
    const child = dispatch();
    await until("20 finished tasks", async () => (await Promise.all(ids.map((id) => store.get(id)))).every((t) => t.state === "completed" || t.state === "failed"));
    await until("20 notifications", () => hook.received.length >= 20);
    await stop(child);

    const byTask = new Map<string, Array<Record<string, unknown>>>();
    for (const r of hook.received) {
      const id = String(r.json?.task_id);
      byTask.set(id, [...(byTask.get(id) ?? []), r.json as Record<string, unknown>]);
    }
    expect(hook.received).toHaveLength(20);
    expect([...byTask.keys()].sort()).toEqual([...ids].sort());
    for (const id of ids) {
      const task = await store.get(id);
      const [n] = byTask.get(id) ?? [];
      expect(n?.event).toBe(`task.${task.state}`);
      if (task.state === "completed") expect(n).toMatchObject({ verdict: "accept", lane: "default" });
      else expect(String(n?.text)).toContain("failed:");
    }
    expect(hook.received.filter((r) => r.json?.event === "task.failed")).toHaveLength(4);
  }, 120_000);

  it("a burst of 30 finished tasks over a limit of 5: five notifications, then one digest of the other 25", async () => {
    const config = await readFile(ws.config, "utf8");
    await writeFile(ws.config, config.replace("rate_limit: { max: 100, per_seconds: 60 }", "rate_limit: { max: 5, per_seconds: 3600 }"));
    const before = hook.received.length;
    const request = path.join(ws.root, await ws.file("requests/burst.md", "burst\n"));
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const task = await store.create({ workspace_id: "ws", correlation_id: `burst-${i}`, lane: "default", workspace_root: ws.root, request_path: request, response_path: path.join(ws.root, "responses", `burst-${i}.md`) });
      ids.push(task.id);
    }
    const child = dispatch();
    await until("30 finished tasks", async () => (await Promise.all(ids.map((id) => store.get(id)))).every((t) => t.state === "completed"));
    await until("5 notifications", () => hook.received.length - before >= 5);
    // The rest is held for the window's end (an hour); a clean stop sends it as one digest.
    await stop(child);
    const burst = hook.received.slice(before).map((r) => r.json as Record<string, unknown>);
    const single = burst.filter((n) => n.event === "task.completed");
    const digests = burst.filter((n) => n.event === "digest");
    expect(single).toHaveLength(5);
    expect(digests).toHaveLength(1);
    expect(burst).toHaveLength(6);
    expect(digests[0]).toMatchObject({ title: "agent-lanes: 25 more events", counts: { "task.completed": 25 }, text: "25 completed (lanes: default)" });
    expect(new Set(single.map((n) => n.task_id)).size).toBe(5);
    for (const n of single) expect(ids).toContain(n.task_id);
  }, 120_000);

  it("a vendor pause is announced once, though two dispatcher runs in turn see it", async () => {
    const before = hook.received.length;
    const until_ = new Date(Date.now() + 3600_000);
    await setPause(ws.queue, "command", { until: until_, reason: "usage limit reached (test)", kind: "usage-limit", owner: "test", jitter: false });
    for (let run = 0; run < 2; run++) {
      const child = dispatch();
      let stderr = "";
      child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
      // Each run logs the pause when it first reads it, which is when it tells the notifier.
      await until(`run ${run + 1} to read the pause`, () => stderr.includes("not claiming: command paused until"), 20_000);
      await stop(child);
    }
    const pauses = hook.received.slice(before);
    expect(pauses).toHaveLength(1);
    expect(pauses[0]?.json).toMatchObject({ event: "vendor.paused", vendor: "command", kind: "usage-limit" });
    expect(String(pauses[0]?.json?.text)).toContain("usage limit reached (test)");
  }, 60_000);
});
