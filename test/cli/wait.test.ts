// wait TASK_ID, wait --lane, next and watch through the built binary: payloads,
// exit codes, both heartbeat formats, the idle payload, and wake-ups driven by
// file-system events alone (the safety poll is pushed past the timeout).

import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { finish, keys, makeCliWorkspace, type CliWorkspace } from "./cli-helpers.js";

/** With this, only a file-system event can end a wait before its timeout. */
const EVENTS_ONLY = { AGENT_LANES_POLL_MS: "600000" };

let ws: CliWorkspace;

beforeAll(async () => {
  ws = await makeCliWorkspace("al-cli-wait-");
});

afterAll(async () => {
  await ws.cleanup();
});

/** Resolve once `child`'s stderr has printed `count` lines matching `pattern`. */
function stderrLines(child: ReturnType<CliWorkspace["start"]>, pattern: RegExp, count = 1): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    let buffer = "";
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      seen += lines.filter((line) => pattern.test(line)).length;
      if (seen >= count) {
        child.stderr?.off("data", onData);
        resolve();
      }
    };
    child.stderr?.on("data", onData);
    child.then(() => reject(new Error(`process ended before ${count} stderr line(s) matching ${pattern}`)), reject);
  });
}

describe("wait TASK_ID", () => {
  it("writes the body to response_path and prints {status: completed, task_id, response_path, response}", async () => {
    const id = await ws.submit();
    expect((await ws.run(["respond", id, "--body", "the answer\n", "--verdict", "accept"])).exitCode).toBe(0);
    const result = await ws.run(["wait", id, "--json"]);
    expect(result.exitCode).toBe(0);
    const payload = result.json<{ status: string; task_id: string; response_path: string; response: Record<string, unknown> }>();
    expect(keys(payload)).toEqual(["response", "response_path", "status", "task_id"]);
    expect(payload).toMatchObject({ status: "completed", task_id: id, response: { body: "the answer\n", verdict: "accept" } });
    expect(payload.response_path.startsWith(ws.root)).toBe(true);
    expect(await readFile(payload.response_path, "utf8")).toBe("the answer\n");
    const text = await ws.run(["wait", id]);
    expect(text.stdout).toBe(`${payload.response_path}\n`);
  });

  it("returns a failed response too, with status completed", async () => {
    const id = await ws.submit();
    await ws.run(["respond", id, "--status", "failed", "--body", "could not do it"]);
    const result = await ws.run(["wait", id, "--json"]);
    expect(result.exitCode).toBe(0);
    expect(result.json()).toMatchObject({ status: "completed", response: { status: "failed", body: "could not do it" } });
  });

  it("exits 2 on timeout, printing the exact queued heartbeat meanwhile", async () => {
    const id = await ws.submit();
    const result = await ws.run(["wait", id, "--timeout", "0.7", "--heartbeat-seconds", "0.1"]);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe("");
    const beats = result.errLines.filter((line) => line.startsWith("agent-lanes wait:"));
    expect(beats.length).toBeGreaterThanOrEqual(2);
    for (const line of beats) expect(line).toBe(`agent-lanes wait: task_id=${id}; state=queued; awaiting reviewer claim`);
    expect(result.errLines.at(-1)).toMatch(new RegExp(`^agent-lanes: timed out after 0.7 s waiting for task ${id} \\(state=queued\\)`));
  });

  it("--json on timeout also prints a timeout payload; --quiet prints no heartbeats", async () => {
    const id = await ws.submit();
    const result = await ws.run(["wait", id, "--timeout", "0.4", "--heartbeat-seconds", "0.1", "--quiet", "--json"]);
    expect(result.exitCode).toBe(2);
    expect(result.json()).toMatchObject({ status: "timeout", task_id: id, state: "queued", timeout_seconds: 0.4 });
    expect(result.errLines).toHaveLength(1);
    expect(result.errLines[0]).toMatch(/^agent-lanes: timed out/);
  });

  it("prints the claimed heartbeat with every key of §7 in order", async () => {
    const id = await ws.submit();
    await ws.run(["claim", id, "--owner", "bob"]);
    await ws.run(["event", id, "--type", "progress", "--message", "reading"]);
    const result = await ws.run(["wait", id, "--timeout", "0.5", "--heartbeat-seconds", "0.1"]);
    expect(result.exitCode).toBe(2);
    const beat = result.errLines.find((line) => line.startsWith("agent-lanes wait:"));
    const responsePath = path.join(ws.root, "responses");
    expect(beat).toMatch(
      new RegExp(
        `^agent-lanes wait: task_id=${id}; state=claimed; claim_owner=bob; claimed_age_seconds=\\d+; ` +
          `lease_expires_at=\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z; lease_expired=false; response_path=${responsePath}/r\\d+\\.md; ` +
          `response_exists=false; last_event=progress@\\d{4}-[0-9T:.-]+Z; next_action=.*claimed by bob.*$`,
      ),
    );
  });

  it("an unknown task is `unknown task: <id>`; a failed task without a response carries its reason; exit 1", async () => {
    const unknown = await ws.run(["wait", "20200101T000000000000Z-x-000000000000", "--timeout", "0.2"]);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toBe("agent-lanes: unknown task: 20200101T000000000000Z-x-000000000000\n");

    const id = await ws.submit();
    const file = path.join(ws.queue, "tasks", id, "task.json");
    const task = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...task, state: "failed", failure_reason: "dispatcher gave up" }));
    const failed = await ws.run(["wait", id, "--timeout", "5"]);
    expect(failed.exitCode).toBe(1);
    expect(failed.errLines).toEqual([expect.stringMatching(new RegExp(`^agent-lanes: .*${id}.*dispatcher gave up`))]);
  });

  it("wakes on the response's file-system event, not a poll", async () => {
    const id = await ws.submit();
    const waiter = ws.start(["wait", id, "--json", "--timeout", "30", "--heartbeat-seconds", "0.2"], { env: EVENTS_ONLY });
    await stderrLines(waiter, /state=queued/, 2);
    expect((await ws.run(["respond", id, "--body", "woken"])).exitCode).toBe(0);
    const result = await finish(waiter);
    expect(result.exitCode).toBe(0);
    expect(result.json()).toMatchObject({ status: "completed", task_id: id, response: { body: "woken" } });
  });
});

describe("wait --lane, next, watch", () => {
  const IDLE_KEYS = ["lane", "message", "next_action", "reason", "status", "timeout_seconds"];

  it("returns the lane's oldest claimable task as {status: task_available, lane, task}; the three names agree", async () => {
    const first = await ws.submit("lane-a");
    await ws.submit("lane-a");
    for (const command of [["wait", "--lane", "lane-a"], ["next", "--lane", "lane-a"], ["watch", "--lane", "lane-a"]]) {
      const result = await ws.run([...command, "--json"]);
      expect(result.exitCode).toBe(0);
      const payload = result.json<{ task: { id: string } }>();
      expect(keys(payload)).toEqual(["lane", "status", "task"]);
      expect(payload).toMatchObject({ status: "task_available", lane: "lane-a", task: { id: first, state: "queued" } });
    }
    const text = await ws.run(["next", "--lane", "lane-a"]);
    expect(text.stdout).toBe(`${first}\n`);
  });

  it("offers a claimed task again once its lease is over", async () => {
    const id = await ws.submit("lane-expiring");
    await ws.run(["claim", id, "--lease-seconds", "0.05"]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const result = await ws.run(["next", "--lane", "lane-expiring", "--timeout", "0", "--json"]);
    expect(result.json()).toMatchObject({ status: "task_available", task: { id, state: "claimed" } });
  });

  it("an idle lane that never had a task: exit 0, reason no_task_submitted", async () => {
    const result = await ws.run(["wait", "--lane", "never-used", "--timeout", "0.3", "--json"]);
    expect(result.exitCode).toBe(0);
    const payload = result.json<Record<string, unknown>>();
    expect(keys(payload)).toEqual(IDLE_KEYS);
    expect(payload).toMatchObject({ status: "idle", lane: "never-used", reason: "no_task_submitted", timeout_seconds: 0.3 });
    expect(payload.message).toEqual(expect.stringContaining(ws.queue));
    // The Python tool's words, which orchestrator prompts match on.
    expect(payload.message).toMatch(/^No queued tasks found on lane never-used\. If you are the polling monitor, keep waiting\. If you are the orchestrator, submit a task when the next artifact is ready\./);
    expect(payload.next_action).toBe("monitor: run wait --lane never-used --json again; orchestrator: submit when ready");
  });

  it("an idle lane whose tasks are all taken: reason no_queued_task; lane heartbeats on stderr", async () => {
    const id = await ws.submit("lane-busy");
    await ws.run(["claim", id]);
    const result = await ws.run(["watch", "--lane", "lane-busy", "--timeout", "0.5", "--heartbeat-seconds", "0.1", "--json"]);
    expect(result.exitCode).toBe(0);
    expect(result.json()).toMatchObject({ status: "idle", reason: "no_queued_task", lane: "lane-busy" });
    expect(result.errLines.length).toBeGreaterThanOrEqual(2);
    for (const line of result.errLines) {
      expect(line).toMatch(/^agent-lanes watch: lane=lane-busy; state=waiting; waited_seconds=\d+; timeout_seconds=0.5; active_tasks=1$/);
    }
  });

  it("text mode leaves stdout empty when idle and says why on stderr", async () => {
    const result = await ws.run(["next", "--lane", "lane-text-idle", "--timeout", "0"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.errLines).toEqual([expect.stringMatching(/^agent-lanes next: lane=lane-text-idle; status=idle; reason=no_task_submitted; /)]);
  });

  it("wakes on a new task's file-system event, not a poll", async () => {
    const waiter = ws.start(["wait", "--lane", "lane-events", "--json", "--timeout", "30", "--heartbeat-seconds", "0.2"], { env: EVENTS_ONLY });
    await stderrLines(waiter, /state=waiting/, 2);
    const id = await ws.submit("lane-events");
    const result = await finish(waiter);
    expect(result.exitCode).toBe(0);
    expect(result.json()).toMatchObject({ status: "task_available", lane: "lane-events", task: { id } });
  });

  it("wait takes a TASK_ID or --lane, and says so", async () => {
    const none = await ws.run(["wait"]);
    expect(none.exitCode).toBe(1);
    expect(none.errLines).toEqual([expect.stringMatching(/^agent-lanes: wait needs a TASK_ID .* or --lane LANE/)]);
    const both = await ws.run(["wait", "x", "--lane", "y"]);
    expect(both.errLines).toEqual(["agent-lanes: wait takes a TASK_ID or --lane LANE, not both"]);
    const timeout = await ws.run(["next", "--lane", "x", "--timeout", "abc"]);
    expect(timeout.stderr).toBe("agent-lanes: --timeout must be a number >= 0, got 'abc'\n");
  });
});
