// The Python tool's words where they are part of the interface, checked
// against the real Python CLI on the same workspace: the idle lane payload,
// the next_action texts (with their role words) and the order of submit's
// validation errors.

import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI } from "../cli/cli-helpers.js";
import { hasPython, pythonTool } from "./python-tool.js";

describe.runIf(hasPython)("the Python tool's words", () => {
  let root: string;
  const py = (args: string[]) => pythonTool(args, root);
  const ours = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: root, encoding: "utf8" });
  const both = (args: string[]) => [py(args), ours(args)] as const;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "al-words-"));
    expect(py(["init", "--workspace-id", "ws"]).status).toBe(0);
    await writeFile(path.join(root, "req.md"), "request\n");
  }, 60_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("submit reports a task file's prompt_file outside the workspace before a missing --request-from", async () => {
    await mkdir(path.join(root, "tasks"), { recursive: true });
    await writeFile(path.join(root, "tasks", "escape.yaml"), "lane: default\nprompt_file: /etc/hostname\n");
    const [p, o] = both(["submit", "--task", "tasks/escape.yaml"]);
    expect(p.status).toBe(1);
    expect(p.stderr).toMatch(/prompt_file/);
    expect(o.status).toBe(1);
    expect(o.stderr).toMatch(/prompt_file is outside workspace_root/);
    // and with the prompt fine, both name the missing --request-from first
    await writeFile(path.join(root, "tasks", "fine.yaml"), "lane: default\nprompt: hi\n");
    const [p2, o2] = both(["submit", "--task", "tasks/fine.yaml"]);
    expect(p2.stderr).toContain("submit requires --request-from");
    expect(o2.stderr).toContain("submit requires --request-from");
  });

  it("the idle lane payload: the same message and next_action", () => {
    const [p, o] = both(["--json", "wait", "--lane", "quiet", "--timeout", "0"]);
    const pj = JSON.parse(p.stdout) as Record<string, string>;
    const oj = JSON.parse(o.stdout) as Record<string, string>;
    expect(oj.next_action).toBe(pj.next_action);
    expect(oj.message.startsWith(pj.message as string)).toBe(true);
    expect(oj.reason).toBe(pj.reason);
  });

  it("every task next_action starts with the Python tool's words, role words included", () => {
    const submitted = JSON.parse(py(["--json", "submit", "--lane", "default", "--request-from", "req.md", "--response-to", "out.md", "--prompt", "p"]).stdout) as { task_id: string };
    const id = submitted.task_id;
    const view = (run: (a: string[]) => { stdout: string }) => (JSON.parse(run(["--json", "status", id]).stdout) as { task: { next_action: string } }).task.next_action;
    const queued = [view(py), view(ours)];
    expect(queued[1]?.startsWith(queued[0] as string)).toBe(true);
    expect(queued[0]).toMatch(/^monitor: .*; reviewer: /);
    const token = (JSON.parse(py(["--json", "claim", id, "--owner", "bob"]).stdout) as { claim_token: string }).claim_token;
    const claimed = [view(py), view(ours)];
    expect(claimed[1]?.startsWith(claimed[0] as string)).toBe(true);
    const [pr, or] = [
      py(["--json", "respond", id, "--claim-token", token, "--body", "answer"]),
      null,
    ];
    expect(pr.status).toBe(0);
    const completed = [view(py), view(ours)];
    expect(completed[1]?.startsWith(completed[0] as string)).toBe(true);
    expect(completed[0]).toMatch(/^orchestrator: run wait /);
    expect(or).toBeNull();
    const rack = [
      (JSON.parse(py(["--json", "status", "--all"]).stdout) as { next_action: string }).next_action,
      (JSON.parse(ours(["--json", "status", "--all"]).stdout) as { next_action: string }).next_action,
    ];
    expect(rack[1]?.startsWith(rack[0] as string)).toBe(true);
  });

  it("respond's next_action is the Python tool's", () => {
    const id = (JSON.parse(ours(["--json", "submit", "--lane", "default", "--request-from", "req.md", "--response-to", "out2.md", "--prompt", "p"]).stdout) as { task_id: string }).task_id;
    const token = (JSON.parse(ours(["--json", "claim", id]).stdout) as { claim_token: string }).claim_token;
    const mine = JSON.parse(ours(["--json", "respond", id, "--claim-token", token, "--body", "b"]).stdout) as { next_action: string };
    expect(mine.next_action).toBe(`reviewer: stop after this task unless instructed otherwise; orchestrator: run wait ${id}; monitor: re-arm wait --lane default --json if more tasks are expected`);
  });

  it("respond's queue_depth counts what the Python tool counts: the lane's queued tasks, not the claimed ones", () => {
    const submit = (out: string): string =>
      (JSON.parse(ours(["--json", "submit", "--lane", "depth", "--request-from", "req.md", "--response-to", out, "--prompt", "p"]).stdout) as { task_id: string }).task_id;
    const claim = (id: string): string => (JSON.parse(ours(["--json", "claim", id]).stdout) as { claim_token: string }).claim_token;
    const [a, b] = [submit("d-a.md"), submit("d-b.md")];
    submit("d-c.md");
    submit("d-d.md");
    claim(submit("d-e.md")); // claimed: waiting for nobody
    const [ta, tb] = [claim(a), claim(b)];
    // Two queued tasks are left in the lane whichever tool answers.
    const theirs = JSON.parse(py(["--json", "respond", a, "--claim-token", ta, "--body", "x"]).stdout) as { queue_depth: number };
    const mine = JSON.parse(ours(["--json", "respond", b, "--claim-token", tb, "--body", "y"]).stdout) as { queue_depth: number };
    expect(theirs.queue_depth).toBe(2);
    expect(mine.queue_depth).toBe(theirs.queue_depth);
  });
});
