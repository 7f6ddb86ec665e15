// Session resume for threads on one vendor: a dispatcher in-process with the
// real claude and codex adapters, running the fake CLIs of test/fixtures/bin
// as real processes. The fakes keep sessions in a folder and refuse a resume
// of a session they do not hold, so the tests see what the vendor would see:
// which session was continued and what text reached it.

import { promises as fs } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Task } from "../../src/store/types.js";
import { THREAD_BEGIN } from "../../src/supervisor/input.js";
import { RESUME_FAILED_EVENT } from "../../src/supervisor/resume.js";
import { startDispatcher, type Dispatcher } from "../../src/supervisor/supervisor.js";
import { createClaudeAdapter } from "../../vendors/claude.js";
import { createCodexAdapter } from "../../vendors/codex.js";
import type { VendorAdapter, VendorConfig } from "../../vendors/types.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";
import { FAKE_BIN, logSink, waitFor } from "./helpers.js";
import { makeContext, makeTask, runInvocation } from "../vendors/harness.js";

let ws: TestWorkspace;
let sessions: string;
let invocationLog: string;
const dispatchers: Dispatcher[] = [];

beforeEach(async () => {
  ws = await makeWorkspace();
  sessions = path.join(ws.root, "sessions");
  invocationLog = path.join(ws.root, "invocations.jsonl");
});

afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.forceStop("test over")));
  await ws.cleanup();
});

type Vendor = "claude" | "codex";

function configFor(vendor: Vendor): VendorConfig {
  return { command: path.join(FAKE_BIN, vendor), env: { FAKE_AGENT_SESSION_DIR: sessions, FAKE_AGENT_LOG: invocationLog } };
}

function adapterFor(vendor: Vendor): VendorAdapter {
  const config = configFor(vendor);
  return vendor === "claude" ? createClaudeAdapter({ config }) : createCodexAdapter({ config });
}

async function dispatch(vendor: Vendor, options: { maxAttempts?: number } = {}): Promise<Dispatcher> {
  const d = await startDispatcher(
    { vendor, queueRoot: ws.queue, leaseSeconds: 10, pollSeconds: 0.2, graceSeconds: 1, vendorConfig: configFor(vendor), ...options },
    { adapter: adapterFor(vendor), logger: logSink().logger, sweep: false },
  );
  dispatchers.push(d);
  return d;
}

async function answered(task: Task): Promise<Record<string, unknown>> {
  await waitFor(`${task.id} to complete`, async () => (await ws.store.get(task.id)).state === "completed", 20_000);
  return (await ws.store.getResponse(task.id))?.metadata ?? {};
}

interface Logged {
  vendor: string;
  argv: string[];
  stdin: string;
}
const logged = async (): Promise<Logged[]> =>
  (await fs.readFile(invocationLog, "utf8").catch(() => "")).trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Logged);

const session = async (vendor: Vendor, id: string): Promise<{ turns: Array<{ prompt: string; reply: string }> }> =>
  JSON.parse(await fs.readFile(path.join(sessions, `${id}.json`), "utf8")) as { turns: Array<{ prompt: string; reply: string }> };

/** A follow-up of `parent` (or a first task), on `vendor`. */
const step = (n: number, vendor: Vendor, parent?: Task) =>
  ws.submit({
    content: `step ${n}: request text ${"x".repeat(200)}\n`,
    prompt: `Step ${n} of the thread`,
    metadata: { required_vendor: vendor, ...(parent ? { parent_task_id: parent.id } : {}) },
  });

describe("resume argv", () => {
  it("claude adds --resume <id>; codex puts `resume <id>` after its options and before the stdin marker", () => {
    const claude = createClaudeAdapter({ config: {} }).invocation(makeTask(), makeContext({}, { resumeSession: "s-1" }));
    expect(claude.args).toEqual(["-p", "--output-format", "json", "--model", "sonnet", "--resume", "s-1", "--effort", "medium"]);
    const codex = createCodexAdapter({ config: {} }).invocation(makeTask(), makeContext({ args: ["--sandbox", "workspace-write"] }, { resumeSession: "t-1" }));
    expect(codex.args.slice(-6)).toEqual(["--skip-git-repo-check", "--sandbox", "workspace-write", "resume", "t-1", "-"]);
    expect(createClaudeAdapter({ config: {} }).invocation(makeTask(), makeContext({})).args).not.toContain("--resume");
  });

  it("the fake codex refuses options after `resume` and a resume without an id, as clap would", async () => {
    const codex = path.join(FAKE_BIN, "codex");
    const base = { file: codex, input: "hi", cwd: ws.root, env: { FAKE_AGENT_SESSION_DIR: sessions } };
    const stray = await runInvocation({ ...base, args: ["exec", "--json", "resume", "t-1", "--json", "-"] });
    expect(stray.exitCode).toBe(2);
    expect(stray.stderr).toContain("unexpected argument '--json'");
    const noId = await runInvocation({ ...base, args: ["exec", "--json", "resume", "-"] });
    expect(noId.exitCode).toBe(2);
    expect(noId.stderr).toContain("<SESSION_ID>");
    const gone = await runInvocation({ ...base, args: ["exec", "--json", "--skip-git-repo-check", "resume", "t-404", "-"] });
    expect(gone.exitCode).toBe(1);
    const adapter = createCodexAdapter({ config: {} });
    expect(adapter.settle(gone, makeTask())).toMatchObject({ kind: "failed", retry: true, metadata: { resume_failed: "t-404" } });
  });
});

describe.each(["claude", "codex"] as const)("a 3-step thread on %s", (vendor) => {
  it("resumes the parent's session with only its own request, and records each session id", async () => {
    await dispatch(vendor);
    const one = await step(1, vendor);
    const first = await answered(one);
    const two = await step(2, vendor, one);
    const second = await answered(two);
    const three = await step(3, vendor, two);
    const third = await answered(three);

    for (const meta of [first, second, third]) expect(meta).toMatchObject({ vendor, session_id: expect.any(String) });
    const calls = await logged();
    expect(calls).toHaveLength(3);
    const resumedId = (argv: string[]): string | null => {
      const at = argv.indexOf(vendor === "claude" ? "--resume" : "resume");
      return at >= 0 ? (argv[at + 1] as string) : null;
    };
    expect(resumedId(calls[0]!.argv)).toBeNull();
    expect(resumedId(calls[1]!.argv)).toBe(first.session_id);
    expect(resumedId(calls[2]!.argv)).toBe(second.session_id);
    // claude answers a resumed run under a new session id; a codex thread keeps its id.
    if (vendor === "claude") expect(new Set([first.session_id, second.session_id, third.session_id]).size).toBe(3);
    else expect(new Set([first.session_id, second.session_id, third.session_id]).size).toBe(1);

    // What reached the vendor: its own request only, never the pasted thread.
    for (const call of calls.slice(1)) {
      expect(call.stdin).not.toContain(THREAD_BEGIN);
      expect(call.stdin).not.toContain("step 1: request text");
    }
    expect(calls[2]!.stdin).toContain("step 3: request text");
    expect(calls[2]!.stdin).toContain(`Follow-up of task ${two.id} in this same session`);
    // ...while the session it continued holds the whole conversation, one turn per step.
    const turns = (await session(vendor, third.session_id as string)).turns;
    expect(turns.map((t) => /step (\d): request/.exec(t.prompt)?.[1])).toEqual(["1", "2", "3"]);
  });
});

describe("falling back to the pasted thread", () => {
  it("a parent answered by another vendor: no resume, the thread is pasted", async () => {
    await dispatch("codex");
    const one = await step(1, "codex");
    await answered(one);
    await dispatch("claude");
    const two = await step(2, "claude", one);
    await answered(two);
    const calls = await logged();
    const claudeCall = calls.find((c) => c.vendor === "claude")!;
    expect(claudeCall.argv).not.toContain("--resume");
    expect(claudeCall.stdin).toContain(THREAD_BEGIN);
    expect(claudeCall.stdin).toContain(`BEGIN RESPONSE: ${one.id}`);
  });

  it("a session that is gone: the resumed run fails, the task is released without using an attempt, and the retry pastes the thread", async () => {
    await dispatch("claude", { maxAttempts: 1 });
    const one = await step(1, "claude");
    const first = await answered(one);
    await fs.rm(path.join(sessions, `${first.session_id as string}.json`));
    const two = await step(2, "claude", one);
    await answered(two);
    const calls = (await logged()).slice(1);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.argv).toContain("--resume");
    expect(calls[0]!.stdin).not.toContain(THREAD_BEGIN);
    expect(calls[1]!.argv).not.toContain("--resume");
    expect(calls[1]!.stdin).toContain(THREAD_BEGIN);
    const events = await ws.store.readEvents(two.id);
    expect(events.filter((e) => e.type === RESUME_FAILED_EVENT).map((e) => e.data.session_id)).toEqual([first.session_id]);
    expect(events.filter((e) => e.type === "headless_failed").map((e) => e.data.counts_as_attempt)).toEqual([false]);
  });

  it("metadata resume: false opts out", async () => {
    await dispatch("claude");
    const one = await step(1, "claude");
    await answered(one);
    const two = await ws.submit({ prompt: "Step 2", metadata: { required_vendor: "claude", parent_task_id: one.id, resume: false } });
    await answered(two);
    const calls = await logged();
    expect(calls[1]!.argv).not.toContain("--resume");
    expect(calls[1]!.stdin).toContain(THREAD_BEGIN);
  });
});
