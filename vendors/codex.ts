// OpenAI Codex non-interactive: `codex exec --json -m <model> -c
// model_reasoning_effort="<effort>" --skip-git-repo-check <config args> -`
// with the prompt on stdin, then closed (with a prompt argument and an open
// pipe codex would wait for EOF forever). The answer is the last completed
// agent message of the JSONL event stream (VENDOR-CLIS.md).

import type { Task } from "../src/store/types.js";
import type { BuiltinAdapterOptions } from "./claude.js";
import { resolveEffort, VENDOR_DEFAULTS } from "./defaults.js";
import { acceptsVendor, childEnv, extraArgs, invocationBase } from "./invoke.js";
import { detectCredentialsFailure, isCredentialsStatus, loginFix, needsLogin } from "./credentials.js";
import { detectUsageLimit } from "./limits.js";
import { classifyErrorText, compact, failure, interruptedOutcome, num, obj, sessionGone, str } from "./outcome.js";
import { estimateCost } from "./prices.js";
import type { ChildResult, Invocation, Outcome, RunContext, VendorAdapter, VendorConfig } from "./types.js";
import { withVerdict } from "./verdict.js";

const NAME = "codex";
const DEFAULTS = VENDOR_DEFAULTS.codex;
/** Item types of the final answer: current spelling first, then the 2025 one. */
const ANSWER_ITEM_TYPES = new Set(["agent_message", "assistant_message"]);

/** What the event stream of one `codex exec --json` run said. */
export interface CodexEvents {
  threadId?: string;
  /** Text of the last completed agent message. */
  lastMessage?: string;
  turnsCompleted: number;
  tokensIn?: number;
  tokensOut?: number;
  tokensCached?: number;
  /** Message of a `turn.failed` event. */
  turnFailed?: string;
  /** Messages of `error` events. */
  errors: string[];
  /** An HTTP status a `turn.failed` or `error` event carried as a field (builds that type their errors). */
  errorStatus?: number;
  /** A typed error kind (`usage_limit_reached`, `unauthorized`, ...) from such a field. */
  errorType?: string;
  /** A reset a typed error announced (`resets_at` epoch, or `resets_in_seconds`). */
  resetsAt?: Date;
  /** Lines that parsed as JSON events. */
  eventCount: number;
}

/** The OpenAI Codex adapter. */
export function createCodexAdapter(options: BuiltinAdapterOptions = {}): VendorAdapter {
  const baseConfig = options.config ?? {};
  const now = options.now ?? (() => new Date());

  return {
    name: NAME,
    supportsEffort: true,
    supportsResume: true,

    accepts(task: Task): boolean {
      return acceptsVendor(task, NAME);
    },

    invocation(task: Task, ctx: RunContext): Invocation {
      const { config, file, lead, tables, model } = invocationBase(NAME, DEFAULTS, task, ctx, baseConfig);
      const effort = resolveEffort(NAME, tables.efforts, DEFAULTS.defaultEffort, task.metadata?.effort, ctx.warn);
      const args = [
        ...lead,
        "exec",
        "--json",
        "-m",
        model,
        // The value is TOML: quoted so codex reads a string, never a bare word.
        "-c",
        `model_reasoning_effort=${JSON.stringify(effort)}`,
        "--skip-git-repo-check",
        ...extraArgs(config),
        // A follow-up of a codex answer continues that thread: `exec [options] resume <id> -`.
        ...(ctx.resumeSession ? ["resume", ctx.resumeSession] : []),
        // Last: `-` is the PROMPT positional, "read it from stdin".
        "-",
      ];
      return { file, args, env: childEnv({}, config), input: ctx.input, cwd: ctx.cwd, model, effort };
    },

    settle(run: ChildResult): Outcome {
      const interrupted = interruptedOutcome(NAME, run);
      if (interrupted) return interrupted;
      const events = parseCodexEvents(run.stdout, now());
      const metadata = codexMetadata(events, run, baseConfig);
      const limitOptions = { now: now(), timeZone: options.timeZone };

      // A build that emits no turn.completed still answered if it exited 0 cleanly with a message.
      const answeredQuietly = run.exitCode === 0 && events.errors.length === 0 && events.lastMessage !== undefined;
      const succeeded = events.turnFailed === undefined && (events.turnsCompleted > 0 || answeredQuietly);
      if (succeeded) {
        const body = events.lastMessage ?? "";
        // Transient `error` events (reconnects) before a completed turn do not matter.
        if (body.trim() !== "") return withVerdict({ kind: "completed", body, metadata });
        return failure(NAME, run, "the turn completed without an agent message", true, { metadata });
      }

      const gone = events.turnsCompleted === 0 ? sessionGone(NAME, run, resumedThread(run)) : null;
      if (gone) return gone;
      // The error channel: turn.failed and error events, stderr, and stdout only
      // when it held no events and the exit code says the run failed.
      const reported = [events.turnFailed, ...events.errors].filter((m): m is string => Boolean(m));
      const errorText = [...reported, run.stderr, events.eventCount === 0 && run.exitCode !== 0 ? run.stdout : ""].join("\n");
      // Typed fields first, where a build gives them.
      if (isCredentialsStatus(events.errorStatus) || /^(?:unauthori[sz]ed|invalid_api_key|authentication_error)$/i.test(events.errorType ?? "")) {
        return needsLogin(detectCredentialsFailure(errorText, NAME) ?? { message: reported[0] ?? `HTTP ${events.errorStatus}`, fix: loginFix(NAME) }, metadata);
      }
      const limit = detectUsageLimit(errorText, limitOptions);
      const typedLimit = events.errorStatus === 429 || /usage_limit|rate_limit/i.test(events.errorType ?? "");
      if (limit || typedLimit) {
        const resetAt = events.resetsAt ?? limit?.resetAt ?? null;
        return {
          kind: "usage-limit",
          message: limit?.message ?? reported[0] ?? "usage limit reached",
          resetAt,
          resetDated: events.resetsAt !== undefined || (limit?.dated ?? false),
          metadata: { ...metadata, limit_kind: limit?.kind ?? "usage-limit" },
        };
      }
      const login = detectCredentialsFailure(errorText, NAME);
      if (login) return needsLogin(login, metadata);

      if (reported.length > 0) {
        const text = [...new Set(reported)].join("\n");
        return failure(NAME, run, text, classifyErrorText(text) === "transient", { metadata });
      }
      return settleWithoutEvents(run, metadata);
    },
  };
}

/** The thread a run was asked to resume (`exec ... resume <id> -`), or null. */
function resumedThread(run: ChildResult): string | null {
  const args = run.invocation.args;
  const at = args.lastIndexOf("resume");
  return at >= 0 && at === args.length - 3 ? (args[at + 1] ?? null) : null;
}

/** Reads `codex exec --json` JSONL, accepting the current and the 2025 spellings; other lines are ignored. */
export function parseCodexEvents(stdout: string, now: Date = new Date()): CodexEvents {
  const events: CodexEvents = { turnsCompleted: 0, errors: [], eventCount: 0 };
  for (const line of stdout.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (!trimmed.startsWith("{")) continue;
    let event: Record<string, unknown> | undefined;
    try {
      event = obj(JSON.parse(trimmed));
    } catch {
      continue;
    }
    if (!event) continue;
    events.eventCount += 1;
    switch (event.type) {
      case "thread.started":
        events.threadId = str(event.thread_id) ?? events.threadId;
        break;
      case "item.completed": {
        const item = obj(event.item);
        const itemType = str(item?.type) ?? str(item?.item_type);
        if (item && itemType && ANSWER_ITEM_TYPES.has(itemType) && typeof item.text === "string") events.lastMessage = item.text;
        break;
      }
      case "turn.completed": {
        events.turnsCompleted += 1;
        const usage = obj(event.usage);
        events.tokensIn = add(events.tokensIn, num(usage?.input_tokens));
        events.tokensOut = add(events.tokensOut, num(usage?.output_tokens));
        events.tokensCached = add(events.tokensCached, num(usage?.cached_input_tokens));
        break;
      }
      case "turn.failed":
        events.turnFailed = str(obj(event.error)?.message) ?? str(event.message) ?? "turn failed";
        typedError(events, event, now);
        break;
      case "error":
        events.errors.push(str(event.message) ?? str(obj(event.error)?.message) ?? "error event without a message");
        typedError(events, event, now);
        break;
      default:
        break;
    }
  }
  return events;
}

/** Typed error kinds the adapter acts on (preferred over a generic type such as invalid_request_error). */
const TYPED_KINDS = /^(?:unauthori[sz]ed|invalid_api_key|authentication_error|usage_limit_reached|rate_limit_exceeded|rate_limit_error|insufficient_quota)$/i;

/** Status, type and reset of an error event, where the build types them (`error: {status, type, resets_at}`). */
function typedError(events: CodexEvents, event: Record<string, unknown>, now: Date): void {
  for (const source of [event, obj(event.error), obj(event.codex_error_info)]) {
    if (!source) continue;
    const status = num(source.status) ?? num(source.http_status) ?? num(source.http_status_code) ?? num(source.status_code);
    if (status !== undefined) events.errorStatus = status;
    // A typed kind may sit in `type`, `code` or `error_type` (invalid_request_error + code invalid_api_key).
    for (const type of [str(source.type), str(source.code), str(source.error_type)]) {
      if (type && type !== "error" && type !== "turn.failed" && (events.errorType === undefined || TYPED_KINDS.test(type))) events.errorType = type;
    }
    const resetsAt = num(source.resets_at);
    const resetsIn = num(source.resets_in_seconds);
    if (resetsAt !== undefined) events.resetsAt = new Date(resetsAt > 1e12 ? resetsAt : resetsAt * 1000);
    else if (resetsIn !== undefined) events.resetsAt = new Date(now.getTime() + resetsIn * 1000);
  }
}

function add(total: number | undefined, value: number | undefined): number | undefined {
  return value === undefined ? total : (total ?? 0) + value;
}

function codexMetadata(events: CodexEvents, run: ChildResult, config: VendorConfig): Record<string, unknown> {
  const model = run.invocation.model ?? undefined;
  return compact({
    ...estimateCost(NAME, config, events.turnsCompleted > 0 ? [{ model, input: events.tokensIn, cached: events.tokensCached, output: events.tokensOut }] : []),
    // codex reports no model in its events: the one we asked for is what ran.
    model_used: run.invocation.model ?? undefined,
    effort_used: run.invocation.effort ?? undefined,
    tokens_in: events.tokensIn,
    tokens_out: events.tokensOut,
    tokens_cache_read: events.tokensCached,
    session_id: events.threadId,
    num_turns: events.turnsCompleted > 0 ? events.turnsCompleted : undefined,
    duration_ms: run.durationMs,
  });
}

/** No JSON events: a usage error (exit 2), a start-up error, or nothing at all. */
function settleWithoutEvents(run: ChildResult, metadata: Record<string, unknown>): Outcome {
  const text = `${run.stderr}\n${run.stdout}`;
  const firstError =
    run.stderr.split(/\r?\n/).find((line) => /^\s*(?:error|fatal)\b/i.test(line))?.trim() ??
    run.stderr.split(/\r?\n/).find((line) => line.trim() !== "")?.trim();
  if (run.exitCode === 2) {
    return failure(NAME, run, `usage error: ${firstError ?? "codex rejected its arguments"}; check dispatch.vendors.codex.args`, false, { metadata });
  }
  if (/Not inside a trusted directory/i.test(text)) {
    return failure(NAME, run, "refused to run outside a trusted git repository; keep --skip-git-repo-check in the invocation", false, { metadata });
  }
  if (run.exitCode === 0 && run.stdout.trim() === "") return failure(NAME, run, "printed no events", true, { metadata });
  const message = firstError ?? "printed no JSON events";
  return failure(NAME, run, message, classifyErrorText(text) === "transient", { metadata, quoteStdout: true });
}
