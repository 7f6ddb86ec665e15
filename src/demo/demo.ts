// `agent-lanes demo`: the whole trip on a throwaway pool, through the same
// doors a user would take. A supervisor runs as a child process with the
// bundled demo agent; tasks go in with `agent-lanes submit` and come back
// with `agent-lanes wait`, each a subprocess; the supervisor's JSON log
// becomes live progress; SIGTERM must stop it with exit 0.

import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { execa, type ResultPromise } from "execa";
import { initPool } from "../cli/commands/init.js";
import { cliEntryPath } from "../cli/templates.js";
import { createProgressTracker, parseLogLine, progressStep } from "./progress.js";
import { DEMO_TASKS, type DemoTask } from "./scenario.js";

export const DEMO_DEFAULTS = {
  /** @default 2 — tasks the demo supervisor runs at once */
  concurrency: 2,
  /** @default 60 — `wait --timeout` for each task, in seconds */
  waitTimeoutSeconds: 60,
  /** @default 15_000 — how long the supervisor may take to exit after SIGTERM */
  stopGraceMs: 15_000,
  /** @default 40 — supervisor stderr lines kept for an error message */
  keptStderrLines: 40,
} as const;

export interface DemoOptions {
  /** Keep the temporary folder (and say where it is). @default false */
  keep?: boolean;
  /** Each progress line, as it happens. */
  onProgress?: (line: string) => void;
  /** The agent-lanes CLI to run. @default dist/src/cli/main.cjs of this installation */
  cliEntry?: string;
  /** Where the temporary folder is made. @default os.tmpdir() */
  tmpRoot?: string;
  /** Aborting it (Ctrl-C) stops the demo early; the cleanup still runs. */
  signal?: AbortSignal;
}

/** One task of the demo, as answered. */
export interface DemoTaskResult {
  name: string;
  kind: DemoTask["kind"];
  task_id: string;
  status: string;
  verdict: string | null;
  /** Where the verdict was found: response.json's own field, or its metadata (null: none). */
  verdict_source: "response" | "metadata" | null;
  blocking_count: number;
  nonblocking_count: number;
  body: string;
  response_path: string;
  parent_task_id: string | null;
  /** Claim-to-answer time from the supervisor's log, when it said. */
  answered_in_ms: number | null;
}

/** The `--json` payload of `agent-lanes demo`. */
export interface DemoSummary {
  status: "ok";
  temp_dir: string;
  kept: boolean;
  pool: string;
  config: string;
  store: string;
  responses: number;
  tasks: DemoTaskResult[];
  supervisor: { pid: number | null; exit_code: number | null; signal: string | null; command: string[] };
  duration_ms: number;
}

/** The demo went wrong; the message says where, and the temp folder if kept. */
export class DemoError extends Error {
  override name = "DemoError";
}

/** Runs the demo end to end; resolves with the summary or throws DemoError. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const started = Date.now();
  const progress = options.onProgress ?? (() => {});
  const cli = options.cliEntry ?? cliEntryPath();
  const tempDir = await mkdtemp(path.join(options.tmpRoot ?? os.tmpdir(), "agent-lanes-demo-"));
  let supervisor: Supervisor | null = null;
  // Ends every CLI subprocess still running when the demo stops early.
  const abort = new AbortController();
  const interrupted = new Promise<never>((_, reject) => {
    const stop = () => reject(new DemoError("interrupted"));
    if (options.signal?.aborted) stop();
    options.signal?.addEventListener("abort", stop, { once: true });
    abort.signal.addEventListener("abort", () => options.signal?.removeEventListener("abort", stop), { once: true });
  });
  interrupted.catch(() => {});
  try {
    const pool = await initPool({ path: path.join(tempDir, "pool"), workspaceId: "demo", cliEntry: cli });
    const root = path.dirname(pool.queue);
    progress(`pool ready: ${root}`);
    const agentLanes = (args: string[]) => runCli(cli, ["--config", pool.config, ...args], root, abort.signal);

    supervisor = startSupervisor(cli, pool.config, root, progress);
    const ids = new Map<string, string>();
    const submitOne = async (task: DemoTask): Promise<string> => {
      const request = path.join(root, task.request);
      await mkdir(path.dirname(request), { recursive: true });
      await writeFile(request, task.content);
      const parentId = task.parent ? ids.get(task.parent) : undefined;
      const thread = parentId ? ["--metadata", `thread_id=${parentId}`, "--metadata", `parent_task_id=${parentId}`] : [];
      const payload = await agentLanes([
        "--json",
        "submit",
        "--lane",
        "default",
        "--request-from",
        request,
        "--response-to",
        path.join(root, "responses", `${task.name}.md`),
        "--prompt",
        task.prompt,
        "--task-id",
        task.name,
        "--metadata",
        "required_vendor=demo",
        ...thread,
      ]);
      const id = String((payload as { task_id?: unknown }).task_id ?? "");
      if (!id) throw new DemoError(`submit of the ${task.name} task printed no task_id`);
      ids.set(task.name, id);
      progress(`submitted ${id} (${task.name}${parentId ? `, follows ${task.parent}` : ""})`);
      return id;
    };
    const waitOne = async (task: DemoTask, id: string): Promise<DemoTaskResult> => {
      const payload = (await agentLanes(["wait", id, "--json", "--quiet", "--timeout", String(DEMO_DEFAULTS.waitTimeoutSeconds)])) as WaitPayload;
      const response = payload.response ?? {};
      // A supervisor that does not pass the adapter's verdict to respond still
      // records it in the response metadata: report it from there.
      const metadata = isRecord(response.metadata) ? response.metadata : {};
      const source = typeof response.verdict === "string" ? "response" : typeof metadata.verdict === "string" ? "metadata" : null;
      const facts = source === "metadata" ? metadata : response;
      return {
        name: task.name,
        kind: task.kind,
        task_id: id,
        status: String(response.status ?? payload.status ?? "unknown"),
        verdict: typeof facts.verdict === "string" ? facts.verdict : null,
        verdict_source: source,
        blocking_count: Number(facts.blocking_count ?? 0),
        nonblocking_count: Number(facts.nonblocking_count ?? 0),
        body: String(response.body ?? ""),
        response_path: String(payload.response_path ?? ""),
        parent_task_id: task.parent ? (ids.get(task.parent) ?? null) : null,
        answered_in_ms: supervisor?.answeredInMs(id) ?? null,
      };
    };

    // Independent tasks go in together; a thread step waits for its parent's
    // answer, because the supervisor builds its input from that response.
    const results = new Map<string, Promise<DemoTaskResult>>();
    const ordered = async (task: DemoTask): Promise<DemoTaskResult> => {
      if (task.parent) await results.get(task.parent);
      const id = await submitOne(task);
      return waitOne(task, id);
    };
    for (const task of DEMO_TASKS) results.set(task.name, supervisor.guard(ordered(task)));
    const tasks = await Promise.race([Promise.all(results.values()), interrupted]);

    const failed = tasks.filter((task) => task.status !== "completed");
    if (failed.length > 0) {
      throw new DemoError(`the demo agent failed ${failed.map((t) => `${t.name} (${t.task_id}): ${t.body.split("\n")[0]}`).join("; ")}`);
    }

    progress("stopping the supervisor (SIGTERM)");
    const stopped = await supervisor.stop();
    if (stopped.exitCode !== 0) {
      throw new DemoError(`the supervisor exited with ${stopped.signal ? `signal ${stopped.signal}` : `code ${stopped.exitCode}`} after SIGTERM, expected 0${supervisor.stderrTail()}`);
    }
    progress("supervisor stopped cleanly (exit 0)");
    return {
      status: "ok",
      temp_dir: tempDir,
      kept: options.keep === true,
      pool: root,
      config: pool.config,
      store: pool.store,
      responses: tasks.length,
      tasks,
      supervisor: { pid: supervisor.pid, exit_code: stopped.exitCode, signal: stopped.signal, command: supervisor.command },
      duration_ms: Date.now() - started,
    };
  } catch (error) {
    const keptNote = options.keep ? ` (files kept in ${tempDir})` : " (run with --keep to look at the files)";
    const message = error instanceof Error ? error.message : String(error);
    throw new DemoError(`demo failed: ${message}${keptNote}`, { cause: error });
  } finally {
    // Every cleanup step runs, whatever failed before it.
    abort.abort();
    await supervisor?.kill().catch(() => {});
    if (!options.keep) await rm(tempDir, { recursive: true, force: true }).catch(() => {});
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

interface WaitPayload {
  status?: string;
  response_path?: string;
  response?: Record<string, unknown>;
}

/** Runs `agent-lanes <args>` with this node; returns its parsed JSON or throws with its stderr. */
async function runCli(cli: string, args: string[], cwd: string, signal: AbortSignal): Promise<unknown> {
  const result = await execa(process.execPath, [cli, ...args], { cwd, reject: false, stdin: "ignore", cancelSignal: signal });
  const shown = `agent-lanes ${args.filter((a) => a !== "--config").slice(1).join(" ")}`;
  if (result.exitCode !== 0) {
    const reason = String(result.stderr ?? "").trim().split("\n").at(-1) || `exit code ${result.exitCode ?? result.signal}`;
    throw new DemoError(`${shown.slice(0, 120)} failed: ${reason}`);
  }
  try {
    return JSON.parse(String(result.stdout)) as unknown;
  } catch {
    throw new DemoError(`${shown.slice(0, 120)} printed no JSON: ${String(result.stdout).slice(0, 200)}`);
  }
}

interface Supervisor {
  pid: number | null;
  command: string[];
  /** Rejects `work` as soon as the supervisor dies unexpectedly. */
  guard<T>(work: Promise<T>): Promise<T>;
  answeredInMs(taskId: string): number | null;
  stop(): Promise<{ exitCode: number | null; signal: string | null }>;
  kill(): Promise<void>;
  stderrTail(): string;
}

function startSupervisor(cli: string, config: string, cwd: string, progress: (line: string) => void): Supervisor {
  const args = ["--config", config, "dispatch", "--vendor", "demo", "--concurrency", String(DEMO_DEFAULTS.concurrency), "--log-format", "json"];
  const child: ResultPromise = execa(process.execPath, [cli, ...args], { cwd, reject: false, stdin: "ignore", buffer: false });
  const tracker = createProgressTracker((id) => DEMO_TASKS.find((task) => id.includes(`-${task.name}-`))?.name ?? "task");
  const answered = new Map<string, number>();
  const stderr: string[] = [];
  let stopping = false;
  let exited: { exitCode: number | null; signal: string | null } | null = null;

  const onLine = (text: string, fromStderr: boolean) => {
    const line = parseLogLine(text);
    // Plain stderr text and error-level log lines explain an early exit.
    const problem = line ? (Number(line.level) >= 50 ? String(line.msg ?? text) : null) : fromStderr && text.trim() !== "" ? text : null;
    if (problem) {
      stderr.push(problem);
      if (stderr.length > DEMO_DEFAULTS.keptStderrLines) stderr.shift();
    }
    if (!line) return;
    const step = progressStep(line);
    if (!step) return;
    const shown = tracker.describe(step);
    if (step.step === "answered" && step.taskId) {
      const claimed = tracker.claimedAt(step.taskId);
      const ms = step.durationMs ?? (claimed === undefined ? undefined : (step.at ?? Date.now()) - claimed);
      if (ms !== undefined) answered.set(step.taskId, Math.round(ms));
    }
    if (shown) progress(shown);
  };
  if (child.stdout) createInterface({ input: child.stdout }).on("line", (text) => onLine(text, false));
  if (child.stderr) createInterface({ input: child.stderr }).on("line", (text) => onLine(text, true));

  const done = child.then((result) => {
    exited = { exitCode: result.exitCode ?? null, signal: result.signal ?? null };
    return exited;
  });
  const died = done.then((result) => {
    if (stopping) return new Promise<never>(() => {});
    const how = result.signal ? `signal ${result.signal}` : `code ${result.exitCode}`;
    throw new DemoError(`the supervisor (agent-lanes ${args.slice(2).join(" ")}) exited early with ${how}${tail()}`);
  });
  // Seen by guard() callers; never an unhandled rejection on its own.
  died.catch(() => {});
  const tail = () => (stderr.length > 0 ? `; its stderr ends: ${stderr.slice(-3).join(" | ")}` : "");

  progress(`supervisor started (pid ${child.pid ?? "?"}): agent-lanes dispatch --vendor demo --concurrency ${DEMO_DEFAULTS.concurrency}`);

  return {
    pid: child.pid ?? null,
    command: [process.execPath, cli, ...args],
    guard: (work) => Promise.race([work, died]),
    answeredInMs: (taskId) => answered.get(taskId) ?? null,
    async stop() {
      if (exited) return exited;
      stopping = true;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), DEMO_DEFAULTS.stopGraceMs);
      timer.unref();
      try {
        return await done;
      } finally {
        clearTimeout(timer);
      }
    },
    async kill() {
      if (exited) return;
      stopping = true;
      child.kill("SIGKILL");
      await done;
    },
    stderrTail: tail,
  };
}
