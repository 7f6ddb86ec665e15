// Google's Antigravity CLI in print mode: `agy -p <input> --output-format
// stream-json --print-timeout <t> [--model <id>] <config args>`. agy took
// over individual Google accounts from Gemini CLI in June 2026. Its print
// mode takes the prompt as the value of -p (a Go string flag), not on stdin,
// and streams NDJSON events: `init` (conversation id, model), `step_update`
// (one per agent step) and a final `result` (the answer, usage, or an error).
// Written from the documented headless interface and tested against a strict
// fake (test/fixtures/bin/agy); it has not been run against the real binary.

import type { Task } from "../src/store/types.js";
import type { BuiltinAdapterOptions } from "./claude.js";
import { detectCredentialsFailure, isCredentialsStatus, loginFix, needsLogin } from "./credentials.js";
import type { VendorDefaults } from "./defaults.js";
import { acceptsVendor, childEnv, extraArgs, invocationBase } from "./invoke.js";
import { detectUsageLimit } from "./limits.js";
import { classifyErrorText, compact, failure, interruptedOutcome, num, obj, str } from "./outcome.js";
import { estimateCost } from "./prices.js";
import type { ChildResult, Invocation, Outcome, RunContext, VendorAdapter, VendorConfig } from "./types.js";
import { withVerdict } from "./verdict.js";

const NAME = "agy";

/** agy's tables. `any` is empty: no --model, the CLI's own default model runs. */
export const AGY_DEFAULTS: VendorDefaults = {
  command: "agy",
  models: { any: "" },
  // No effort flag: the supervisor hints the effort in the input.
  efforts: {},
  defaultEffort: "medium",
};

/** agy's print mode gives up after 5 minutes by default; tasks run longer. */
export const AGY_PRINT_TIMEOUT = "60m";

/**
 * The prompt travels as one argv entry, which Linux caps at 128 KiB
 * (MAX_ARG_STRLEN); a longer input is refused before anything runs.
 */
export const AGY_MAX_PROMPT_BYTES = 128 * 1024 - 1;

/** What the event stream (or the single JSON object) of one run said. */
export interface AgyEvents {
  conversationId?: string;
  model?: string;
  steps: number;
  /** The final `result` event or object, if any. */
  result?: Record<string, unknown>;
  /** Messages of `error` events and of a failed result. */
  errors: string[];
  /** An HTTP-like code an error carried (401, 429, ...). */
  errorCode?: number;
  eventCount: number;
}

/** The Antigravity CLI adapter (no effort flag: the supervisor hints the effort in the input). */
export function createAgyAdapter(options: BuiltinAdapterOptions = {}): VendorAdapter {
  const baseConfig = options.config ?? {};
  const now = options.now ?? (() => new Date());

  return {
    name: NAME,
    supportsEffort: false,

    accepts(task: Task): boolean {
      return acceptsVendor(task, NAME);
    },

    invocation(task: Task, ctx: RunContext): Invocation {
      const { config, file, lead, model } = invocationBase(NAME, AGY_DEFAULTS, task, ctx, baseConfig);
      const bytes = Buffer.byteLength(ctx.input, "utf8");
      if (bytes > AGY_MAX_PROMPT_BYTES) {
        throw new Error(
          `agy takes the prompt as an argument, at most ${AGY_MAX_PROMPT_BYTES} bytes on this system; this task's input is ${bytes} bytes (shorten the request or its thread, or dispatch it to another vendor)`,
        );
      }
      const args = [...lead, "-p", ctx.input, "--output-format", "stream-json", "--print-timeout", printTimeout(config)];
      if (model !== "") args.push("--model", model);
      args.push(...extraArgs(config));
      // The prompt is in argv: stdin gets nothing and is closed at once.
      return { file, args, env: childEnv({}, config), input: "", cwd: ctx.cwd, model: model === "" ? null : model, effort: null };
    },

    settle(run: ChildResult): Outcome {
      const interrupted = interruptedOutcome(NAME, run);
      if (interrupted) return interrupted;
      const events = parseAgyOutput(run.stdout);
      const metadata = agyMetadata(events, run, baseConfig);
      const result = events.result;
      const status = str(result?.status) ?? str(result?.subtype);
      const failed = result?.is_error === true || (status !== undefined && !/^(?:success|ok|completed|done)$/i.test(status)) || obj(result?.error) !== undefined;
      const response = responseText(result);

      if (result && !failed && run.exitCode === 0) {
        if (response.trim() !== "") return withVerdict({ kind: "completed", body: response, metadata });
        return failure(NAME, run, "the result holds no response", true, { metadata });
      }

      // The error channel: a failed result, error events, stderr, and stdout
      // when it held no events at all.
      const errorText = [...events.errors, run.stderr, events.eventCount === 0 ? run.stdout : ""].join("\n");
      if (isCredentialsStatus(events.errorCode)) {
        return needsLogin(detectCredentialsFailure(errorText, NAME) ?? { message: events.errors[0] ?? `error ${events.errorCode}`, fix: loginFix(NAME) }, metadata);
      }
      const limit = detectUsageLimit(errorText, { now: now(), timeZone: options.timeZone });
      if (limit) return { kind: "usage-limit", message: limit.message, resetAt: limit.resetAt, resetDated: limit.dated, metadata: { ...metadata, limit_kind: limit.kind } };
      if (events.errorCode === 429) return { kind: "usage-limit", message: events.errors[0] ?? "429", resetAt: null, metadata: { ...metadata, limit_kind: "rate-limit" } };
      const login = detectCredentialsFailure(errorText, NAME);
      if (login) return needsLogin(login, metadata);

      if (/flag provided but not defined|flag needs an argument|invalid value .* for flag/i.test(run.stderr)) {
        const line = run.stderr.split(/\r?\n/).find((l) => /flag/i.test(l))?.trim() ?? "rejected its arguments";
        return failure(NAME, run, `${line}; check dispatch.vendors.agy.args`, false, { metadata });
      }
      if (/print[- ]timeout/i.test(errorText)) {
        return failure(NAME, run, `stopped by its own --print-timeout (${printTimeout(baseConfig)}); raise dispatch.vendors.agy.print_timeout`, false, { metadata });
      }
      const message = events.errors[0] ?? run.stderr.split(/\r?\n/).find((l) => l.trim() !== "")?.trim();
      const transient = (events.errorCode !== undefined && events.errorCode >= 500) || classifyErrorText(errorText) === "transient";
      if (message) return failure(NAME, run, message, transient, { metadata, quoteStdout: events.eventCount === 0 });
      if (run.exitCode === 0 && !result) return failure(NAME, run, events.eventCount === 0 ? "printed no events" : "ended without a result event", true, { metadata, quoteStdout: true });
      return failure(NAME, run, "failed without an error message", false, { metadata, quoteStdout: true });
    },
  };
}

/** `dispatch.vendors.agy.print_timeout` (a Go duration: "90m", "2h"), else AGY_PRINT_TIMEOUT. */
function printTimeout(config: VendorConfig): string {
  const value = config.print_timeout ?? config.printTimeout;
  return typeof value === "string" && /^\d+(?:\.\d+)?(?:ns|us|ms|s|m|h)(?:\d+(?:\.\d+)?(?:ns|us|ms|s|m|h))*$/.test(value) ? value : AGY_PRINT_TIMEOUT;
}

/** The answer of a result: `response`, or `result.response`, or a string `result`. */
function responseText(result: Record<string, unknown> | undefined): string {
  if (!result) return "";
  for (const value of [result.response, obj(result.result)?.response, result.result, result.text]) {
    if (typeof value === "string") return value;
  }
  return "";
}

/** Reads `--output-format stream-json` lines (or one `json` object); the event name is `type` or `event`. */
export function parseAgyOutput(stdout: string): AgyEvents {
  const events: AgyEvents = { steps: 0, errors: [], eventCount: 0 };
  const trimmed = stdout.trim();
  const lines = trimmed.startsWith("{") && !trimmed.includes("\n") ? [trimmed] : trimmed.split(/\r?\n/);
  for (const line of lines) {
    const text = line.trim();
    if (!text.startsWith("{")) continue;
    let event: Record<string, unknown> | undefined;
    try {
      event = obj(JSON.parse(text));
    } catch {
      continue;
    }
    if (!event) continue;
    events.eventCount += 1;
    const type = str(event.type) ?? str(event.event) ?? (event.response !== undefined || event.status !== undefined ? "result" : undefined);
    events.conversationId = str(event.conversation_id) ?? str(event.conversationId) ?? events.conversationId;
    events.model = str(event.model) ?? events.model;
    switch (type) {
      case "init":
        break;
      case "step_update":
        events.steps += 1;
        break;
      case "result":
        events.result = event;
        readError(events, event);
        break;
      case "error":
        readError(events, event);
        if (!events.errors.length) events.errors.push(str(event.message) ?? "error event without a message");
        break;
      default:
        break;
    }
  }
  return events;
}

function readError(events: AgyEvents, event: Record<string, unknown>): void {
  const error = obj(event.error);
  const message = str(error?.message) ?? (typeof event.error === "string" ? event.error : undefined) ?? (event.type === "error" || event.event === "error" ? str(event.message) : undefined);
  if (message) events.errors.push(message);
  const code = num(error?.code) ?? num(error?.status) ?? num(event.code);
  if (code !== undefined) events.errorCode = code;
}

function agyMetadata(events: AgyEvents, run: ChildResult, config: VendorConfig): Record<string, unknown> {
  const usage = obj(events.result?.usage) ?? obj(events.result?.stats) ?? {};
  const tokensIn = num(usage.input_tokens) ?? num(usage.prompt_tokens) ?? num(usage.inputTokens);
  const tokensOut = num(usage.output_tokens) ?? num(usage.candidates_tokens) ?? num(usage.outputTokens);
  const cached = num(usage.cached_input_tokens) ?? num(usage.cached_tokens) ?? num(usage.cachedInputTokens);
  const model = str(events.result?.model) ?? events.model ?? run.invocation.model ?? undefined;
  return compact({
    ...estimateCost(NAME, config, tokensIn === undefined && tokensOut === undefined ? [] : [{ model, input: tokensIn, cached, output: tokensOut }]),
    model_used: model,
    tokens_in: tokensIn,
    tokens_out: tokensOut,
    tokens_cache_read: cached,
    session_id: events.conversationId,
    num_turns: events.steps > 0 ? events.steps : undefined,
    duration_ms: num(events.result?.duration_ms) ?? run.durationMs,
  });
}
