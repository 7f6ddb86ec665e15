// Claude Code in headless mode: `claude -p --output-format json --model <id>
// [--effort <level>] [--max-budget-usd <x>] <config args>` with the input on
// stdin. The answer and its metadata come from the `result` object, which
// `--verbose` wraps in an array of every message (VENDOR-CLIS.md).

import type { Task } from "../src/store/types.js";
import { resolveEffort, VENDOR_DEFAULTS } from "./defaults.js";
import { acceptsVendor, childEnv, extraArgs, invocationBase } from "./invoke.js";
import { detectCredentialsFailure, isCredentialsStatus, loginFix, needsLogin } from "./credentials.js";
import { detectUsageLimit, type LimitMatch } from "./limits.js";
import { classifyErrorText, compact, failure, interruptedOutcome, num, obj, sessionGone, str } from "./outcome.js";
import type { ChildResult, Invocation, Outcome, RunContext, VendorAdapter, VendorConfig } from "./types.js";
import { withVerdict } from "./verdict.js";

const NAME = "claude";
const DEFAULTS = VENDOR_DEFAULTS.claude;

export interface BuiltinAdapterOptions {
  config?: VendorConfig;
  /** Clock for reset times without a date. @default () => new Date() */
  now?: () => Date;
  /** Zone for reset clock times that name none. @default this machine's local zone */
  timeZone?: string;
}

/** The Claude Code adapter. `config.effortFlag: false` for builds without `--effort`. */
export function createClaudeAdapter(options: BuiltinAdapterOptions = {}): VendorAdapter {
  const baseConfig = options.config ?? {};
  const now = options.now ?? (() => new Date());
  const limitOptions = () => ({ now: now(), timeZone: options.timeZone });

  return {
    name: NAME,
    supportsEffort: baseConfig.effortFlag !== false,
    supportsResume: true,

    accepts(task: Task): boolean {
      return acceptsVendor(task, NAME);
    },

    invocation(task: Task, ctx: RunContext): Invocation {
      const { config, file, lead, tables, model } = invocationBase(NAME, DEFAULTS, task, ctx, baseConfig);
      const args = [...lead, "-p", "--output-format", "json", "--model", model];
      // A follow-up of a claude answer continues that session: `--resume <id>`, only the new request on stdin.
      if (ctx.resumeSession) args.push("--resume", ctx.resumeSession);
      let effort: string | null = null;
      const env: Record<string, string> = {};
      if (config.effortFlag !== false) {
        effort = resolveEffort(NAME, tables.efforts, DEFAULTS.defaultEffort, task.metadata?.effort, ctx.warn);
        args.push("--effort", effort);
        // The CLI lets CLAUDE_CODE_EFFORT_LEVEL override the flag: pin it so a
        // value inherited from the supervisor's shell cannot change the task's effort.
        env.CLAUDE_CODE_EFFORT_LEVEL = effort;
      }
      const maxCost = num(config.maxCostUsd);
      if (maxCost !== undefined && maxCost > 0) args.push("--max-budget-usd", String(maxCost));
      args.push(...extraArgs(config));
      return { file, args, env: childEnv(env, config), input: ctx.input, cwd: ctx.cwd, model, effort };
    },

    settle(run: ChildResult): Outcome {
      const interrupted = interruptedOutcome(NAME, run);
      if (interrupted) return interrupted;
      const { result, messages } = parseClaudeOutput(run.stdout);
      if (!result) return sessionGone(NAME, run, resumedSession(run)) ?? settleWithoutResult(run, limitOptions());

      const metadata = claudeMetadata(result, run);
      const subtype = str(result.subtype) ?? "success";
      if (result.is_error === true || subtype !== "success") {
        return settleError(run, result, subtype, messages, metadata, limitOptions());
      }
      const body = typeof result.result === "string" ? result.result : "";
      if (body.trim() === "") return failure(NAME, run, "returned an empty result", true, { metadata });
      // A successful answer is an answer, whatever its first line says: limits
      // and login failures come only from the error channel (is_error,
      // api_error_status, a non-zero exit, stderr), so an answer cannot forge one.
      return withVerdict({ kind: "completed", body, metadata });
    },
  };
}

/** The session a run was asked to resume (`--resume <id>`), or null. */
function resumedSession(run: ChildResult): string | null {
  const at = run.invocation.args.indexOf("--resume");
  return at >= 0 ? (run.invocation.args[at + 1] ?? null) : null;
}

/** The messages of `--output-format json` (object, or array with --verbose) or stream-json lines. */
export function parseClaudeOutput(stdout: string): { result: Record<string, unknown> | undefined; messages: Record<string, unknown>[] } {
  const messages = parseJsonMessages(stdout);
  const result = [...messages].reverse().find((m) => m.type === "result");
  return { result, messages };
}

function parseJsonMessages(stdout: string): Record<string, unknown>[] {
  const text = stdout.trim();
  if (text === "") return [];
  const whole = tryJson(text);
  if (whole !== undefined) return toMessages(whole);
  // Something printed lines before the JSON: start at the first line that opens it.
  const start = text.search(/^[[{]/m);
  if (start > 0) {
    const rest = tryJson(text.slice(start));
    if (rest !== undefined) return toMessages(rest);
  }
  // stream-json (NDJSON), when a config asks for it.
  return text.split(/\r?\n/).flatMap((line) => toMessages(tryJson(line.trim())));
}

function toMessages(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.map(obj).filter((m): m is Record<string, unknown> => m !== undefined);
  const single = obj(value);
  return single ? [single] : [];
}

function tryJson(text: string): unknown {
  if (!text.startsWith("{") && !text.startsWith("[")) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Response metadata from a result object; only what the CLI reported (duration falls back to ours). */
export function claudeMetadata(result: Record<string, unknown>, run: ChildResult): Record<string, unknown> {
  const usage = obj(result.usage) ?? {};
  const input = num(usage.input_tokens);
  const cacheRead = num(usage.cache_read_input_tokens);
  const cacheCreation = num(usage.cache_creation_input_tokens);
  const tokensIn = input === undefined ? undefined : input + (cacheRead ?? 0) + (cacheCreation ?? 0);
  const denials = Array.isArray(result.permission_denials) ? result.permission_denials.length : 0;
  return compact({
    model_used: mainModel(obj(result.modelUsage), run.invocation.model) ?? run.invocation.model ?? undefined,
    effort_used: run.invocation.effort ?? undefined,
    tokens_in: tokensIn,
    tokens_out: num(usage.output_tokens),
    tokens_cache_read: cacheRead,
    cost_usd: num(result.total_cost_usd) ?? num(result.cost_usd),
    session_id: str(result.session_id),
    // claude keeps sessions per folder: a resume must run where the session was made.
    session_cwd: str(result.session_id) ? run.invocation.cwd : undefined,
    num_turns: num(result.num_turns),
    duration_ms: num(result.duration_ms) ?? run.durationMs,
    permission_denials: denials > 0 ? denials : undefined,
  });
}

/**
 * The model that did the work. modelUsage also lists helper models (a small
 * model for titles and summaries), so: the requested id if it ran, else the
 * one that cost most, output tokens breaking ties.
 */
function mainModel(modelUsage: Record<string, unknown> | undefined, requested: string | null | undefined): string | undefined {
  const entries = Object.entries(modelUsage ?? {});
  if (requested && entries.some(([model]) => model === requested)) return requested;
  let best: string | undefined;
  let bestScore: [number, number] = [-1, -1];
  for (const [model, usage] of entries) {
    const score: [number, number] = [num(obj(usage)?.costUSD) ?? 0, num(obj(usage)?.outputTokens) ?? 0];
    if (score[0] > bestScore[0] || (score[0] === bestScore[0] && score[1] > bestScore[1])) {
      best = model;
      bestScore = score;
    }
  }
  return best;
}

function usageLimit(limit: LimitMatch, metadata: Record<string, unknown>, reset: { at: Date | null; dated: boolean } = { at: limit.resetAt, dated: limit.dated }): Outcome {
  return { kind: "usage-limit", message: limit.message, resetAt: reset.at, resetDated: reset.dated, metadata: { ...metadata, limit_kind: limit.kind } };
}

/** A rejected `rate_limit_event` (verbose/stream output) carries the reset as epoch seconds. */
function rejectedRateLimitReset(messages: Record<string, unknown>[]): Date | null {
  for (const message of [...messages].reverse()) {
    if (message.type !== "rate_limit_event") continue;
    const info = obj(message.rate_limit_info);
    const resetsAt = num(info?.resetsAt);
    if (info?.status === "rejected" && resetsAt !== undefined) return new Date(resetsAt > 1e12 ? resetsAt : resetsAt * 1000);
  }
  return null;
}

function settleError(
  run: ChildResult,
  result: Record<string, unknown>,
  subtype: string,
  messages: Record<string, unknown>[],
  metadata: Record<string, unknown>,
  limitOptions: { now: Date; timeZone: string | undefined },
): Outcome {
  const errors = Array.isArray(result.errors) ? result.errors.filter((e): e is string => typeof e === "string") : [];
  const text = [str(result.result), ...errors].filter(Boolean).join("\n") || `is_error with subtype ${subtype}`;
  const status = num(result.api_error_status);
  const eventReset = rejectedRateLimitReset(messages);
  const errorText = `${text}\n${run.stderr}`;

  // Typed signals first: the API status and a rejected rate_limit_event; the
  // text then only supplies the wording and a reset the event did not give.
  if (isCredentialsStatus(status)) {
    const match = detectCredentialsFailure(errorText, NAME) ?? { message: firstLineOf(text), fix: loginFix(NAME) };
    return needsLogin(match, metadata);
  }
  const limit = detectUsageLimit(errorText, limitOptions);
  if (status === 429 || status === 529 || eventReset) {
    const kind = limit?.kind ?? (status === 529 ? "overloaded" : "rate-limit");
    const reset = eventReset ? { at: eventReset, dated: true } : { at: limit?.resetAt ?? null, dated: limit?.dated ?? false };
    return usageLimit({ kind, message: limit?.message ?? firstLineOf(text), resetAt: reset.at, dated: reset.dated }, metadata, reset);
  }
  // Then the texts (builds that report no status).
  if (limit) return usageLimit(limit, metadata);
  const login = detectCredentialsFailure(errorText, NAME);
  if (login) return needsLogin(login, metadata);
  if (subtype === "error_max_budget_usd") {
    return failure(NAME, run, `stopped at the task's cost ceiling (--max-budget-usd): ${text}`, false, { metadata });
  }
  if (subtype === "error_max_turns") return failure(NAME, run, `ran out of turns (--max-turns): ${text}`, false, { metadata });
  if (status !== undefined) return failure(NAME, run, `API error ${status}: ${text}`, status >= 500, { metadata });
  return failure(NAME, run, text, classifyErrorText(text) === "transient", { metadata });
}

function firstLineOf(text: string): string {
  return text.split("\n").find((line) => line.trim() !== "")?.trim() ?? text;
}

function settleWithoutResult(run: ChildResult, limitOptions: { now: Date; timeZone: string | undefined }): Outcome {
  const text = `${run.stdout}\n${run.stderr}`;
  // The error channel only: stderr, and stdout when the exit code says the run failed.
  const errorText = run.exitCode === 0 ? run.stderr : text;
  const limit = detectUsageLimit(errorText, limitOptions);
  if (limit) return usageLimit(limit, {});
  const login = detectCredentialsFailure(errorText, NAME);
  if (login) return needsLogin(login, {});
  if (run.stdout.trim() === "" && run.stderr.trim() === "") {
    // Exit 0 with nothing is a failure too: there is no answer to hand back.
    return failure(NAME, run, "printed no result", true);
  }
  const unknownOption = /unknown option '([^']+)'/.exec(text);
  if (unknownOption) {
    const hint =
      unknownOption[1] === "--effort"
        ? "; this claude build has no --effort: set dispatch.vendors.claude.effort_flag: false"
        : "; check dispatch.vendors.claude.args";
    return failure(NAME, run, `rejected the option ${unknownOption[1]}${hint}`, false);
  }
  if (run.stdoutTruncated) return failure(NAME, run, "its output exceeded the capture limit before the result object", false);
  const firstError = run.stderr.split(/\r?\n/).find((line) => line.trim() !== "")?.trim();
  const message = firstError ?? "printed no JSON result object";
  return failure(NAME, run, message, classifyErrorText(text) === "transient", { quoteStdout: true });
}
