// The contract every real vendor CLI is held to, written once and run per
// vendor (claude.test.ts, codex.test.ts, gemini.test.ts). Each scenario
// scripts the stand-in model server, runs `agent-lanes dispatch` with the
// real CLI and asserts on the queue files, the log and what reached the model.

import { expect, it } from "vitest";
import { promises as fs } from "node:fs";
import path from "node:path";
import { allText, type RecordedRequest, type Step, type ToolCall } from "../fixtures/model-servers/core.js";
import { CODEX_KEY_ENV } from "../fixtures/model-servers/openai.js";
import { execa } from "execa";
import { VENDOR_DEFAULTS } from "../../vendors/defaults.js";
import { loadAdapter } from "../../vendors/registry.js";
import { logLines, realCli, makeLab, stopDispatcher, waitFor, type Lab, type LabOptions, type RealVendor } from "./harness.js";

export interface VendorSpec {
  vendor: RealVendor;
  /** The model_class the answer scenario asks for, and the id that must reach the model for it. */
  answerClass: { modelClass: string; modelId: RegExp };
  /** The effort the answer scenario asks for and how it reaches the model (null: the CLI has no effort setting). */
  effortOf: ((request: RecordedRequest) => unknown) | null;
  modelOf(request: RecordedRequest): string | null;
  limit(resetAt: Date): Step;
  /** Environment the limit scenario needs (claude: a subscription token, whose 429 names the reset). */
  limitEnv?: Record<string, string>;
  /** Whether the CLI states the reset (claude, codex) or not (gemini: a backoff). */
  limitStatesReset: boolean;
  unauthorized(): Step;
  overloaded(): Step;
  unknownModel(model: string): Step;
  /** Text of the failure the overload scenario must report. */
  overloadReason: RegExp;
  /** The cost the answer reports: the CLI's own (claude) or our estimate. */
  costEstimated: boolean;
  /** Checks that the CLI's own retries of a 5xx backed off (the requests of the overload scenario). */
  backoffShown?: (turns: RecordedRequest[]) => void;
  /** A tool call that needs a permission, and how the CLI's next request carries its result. */
  permissionTool?: { call: (marker: string) => ToolCall; resultIn(request: RecordedRequest, callId: string): boolean };
}

/** An answer with a review verdict at its end. */
export const ANSWER_TEXT = "The plan is sound; two small points below.\n\n1. Name the lock file.\n2. Log the retry count.\n\nVERDICT: accept-with-follow-ups\nBLOCKING: 0\nNONBLOCKING: 2";
const ANSWER: Step = { text: ANSWER_TEXT, usage: { input: 321, output: 54 } };

/** The tokens and text every prompt of a thread should carry. */
const MARK = { artifact: "REQUEST-ARTIFACT-BRAVO-7", parent: "PARENT-ANSWER-ALPHA-3", prompt: "Review the plan for ops risks" };

function promptText(request: RecordedRequest): string {
  return allText(request.body);
}

async function lab(spec: VendorSpec, options: LabOptions): Promise<Lab> {
  return makeLab(spec.vendor, options);
}

/** A finished parent task and a child in its thread; returns the child's id. */
async function threadTasks(l: Lab, metadata: Record<string, unknown>): Promise<string> {
  const parent = await l.ws.submit({ content: "the first version of the plan\n", prompt: "Review the first version" });
  const claimed = await l.ws.store.claim(parent.id, { owner: "earlier-reviewer", leaseSeconds: 60 });
  await l.ws.store.respond(parent.id, { body: `Earlier review: ${MARK.parent}`, claimToken: claimed.claim_token, reviewer: "earlier-reviewer" });
  const child = await l.ws.submit({
    content: `# Plan\n\n${MARK.artifact}\n`,
    prompt: MARK.prompt,
    metadata: { parent_task_id: parent.id, thread_id: "thread-1", ...metadata },
  });
  return child.id;
}

export function answerScenario(spec: VendorSpec): void {
  it(`${spec.vendor}: an answer completes the task with body, tokens, model, session, cost and verdict; the model got the id, effort, prompt, artifact and thread`, async () => {
    const l = await lab(spec, { script: [ANSWER] });
    try {
      const id = await threadTasks(l, { model_class: spec.answerClass.modelClass, effort: "high", required_vendor: spec.vendor });
      const d = l.dispatch();
      await l.waitState(id, "completed");
      await stopDispatcher(d);

      // What reached the model.
      const turns = l.model.turns();
      expect(turns.length).toBeGreaterThanOrEqual(1);
      const main = turns.find((t) => promptText(t).includes(MARK.artifact));
      expect(main, "no model request carried the request artifact").toBeDefined();
      const request = main as RecordedRequest;
      expect(spec.modelOf(request)).toMatch(spec.answerClass.modelId);
      const text = promptText(request);
      expect(text).toContain(MARK.prompt);
      expect(text).toContain(MARK.artifact);
      expect(text).toContain(MARK.parent);
      expect(text).toContain("BEGIN THREAD CONTEXT");
      if (spec.effortOf) expect(spec.effortOf(request)).toBe("high");
      // A CLI without an effort setting gets the effort as a hint in the text.
      else expect(text).toMatch(/effort[^\n]*high/i);
      const response = await l.ws.store.getResponse(id);
      expect(response?.status).toBe("completed");
      expect(response?.body).toContain("The plan is sound");
      const meta = response?.metadata ?? {};
      expect(meta.tokens_in).toBeGreaterThanOrEqual(321);
      expect(meta.tokens_out).toBe(54);
      expect(String(meta.model_used)).toMatch(spec.answerClass.modelId);
      expect(typeof meta.session_id).toBe("string");
      expect(String(meta.session_id)).not.toBe("");
      // claude reports its own cost; codex and gemini get one from our price table.
      expect(meta.cost_usd).toBeGreaterThan(0);
      if (spec.costEstimated) expect(meta.cost_estimated).toBe(true);
      else expect(meta.cost_estimated ?? false).toBe(false);
      // The trailing VERDICT/BLOCKING/NONBLOCKING lines fill the review fields.
      expect(response?.verdict).toBe("accept-with-follow-ups");
      expect(response?.blocking_count).toBe(0);
      expect(response?.nonblocking_count).toBe(2);
    } finally {
      await l.close();
    }
  });
}

export function limitScenario(spec: VendorSpec): void {
  it(`${spec.vendor}: a subscription usage limit releases the task, pauses the vendor until the reset, shows in status --all, and claiming resumes after`, async () => {
    // A reset on a whole minute: the CLIs print minutes only.
    const resetAt = new Date(Math.ceil((Date.now() + 2 * 3600_000) / 60_000) * 60_000);
    const l = await lab(spec, { script: [spec.limit(resetAt)], env: { TZ: "UTC", ...(spec.limitEnv ?? {}) } });
    try {
      const id = (await l.ws.submit({ content: "limit me\n", metadata: { required_vendor: spec.vendor } })).id;
      const d = l.dispatch();
      const pause = await waitFor("the vendor's pause file", () => l.pause(), 90_000);
      await l.waitState(id, "queued");
      expect(pause.kind).toBe("usage-limit");
      const until = Date.parse(pause.until);
      if (spec.limitStatesReset) {
        // Until the stated reset, plus at most the jitter (60 s) and a minute of clock rounding.
        expect(until).toBeGreaterThanOrEqual(resetAt.getTime() - 60_000);
        expect(until).toBeLessThanOrEqual(resetAt.getTime() + 120_000);
      } else {
        expect(until).toBeGreaterThan(Date.now());
      }
      const events = await l.events(id);
      expect(events.map((e) => e.type)).toContain("usage_limit");
      expect(await l.ws.store.getResponse(id)).toBeNull();

      const status = await l.cli(["status", "--all", "--json"]);
      expect(status.exitCode, status.stderr).toBe(0);
      const pauses = (JSON.parse(status.stdout) as { pauses: Array<{ vendor: string; active: boolean }> }).pauses;
      expect(pauses.find((p) => p.vendor === spec.vendor)?.active).toBe(true);

      // The reset passes (the pause file's end moves into the past) and the model answers again.
      const turnsBefore = l.model.turns().length;
      l.model.setScript([ANSWER]);
      const file = path.join(l.ws.queue, "pauses", `${spec.vendor}.json`);
      await fs.writeFile(file, JSON.stringify({ ...pause, until: new Date(Date.now() - 1000).toISOString().replace(/\.\d{3}Z$/, "Z") }));
      await l.waitState(id, "completed");
      expect(l.model.turns().length).toBeGreaterThan(turnsBefore);
      const claims = (await l.events(id)).filter((e) => e.type === "claimed");
      expect(claims.length).toBe(2);
      await stopDispatcher(d);
    } finally {
      await l.close();
    }
  });
}

/**
 * Credentials the API refuses: every task stays queued, one `needs-login`
 * pause with the fix, a log line saying so; after the login (the stand-in
 * accepts again) and `agent-lanes resume --vendor X`, every task completes.
 */
export function credentialsScenario(spec: VendorSpec, count: number, options: { noCredentials?: boolean; fix?: RegExp } = {}): void {
  const how = options.noCredentials ? "not logged in" : "a key the model server refuses";
  it(`${spec.vendor}: ${how} with ${count} queued task(s): all stay queued under a needs-login pause with the fix; after the login and resume --vendor all complete`, async () => {
    const l = await lab(spec, { script: [spec.unauthorized()], noCredentials: options.noCredentials });
    try {
      const ids: string[] = [];
      for (let i = 0; i < count; i += 1) ids.push((await l.ws.submit({ content: `task ${i}\n`, metadata: { required_vendor: spec.vendor } })).id);
      const d = l.dispatch(["--max-attempts", "2"]);
      const pause = await waitFor("a needs-login pause", async () => {
        const p = await l.pause();
        return p && p.kind === "needs-login" ? p : null;
      }, 90_000);
      for (const id of ids) await l.waitState(id, "queued");
      const turnsAtPause = l.model.turns().length;
      // Poll cycles pass (0.2 s each): a dispatcher that ignored the pause would claim again.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      for (const id of ids) {
        expect((await l.task(id)).state).toBe("queued");
        expect(await l.ws.store.getResponse(id)).toBeNull();
      }
      expect(l.model.turns().length).toBe(turnsAtPause);
      const claimed = (await Promise.all(ids.map((id) => l.events(id)))).map((events) => events.filter((e) => e.type === "claimed").length);
      expect(claimed.reduce((a, b) => a + b, 0)).toBe(1);
      // The attempt did not count.
      const failedEvents = (await Promise.all(ids.map((id) => l.events(id)))).flat().filter((e) => e.type === "headless_failed");
      for (const e of failedEvents) expect(e.data.counts_as_attempt).toBe(false);

      expect(typeof pause.fix).toBe("string");
      if (options.fix) expect(pause.fix).toMatch(options.fix);
      const said = logLines(d, /login/i).map((line) => String(line.msg));
      expect(said.some((msg) => msg.includes(String(pause.fix))), `log lines: ${said.join(" | ")}`).toBe(true);
      const status = await l.cli(["status", "--all"]);
      expect(status.stdout).toMatch(/needs a login/);

      // The login: the model accepts again (a machine with no credentials gets
      // a key, which a dispatcher reads from its environment when it starts).
      l.model.setScript([ANSWER]);
      let serving = d;
      if (options.noCredentials) {
        await stopDispatcher(d);
        l.env[CREDENTIAL_ENV[spec.vendor]] = "stand-in-key-after-login";
      }
      const resume = await l.cli(["resume", "--vendor", spec.vendor]);
      expect(resume.exitCode, resume.stderr).toBe(0);
      if (options.noCredentials) serving = l.dispatch();
      for (const id of ids) await l.waitState(id, "completed");
      await stopDispatcher(serving);
      for (const id of ids) expect((await l.ws.store.getResponse(id))?.status).toBe("completed");
      expect(await l.pause()).toBeNull();
    } finally {
      await l.close();
    }
  });
}

/** Where each lab's CLI reads its key from. */
const CREDENTIAL_ENV: Record<RealVendor, string> = { claude: "ANTHROPIC_API_KEY", codex: CODEX_KEY_ENV, gemini: "GEMINI_API_KEY" };

export function overloadScenario(spec: VendorSpec): void {
  it(`${spec.vendor}: an overloaded API (5xx) is retried with backoff, then the task fails with the reason after the attempts`, async () => {
    const l = await lab(spec, { script: [spec.overloaded()] });
    try {
      const id = (await l.ws.submit({ content: "overload\n", metadata: { required_vendor: spec.vendor } })).id;
      const d = l.dispatch(["--max-attempts", "2"]);
      await l.waitState(id, "failed", 150_000);
      await stopDispatcher(d);
      const response = await l.ws.store.getResponse(id);
      expect(response?.status).toBe("failed");
      expect(response?.body).toMatch(spec.overloadReason);
      expect(response?.body).toContain("gave up after 2 attempts");
      const events = await l.events(id);
      expect(events.filter((e) => e.type === "claimed")).toHaveLength(2);
      // Each run retried inside the CLI before giving up: more requests than runs.
      expect(l.model.turns().length).toBeGreaterThan(2);
      spec.backoffShown?.(l.model.turns());
    } finally {
      await l.close();
    }
  });
}

/** `idleSeconds` must be longer than the CLI's silent start-up (gemini: several seconds before its first request). */
export function stallScenario(spec: VendorSpec, idleSeconds = 4): void {
  it(`${spec.vendor}: a stream that stalls is stopped by the idle timeout and the task fails saying so`, async () => {
    const l = await lab(spec, { script: [{ kind: "stall" }] });
    try {
      const id = (await l.ws.submit({ content: "stall\n", metadata: { required_vendor: spec.vendor } })).id;
      const d = l.dispatch(["--idle-timeout", String(idleSeconds), "--max-attempts", "1"]);
      await l.waitState(id, "failed", 120_000);
      await stopDispatcher(d);
      const response = await l.ws.store.getResponse(id);
      expect(response?.body).toMatch(/no output for too long/);
      expect(response?.metadata.killed_by).toBe("idle-timeout");
      expect(l.model.turns().length).toBeGreaterThanOrEqual(1);
    } finally {
      await l.close();
    }
  });
}

export function unknownModelScenario(spec: VendorSpec, model: string): void {
  it(`${spec.vendor}: an unknown model fails the task at once; the reason names the model and where to change it`, async () => {
    const l = await lab(spec, {
      script: (request) => (spec.modelOf(request) === model ? spec.unknownModel(model) : ANSWER),
      vendorConfig: { models: { any: model } },
    });
    try {
      const id = (await l.ws.submit({ content: "unknown model\n", metadata: { required_vendor: spec.vendor } })).id;
      const d = l.dispatch(["--max-attempts", "3"]);
      await l.waitState(id, "failed", 120_000);
      await stopDispatcher(d);
      const response = await l.ws.store.getResponse(id);
      expect(response?.body).toContain(model);
      expect(response?.body).toContain(`dispatch.vendors.${spec.vendor}.models`);
      // Permanent: one attempt, no retries.
      expect((await l.events(id)).filter((e) => e.type === "claimed")).toHaveLength(1);
      expect(l.model.turns().some((t) => spec.modelOf(t) === model)).toBe(true);
    } finally {
      await l.close();
    }
  });
}

/**
 * Every model_class of the vendor's default table, run through the adapter's
 * own invocation and the real CLI: the CLI accepts the id (claude, gemini:
 * resolves the alias to a model of its family), codex knows it (no "Model
 * metadata ... not found" fallback warning).
 */
export function modelTableScenario(spec: VendorSpec, family: RegExp): void {
  it(`${spec.vendor}: every model_class of the default table maps to an id the pinned CLI knows`, async () => {
    const l = await lab(spec, { script: [{ text: "ok", usage: { input: 5, output: 1 } }] });
    try {
      const adapter = await loadAdapter(spec.vendor, { config: {} });
      const { bin } = realCli(spec.vendor);
      for (const [modelClass, id] of Object.entries(VENDOR_DEFAULTS[spec.vendor].models)) {
        const task = await l.ws.submit({ content: `class ${modelClass}\n`, metadata: { model_class: modelClass } });
        const warnings: string[] = [];
        const invocation = adapter.invocation(task, { input: `model class ${modelClass}`, cwd: l.ws.root, attempt: 1, config: { command: bin }, warn: (m) => warnings.push(m) });
        expect(invocation.model).toBe(id);
        expect(warnings).toEqual([]);
        const before = l.model.turns().length;
        const run = await execa(invocation.file, invocation.args, { input: invocation.input, cwd: invocation.cwd, env: { ...l.env, ...(invocation.env ?? {}) }, reject: false, timeout: 90_000 });
        expect(run.exitCode, `${modelClass} -> ${id}: ${String(run.stderr).slice(-800)}`).toBe(0);
        expect(String(run.stdout)).not.toMatch(/Model metadata for .* not found/);
        const sent = l.model.turns().slice(before).map((t) => spec.modelOf(t));
        expect(sent.length, `${modelClass}: no model request`).toBeGreaterThan(0);
        for (const model of sent) expect(model).toMatch(family);
        // An explicit id reaches the model as it is; an alias resolves to a model of the family.
        if (family.test(id)) expect(sent).toContain(id);
      }
    } finally {
      await l.close();
    }
  });
}

/**
 * The default invocation asks no question a headless run cannot answer: the
 * model asks for a tool that needs a permission (a shell command), and the
 * CLI settles it on its own (runs or refuses it) and goes on to the answer,
 * well before the idle timeout would stop a CLI waiting for a person.
 */
export function headlessScenario(spec: VendorSpec): void {
  const tool = spec.permissionTool;
  if (!tool) throw new Error(`${spec.vendor}: no permissionTool in its spec`);
  it(`${spec.vendor}: a tool call that needs a permission gets settled without a person; the run goes on to the answer`, async () => {
    const callId = `call_headless_${spec.vendor}`;
    const l = await lab(spec, {
      script: (_request, n) => (n === 0 ? { toolCalls: [{ ...tool.call("headless-marker"), id: callId }], usage: { input: 50, output: 5 } } : ANSWER),
    });
    try {
      const id = (await l.ws.submit({ content: "use a tool\n", metadata: { required_vendor: spec.vendor } })).id;
      const d = l.dispatch(["--idle-timeout", "30", "--max-attempts", "1"]);
      await l.waitState(id, "completed", 120_000);
      await stopDispatcher(d);
      const turns = l.model.turns();
      expect(turns.length).toBeGreaterThanOrEqual(2);
      expect(turns.slice(1).some((t) => tool.resultIn(t, callId)), "no later request carried the tool's result").toBe(true);
      expect((await l.ws.store.getResponse(id))?.body).toContain("The plan is sound");
    } finally {
      await l.close();
    }
  });
}

/** The conversation a model request carries, as {role, text} items (Anthropic messages, OpenAI Responses input). */
function conversation(request: RecordedRequest): Array<{ role: string; text: string }> {
  const body = (request.body ?? {}) as { messages?: unknown; input?: unknown };
  const items = Array.isArray(body.messages) ? body.messages : Array.isArray(body.input) ? body.input : [];
  return items
    .filter((item): item is { role: string; content?: unknown } => typeof item === "object" && item !== null && typeof (item as { role?: unknown }).role === "string")
    .map((item) => ({ role: item.role, text: allText(item.content) }));
}

/**
 * Session resume (issue 17): a follow-up of a task this vendor answered runs
 * `claude -p --resume <id>` / `codex exec resume <id>`; the model sees the
 * earlier exchange as turns of the conversation the CLI kept, and the new
 * request alone in the last user turn, never a pasted thread.
 */
export function resumeScenario(spec: VendorSpec): void {
  it(`${spec.vendor}: a follow-up of its own answer resumes the CLI's session: the model gets the earlier exchange as conversation turns, not a pasted thread`, async () => {
    const first = "RESUME-FIRST-REQUEST-CHARLIE-5";
    const second = "RESUME-SECOND-REQUEST-DELTA-8";
    const firstAnswer = "First answer: ECHO-ANSWER-9";
    const l = await lab(spec, {
      script: (request) => ({ text: promptText(request).includes(second) ? "Second answer: FOXTROT-2" : firstAnswer, usage: { input: 100, output: 10 } }),
    });
    try {
      const one = await l.ws.submit({ content: `${first}\n`, prompt: "Answer the first request", metadata: { required_vendor: spec.vendor } });
      const d = l.dispatch();
      await l.waitState(one.id, "completed");
      const session = (await l.ws.store.getResponse(one.id))?.metadata?.session_id;
      expect(typeof session).toBe("string");
      const two = await l.ws.submit({ content: `${second}\n`, prompt: "Answer the follow-up", metadata: { required_vendor: spec.vendor, parent_task_id: one.id } });
      await l.waitState(two.id, "completed");
      await stopDispatcher(d);

      expect(logLines(d, /resuming the parent's session/).map((line) => line.session_id)).toEqual([session]);
      expect((await l.ws.store.getResponse(two.id))?.body).toContain("FOXTROT-2");
      const request = l.model.turns().filter((t) => promptText(t).includes(second)).at(-1) as RecordedRequest;
      expect(request, "no model request carried the follow-up").toBeDefined();
      expect(promptText(request)).not.toContain("BEGIN THREAD CONTEXT");
      const turns = conversation(request);
      const users = turns.filter((t) => t.role === "user");
      expect(users.at(-1)?.text).toContain(second);
      expect(users.at(-1)?.text).not.toContain(first);
      expect(users.some((t) => t.text.includes(first))).toBe(true);
      expect(turns.some((t) => t.role === "assistant" && t.text.includes("ECHO-ANSWER-9"))).toBe(true);
    } finally {
      await l.close();
    }
  });
}
