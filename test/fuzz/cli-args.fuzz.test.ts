// Fuzz: the agent-lanes binary with arbitrary arguments. Every run ends
// with exit code 0, 1 or 2; an error is one message on stderr, never a stack
// trace (unless --debug); --json output parses; and the queue it worked on is
// valid afterwards, with every task's paths inside workspace_root.
// Commands that run until stopped (serve, dispatch, demo) or touch the
// system (service) are only asked for --help.

import { spawn } from "node:child_process";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type Task } from "../../src/store/index.js";
import { auditQueue } from "../chaos/support/audit.js";
import { CLI, requireBuild } from "../chaos/support/processes.js";
import { createFigures, runs } from "./support/figures.js";

const figures = createFigures("fuzz-cli");

let tmp: string;
/** The workspace and cwd of every run: six folders deep in tmp, so up to four `..` stay inside it. */
let ws: string;
let queue: string;
let taskIds: string[] = [];
let tokens: string[] = [];

beforeAll(async () => {
  requireBuild();
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), "al-fuzz-cli-")));
  ws = path.join(tmp, "d1", "d2", "d3", "d4", "d5", "w");
  queue = path.join(ws, "handoff", "state");
  await mkdir(path.join(ws, "sub"), { recursive: true });
  await mkdir(path.join(ws, "tasks"), { recursive: true });
  expect((await cli(["init", "--workspace-id", "fuzz"])).code).toBe(0);
  await writeFile(path.join(ws, "r.md"), "request\n");
  await writeFile(path.join(ws, "sub", "r2.md"), "request two\n");
  await writeFile(path.join(ws, "tasks", "t.yaml"), "lane: default\nrequest_from: r.md\nresponse_to: out/t.md\nprompt: from the task file\n");
  const store = openStore(queue);
  for (let i = 0; i < 4; i++) {
    const task = await store.create({ workspace_id: "fuzz", correlation_id: `seed-${i}`, lane: "default", workspace_root: ws, request_path: path.join(ws, "r.md"), response_path: `out/${i}.md` });
    taskIds.push(task.id);
  }
  const claimed = await store.claim(taskIds[0] as string, { owner: "seed", leaseSeconds: 3600 });
  tokens = [claimed.claim_token as string];
  await store.close();
});

afterAll(async () => {
  figures.write();
  await rm(tmp, { recursive: true, force: true });
});

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  hung: boolean;
}

function cli(args: string[], timeoutMs = 20_000): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ws, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, AGENT_LANES_DEBUG: "" } });
    let stdout = "";
    let stderr = "";
    let hung = false;
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      hung = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, hung });
    });
  });
}

// --- argument generators --------------------------------------------------------

/** argv cannot carry NUL bytes. */
const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.constantFrom("", " ", "-", "--", "--x", "-h", "=", "k=v", "\n", "é", "$(id)", "`id`", "a;b", "%s", "{}", "null"),
).map((s) => s.replace(/\0/g, ""));
const number = fc.oneof(fc.constantFrom("0", "-1", "1", "1.5", "3", "1e309", "NaN", "Infinity", "0x10", "99999999999999999999", "", " 7", "1e-9", "abc"), fc.integer().map(String));
const pathArg = fc.oneof(
  fc.array(fc.constantFrom("..", ".", "w", "handoff", "handoff.yaml", "state", "tasks", "t.yaml", "r.md", "sub", "r2.md", "out", "x y", "é", "-", "new"), { minLength: 1, maxLength: 4 })
    .filter((pieces) => pieces.filter((p) => p === "..").length <= 4)
    .map((pieces) => pieces.join("/")),
  fc.constantFrom("handoff/handoff.yaml", "handoff/state", "r.md", "sub/r2.md", "tasks/t.yaml", "-", ""),
);
const taskId = fc.oneof(
  fc.constantFrom("existing-0", "existing-1", "existing-2", "existing-claimed"),
  fc.constantFrom("..", "../x", "a..b", "unknown-task", "-x", ".hidden", "20260101T000000000000Z-x-000000000000"),
  text,
);
const keyValue = fc.oneof(fc.constantFrom("k=v", "model_used=opus", "=v", "k", "k==", "parent_task_id=../x", "required_vendor=claude"), text);

type Flag = [flag: string, value: fc.Arbitrary<string> | null];
const COMMANDS: Record<string, { positional: fc.Arbitrary<string[]>; flags: Flag[]; blocking?: boolean }> = {
  init: { positional: fc.array(pathArg, { maxLength: 1 }), flags: [["--workspace-id", text], ["--workspace-root", pathArg], ["--queue-root", pathArg]] },
  "init-pool": { positional: fc.array(pathArg, { maxLength: 2 }), flags: [["--workspace-id", text]] },
  submit: {
    positional: fc.array(text, { maxLength: 1 }),
    flags: [["--task", pathArg], ["--lane", fc.oneof(fc.constant("default"), text)], ["--request-from", pathArg], ["--response-to", pathArg], ["--prompt", text],
      ["--prompt-file", pathArg], ["--worktree-path", pathArg], ["--branch", text], ["--metadata", keyValue], ["--source-agent", text], ["--task-id", text]],
  },
  wait: { positional: fc.array(taskId, { maxLength: 1 }), flags: [["--lane", text], ["--timeout", number], ["--heartbeat-seconds", number], ["--quiet", null]], blocking: true },
  next: { positional: fc.array(text, { maxLength: 1 }), flags: [["--lane", fc.oneof(fc.constant("default"), text)], ["--timeout", number], ["--heartbeat-seconds", number], ["--quiet", null]], blocking: true },
  watch: { positional: fc.constant([]), flags: [["--lane", fc.oneof(fc.constant("default"), text)], ["--timeout", number], ["--quiet", null]], blocking: true },
  claim: { positional: fc.array(taskId, { minLength: 0, maxLength: 2 }), flags: [["--owner", text], ["--lease-seconds", number]] },
  renew: { positional: fc.array(taskId, { maxLength: 1 }), flags: [["--claim-token", fc.oneof(fc.constant("the-token"), text)], ["--lease-seconds", number]] },
  release: { positional: fc.array(taskId, { maxLength: 1 }), flags: [["--claim-token", fc.oneof(fc.constant("the-token"), text)], ["--reason", text]] },
  event: { positional: fc.array(taskId, { maxLength: 1 }), flags: [["--type", text], ["--message", text], ["--data", keyValue]] },
  respond: {
    positional: fc.array(taskId, { maxLength: 1 }),
    flags: [["--claim-token", fc.oneof(fc.constant("the-token"), text)], ["--file", pathArg], ["--body", text], ["--reviewer", text],
      ["--status", fc.oneof(fc.constantFrom("completed", "failed"), text)], ["--follow-up-required", null],
      ["--verdict", fc.oneof(fc.constantFrom("accept", "accept-with-follow-ups", "needs-revision"), text)], ["--blocking-count", number],
      ["--nonblocking-count", number], ["--expect-sha256", text], ["--metadata", keyValue]],
  },
  list: { positional: fc.array(text, { maxLength: 1 }), flags: [["--lane", text], ["--active-only", null]] },
  status: { positional: fc.array(taskId, { maxLength: 1 }), flags: [["--all", null], ["--rack", null], ["--lane", text], ["--active-only", null]] },
  "self-test": { positional: fc.constant([]), flags: [] },
  help: { positional: fc.array(fc.constantFrom("claim", "nope", "respond"), { maxLength: 1 }), flags: [] },
};
const HELP_ONLY = ["serve", "dispatch", "demo", "service"];

const flagsOf = (flags: Flag[]): fc.Arbitrary<string[]> =>
  flags.length === 0
    ? fc.constant([])
    : fc.array(fc.constantFrom(...flags).chain(([flag, value]) => (value ? value.map((v) => [flag, v]) : fc.constant([flag]))), { maxLength: 5 }).map((pairs) => pairs.flat());

const globals = fc.array(
  fc.oneof(
    fc.constant(["--json"]),
    fc.constant(["--debug"]),
    pathArg.map((p) => ["--store", p]),
    fc.constant(["--store", "handoff/state"]),
    pathArg.map((p) => ["--config", p]),
  ),
  { maxLength: 2 },
).map((parts) => parts.flat());

/** Invocations that mostly succeed (then get a random extra flag), so the success paths are fuzzed too. */
const plausible: fc.Arbitrary<{ command: string; argv: string[] }> = fc
  .tuple(
    fc.constantFrom(
      ["submit", "--lane", "default", "--request-from", "r.md", "--response-to", "out/p.md"],
      ["submit", "--task", "tasks/t.yaml"],
      ["submit", "--task", "tasks/t.yaml", "--lane", "other", "--prompt-file", "r.md"],
      ["claim", "existing-1", "--owner", "fuzz", "--lease-seconds", "600"],
      ["claim", "existing-2"],
      ["renew", "existing-claimed", "--claim-token", "the-token"],
      ["event", "existing-1", "--type", "note", "--message", "hi", "--data", "k=v"],
      ["respond", "existing-claimed", "--claim-token", "the-token", "--body", "ok"],
      ["respond", "existing-3", "--body", "ok", "--verdict", "needs-revision", "--blocking-count", "1"],
      ["wait", "existing-1"],
      ["wait", "--lane", "default"],
      ["next", "--lane", "default"],
      ["status", "existing-0"],
      ["status", "--all"],
      ["list", "--active-only"],
    ),
    fc.array(fc.constantFrom(...Object.values(COMMANDS).flatMap((c) => c.flags)), { maxLength: 1 }).chain((flags) => flagsOf(flags)),
    fc.boolean(),
  )
  .map(([base, extra, json]) => {
    const argv = [...(json ? ["--json"] : []), ...base, ...extra];
    const command = base[0] as string;
    return { command, argv: COMMANDS[command]?.blocking ? [...argv, "--timeout", "0"] : argv };
  });

const invocation: fc.Arbitrary<{ command: string; argv: string[] }> = fc.oneof(
  { weight: 6, arbitrary: plausible },
  { weight: 12, arbitrary: fc.constantFrom(...Object.keys(COMMANDS)).chain((command) => {
    const spec = COMMANDS[command] as (typeof COMMANDS)[string];
    return fc.tuple(globals, spec.positional, flagsOf(spec.flags), fc.array(text, { maxLength: 1 }), fc.boolean()).map(([g, pos, flags, junk, jsonAfter]) => {
      let argv = [...g, command, ...pos, ...flags, ...junk, ...(jsonAfter ? ["--json"] : [])];
      // Long polls look once (the last --timeout wins); self-test is slow: keep it rare.
      if (spec.blocking) argv = [...argv, "--timeout", "0"];
      return { command, argv };
    });
  }) },
  { weight: 1, arbitrary: fc.tuple(globals, fc.constantFrom(...HELP_ONLY)).map(([g, command]) => ({ command, argv: [...g, command, "--help"] })) },
  { weight: 1, arbitrary: fc.array(text, { maxLength: 4 }).map((argv) => ({ command: "(garbage)", argv })) },
);

/** Put real ids and the real claim token where the generator left placeholders. */
function concrete(argv: string[]): string[] {
  return argv.map((arg) => {
    const m = /^existing-(\d|claimed)$/.exec(arg);
    if (m) return m[1] === "claimed" ? (taskIds[0] as string) : (taskIds[Number(m[1])] as string);
    return arg === "the-token" ? (tokens[0] as string) : arg;
  });
}

const STACK_LINE = /^\s+at\s+\S.*(\(.*:\d+:\d+\)|:\d+:\d+)$/m;
const JSON_COMMANDS = new Set(["submit", "claim", "renew", "release", "event", "respond", "list", "status", "wait", "next", "watch", "init", "init-pool"]);

function inside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

describe("fuzz: CLI arguments", () => {
  it("any argv: exit 0/1/2, one clear error and no stack trace, --json output parses, the queue stays valid", async () => {
    const codes: Record<string, number> = {};
    const property = fc.asyncProperty(invocation, async ({ command, argv }) => {
      const args = concrete(argv);
      const out = await cli(args);
      const shown = `agent-lanes ${JSON.stringify(args)}\nexit ${out.code ?? out.signal}\nstderr: ${out.stderr.slice(0, 1500)}`;
      expect(out.hung, `hung: ${shown}`).toBe(false);
      expect([0, 1, 2], shown).toContain(out.code);
      codes[String(out.code)] = (codes[String(out.code)] ?? 0) + 1;
      if (!args.includes("--debug")) expect(out.stderr, `stack trace: ${shown}`).not.toMatch(STACK_LINE);
      if (out.code === 1) expect(out.stderr.trim(), `an error says why: ${shown}`).not.toBe("");
      const helpAsked = args.some((a) => a === "--help" || a === "-h" || a === "help" || a === "--version" || a === "-V");
      // After "--" every word is an operand, "--json" too.
      const options = args.includes("--") ? args.slice(0, args.indexOf("--")) : args;
      if (out.code === 0 && options.includes("--json") && JSON_COMMANDS.has(command) && !helpAsked) {
        expect(() => JSON.parse(out.stdout), `--json output parses: ${shown}\nstdout: ${out.stdout.slice(0, 500)}`).not.toThrow();
      }
    });
    await figures.check("CLI argv", property, { numRuns: runs(120), endOnFailure: true });
    figures.note(`CLI argv: exit codes ${JSON.stringify(codes)}`);

    await figures.guard(async () => {
      // The queue the runs worked on is valid: every file parses in Python's style, nothing escapes workspace_root.
      const audit = await auditQueue(queue, { pythonStyle: true });
      expect(audit.problems).toEqual([]);
      const store = openStore(queue);
      try {
        const tasks: Task[] = await store.list();
        expect(store.problems()).toEqual([]);
        for (const task of tasks) {
          for (const p of [task.request_path, task.response_path, ...task.supporting_paths.map((s) => s.path)]) {
            expect(inside(task.workspace_root, p), `${task.id}: ${p} inside ${task.workspace_root}`).toBe(true);
          }
        }
        figures.note(`CLI argv: the queue held ${tasks.length} tasks afterwards, ${audit.filesChecked} files audited`);
      } finally {
        await store.close();
      }
    });
  }, 240_000);
});
