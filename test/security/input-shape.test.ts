// Class 8 of issue 11 (and the newline-forging item): limits on the shape of
// input. Deep JSON in metadata, event data and task files; over-long task ids;
// control characters in lane, owner, source_agent and reviewer (and the text
// output that escapes them when another tool wrote them); numbers on the
// command line strictly decimal. The built CLI and the store every front end uses.

import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH, TooDeepError, jsonDepth, jsonTextDepth, openStore, parseDecimal } from "../../src/store/index.js";
import { eachCliWorkspace, type CliWorkspace } from "./support.js";

let ws: CliWorkspace;
eachCliWorkspace("al-sec-shape-", (w) => (ws = w));

function nested(levels: number): unknown {
  let value: unknown = "leaf";
  for (let i = 0; i < levels; i += 1) value = { k: value };
  return value;
}

function yamlNested(levels: number): string {
  return `${"{k: ".repeat(levels)}1${"}".repeat(levels)}`;
}

describe("JSON nesting", () => {
  it("depth is counted without recursion, also for text, and 3000 levels do not overflow the counters", () => {
    expect(jsonDepth(nested(3))).toBe(3);
    expect(jsonDepth(nested(3000), 64)).toBe(65);
    expect(jsonTextDepth(JSON.stringify(nested(3000)))).toBe(3000);
    expect(jsonTextDepth('{"a": "{{{[[["}')).toBe(1);
  });

  it("metadata deeper than 64 levels is refused by the store and the task file; 63 levels under metadata pass", async () => {
    const store = openStore(ws.queue);
    try {
      await ws.file("requests/a.md");
      const input = { workspace_id: "ws", correlation_id: "c", lane: "review", workspace_root: ws.root, request_path: "requests/a.md", response_path: "out/a.md" };
      await expect(store.create({ ...input, metadata: nested(MAX_JSON_DEPTH) as Record<string, unknown> })).resolves.toBeTruthy();
      await expect(store.create({ ...input, metadata: nested(3000) as Record<string, unknown> })).rejects.toThrow(TooDeepError);
      await expect(store.create({ ...input, metadata: nested(MAX_JSON_DEPTH + 1) as Record<string, unknown> })).rejects.toThrow(
        "metadata is nested deeper than 64 levels; flatten it",
      );
      expect(await store.list()).toHaveLength(1);
    } finally {
      await store.close();
    }
    await writeFile(path.join(ws.root, "deep.yaml"), `lane: review\nrequest_from: requests/a.md\nresponse_to: out/b.md\nmetadata: ${yamlNested(100)}\n`);
    const r = await ws.run(["submit", "--task", "deep.yaml"]);
    expect(r.errLines).toEqual(["agent-lanes: metadata is nested deeper than 64 levels; flatten it"]);
  });

  it("a task.json another tool wrote 3000 levels deep is a reported problem, and the queue goes on", async () => {
    const good = await ws.submit("review");
    const bad = await ws.submit("review");
    const file = path.join(ws.queue, "tasks", bad, "task.json");
    const task = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...task, metadata: nested(3000) }));
    const status = await ws.run(["status", "--all", "--json"]);
    expect(status.exitCode, status.stderr).toBe(0);
    const payload = status.json<{ tasks: Array<{ id: string }>; problems: Array<{ task_id: string; message: string }> }>();
    expect(payload.tasks.map((t) => t.id)).toEqual([good]);
    expect(payload.problems).toEqual([expect.objectContaining({ task_id: bad, message: expect.stringContaining("nested deeper than 64 levels") })]);
    const claim = await ws.run(["claim", bad, "--owner", "r"]);
    expect(claim.errLines).toEqual([expect.stringMatching(/^agent-lanes: corrupt file .*task\.json: nested deeper than 64 levels$/)]);
  });

  it("event data deeper than 64 levels is refused", async () => {
    const id = await ws.submit();
    const store = openStore(ws.queue);
    try {
      await expect(store.appendEvent(id, { type: "note", data: nested(65) as Record<string, unknown> })).rejects.toThrow("event data is nested deeper than 64 levels");
    } finally {
      await store.close();
    }
  });
});

describe("task ids", () => {
  it("a 300-character task id is a user error on every command, with no bug hint", async () => {
    const long = `a${"b".repeat(299)}`;
    for (const args of [["status", long], ["claim", long, "--owner", "r"], ["wait", long, "--timeout", "0"], ["event", long, "--message", "x"]]) {
      const r = await ws.run(args);
      expect(r.exitCode, args[0]).toBe(1);
      expect(r.errLines, args[0]).toEqual([
        `agent-lanes: invalid task_id: "${long.slice(0, 60)}"... (300 characters) (expected at most 200 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..')`,
      ]);
    }
  });

  it("a correlation id whose task id would pass 200 characters is refused at submit", async () => {
    await ws.file("requests/a.md");
    const r = await ws.run(["submit", "--lane", "review", "--request-from", "requests/a.md", "--response-to", "out/a.md", "--task-id", "c".repeat(170)]);
    expect(r.errLines).toEqual([expect.stringMatching(/^agent-lanes: correlation_id is too long: its task id would be 206 characters \(at most 200\)/)]);
  });
});

describe("control characters", () => {
  it("are refused in lane, source_agent, owner and reviewer", async () => {
    await ws.file("requests/a.md");
    const base = ["submit", "--request-from", "requests/a.md", "--response-to", "out/a.md"];
    // The unlisted-lane warning comes first, escaped to one line like every stderr line.
    expect((await ws.run([...base, "--lane", "review\nstate=completed"])).errLines).toEqual([
      "agent-lanes: warning: lane 'review\\nstate=completed' is not listed under lanes: in " + ws.config + " (listed: default, review); submitting anyway",
      'agent-lanes: lane must not contain control characters (newline, tab...), got "review\\nstate=completed"',
    ]);
    expect((await ws.run([...base, "--lane", "review", "--source-agent", "me\u001b[31m"])).errLines).toEqual([
      'agent-lanes: source_agent must not contain control characters (newline, tab...), got "me\\u001b[31m"',
    ]);
    const id = await ws.submit("review");
    expect((await ws.run(["claim", id, "--owner", "bob\nlease_expired=true"])).errLines).toEqual([
      'agent-lanes: owner must not contain control characters (newline, tab...), got "bob\\nlease_expired=true"',
    ]);
    expect((await ws.run(["respond", id, "--reviewer", "r\tx", "--body", "b"])).errLines).toEqual([
      'agent-lanes: reviewer must not contain control characters (newline, tab...), got "r\\tx"',
    ]);
  });

  it("a lane or owner with a newline written into task.json by another tool cannot forge key=value lines in text output", async () => {
    const id = await ws.submit("review");
    const file = path.join(ws.queue, "tasks", id, "task.json");
    const task = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    await writeFile(
      file,
      JSON.stringify({ ...task, lane: "review\nstate=completed", state: "claimed", claim_owner: "bob\nresponse_exists=true", lease_expires_at: "2999-01-01T00:00:00Z" }),
    );
    const one = await ws.run(["status", id]);
    expect(one.exitCode, one.stderr).toBe(0);
    const keys = one.stdout.trim().split("\n").map((line) => line.split("=")[0]);
    expect(keys.filter((k) => k === "state")).toHaveLength(1);
    expect(keys.filter((k) => k === "response_exists")).toHaveLength(1);
    expect(one.stdout).toContain("lane=review\\nstate=completed\n");
    expect(one.stdout).toContain("claim_owner=bob\\nresponse_exists=true\n");
    const all = await ws.run(["status", "--all"]);
    expect(all.stdout.split("\n").filter((line) => line.startsWith("state="))).toEqual([]);
    expect(all.stdout).toContain(`${id} state=claimed lane=review\\nstate=completed owner=bob\\nresponse_exists=true`);
  });
});

describe("numbers on the command line", () => {
  it("are strictly decimal: hex, exponents, signs and blanks are refused", async () => {
    expect(parseDecimal("16")).toBe(16);
    expect(parseDecimal("0.5")).toBe(0.5);
    for (const bad of ["0x10", "1e3", "+5", "-1", " 7", "7 ", "", "Infinity", "0b1", "1_000", "."]) expect(parseDecimal(bad), bad).toBeNull();
    const id = await ws.submit();
    for (const [flag, value, rule] of [
      ["--timeout", "0x10", "a number >= 0"],
      ["--lease-seconds", "1e3", "a number > 0"],
      ["--lock-timeout", "Infinity", "a number > 0"],
    ] as const) {
      const args = flag === "--timeout" ? ["wait", id, flag, value] : flag === "--lease-seconds" ? ["claim", id, flag, value] : [flag, value, "status", id];
      const r = await ws.run(args);
      expect(r.errLines, flag).toEqual([`agent-lanes: ${flag} must be ${rule}, got '${value}'`]);
    }
  });
});
