// Google Gemini CLI headless: `GEMINI_CLI_TRUST_WORKSPACE=true gemini -o json
// -m <model> <config args>` with the input on stdin (a non-TTY stdin makes it
// headless). The answer is
// `response`; tokens come from `stats.models`; the exit code says what kind
// of failure it was (VENDOR-CLIS.md). Gemini has no effort flag.

import type { Task } from "../src/store/types.js";
import type { BuiltinAdapterOptions } from "./claude.js";
import { VENDOR_DEFAULTS } from "./defaults.js";
import { acceptsVendor, childEnv, extraArgs, invocationBase } from "./invoke.js";
import { detectCredentialsFailure, isCredentialsStatus, loginFix, needsLogin } from "./credentials.js";
import { detectUsageLimit } from "./limits.js";
import { classifyErrorText, compact, failure, interruptedOutcome, num, obj, str } from "./outcome.js";
import { estimateCost } from "./prices.js";
import type { ChildResult, Invocation, Outcome, RunContext, VendorAdapter, VendorConfig } from "./types.js";
import { withVerdict } from "./verdict.js";

const NAME = "gemini";
const DEFAULTS = VENDOR_DEFAULTS.gemini;

/** Gemini CLI's documented exit codes: what each means and whether a retry can help. */
export const GEMINI_EXIT_CODES: Readonly<Record<number, { meaning: string; retry: boolean; hint?: string }>> = {
  41: { meaning: "authentication failed", retry: false, hint: "sign in once with `gemini` or set GEMINI_API_KEY in dispatch.vendors.gemini.env" },
  42: { meaning: "invalid input", retry: false },
  44: { meaning: "sandbox error", retry: false, hint: "check the sandbox settings in dispatch.vendors.gemini.args" },
  52: { meaning: "configuration error", retry: false, hint: "check the gemini settings.json files" },
  53: { meaning: "turn limit reached", retry: false },
  54: { meaning: "tool execution error", retry: false },
  55: {
    meaning: "untrusted folder",
    retry: false,
    hint: "the default invocation trusts the task's folder; drop GEMINI_CLI_TRUST_WORKSPACE: \"false\" from dispatch.vendors.gemini.env or add --skip-trust to dispatch.vendors.gemini.args",
  },
  // Interrupted from outside: the task itself is fine.
  130: { meaning: "cancelled", retry: true },
};

/** The Gemini CLI adapter (no effort flag: the supervisor hints the effort in the input). */
export function createGeminiAdapter(options: BuiltinAdapterOptions = {}): VendorAdapter {
  const baseConfig = options.config ?? {};
  const now = options.now ?? (() => new Date());

  return {
    name: NAME,
    supportsEffort: false,

    accepts(task: Task): boolean {
      return acceptsVendor(task, NAME);
    },

    invocation(task: Task, ctx: RunContext): Invocation {
      const { config, file, lead, model } = invocationBase(NAME, DEFAULTS, task, ctx, baseConfig);
      const args = [...lead, "-o", "json", "-m", model, ...extraArgs(config)];
      // Headless gemini refuses a folder it has not been told to trust (exit
      // 55): trust the task's folder as `claude -p` does. The environment
      // variable, not --skip-trust, so builds without the flag still start;
      // dispatch.vendors.gemini.env.GEMINI_CLI_TRUST_WORKSPACE: "false" turns it off.
      const env = childEnv({ GEMINI_CLI_TRUST_WORKSPACE: "true" }, config);
      return { file, args, env, input: ctx.input, cwd: ctx.cwd, model, effort: null };
    },

    settle(run: ChildResult): Outcome {
      const interrupted = interruptedOutcome(NAME, run);
      if (interrupted) return interrupted;
      // Errors come as JSON on stderr in some builds and on stdout in others.
      const output = parseGeminiJson(run.stdout) ?? parseGeminiJson(run.stderr);
      const metadata = output ? geminiMetadata(output, run, baseConfig) : compact({ model_used: run.invocation.model ?? undefined, duration_ms: run.durationMs });
      const error = obj(output?.error);
      const errorText = str(error?.message) ?? "";
      const response = typeof output?.response === "string" ? output.response : "";

      if (run.exitCode === 0 && !error) {
        if (response.trim() !== "") return withVerdict({ kind: "completed", body: response, metadata });
        return failure(NAME, run, output ? "returned an empty response" : "printed no JSON output", true, { metadata, quoteStdout: !output });
      }

      const text = [errorText, run.stderr, output ? "" : run.stdout].join("\n");
      // Typed signals first: exit 41 (authentication) and the error's HTTP code.
      const code = num(error?.code) ?? num(error?.status);
      if (run.exitCode === 41 || isCredentialsStatus(code)) {
        return needsLogin(detectCredentialsFailure(text, NAME) ?? { message: errorText || firstLine(run.stderr) || "authentication failed (exit 41)", fix: loginFix(NAME) }, metadata);
      }
      const limit = detectUsageLimit(text, { now: now(), timeZone: options.timeZone });
      if (limit) return { kind: "usage-limit", message: limit.message, resetAt: limit.resetAt, resetDated: limit.dated, metadata: { ...metadata, limit_kind: limit.kind } };
      if (code === 429) return { kind: "usage-limit", message: errorText || "429 Too Many Requests", resetAt: null, metadata: { ...metadata, limit_kind: "rate-limit" } };
      const login = detectCredentialsFailure(text, NAME);
      if (login) return needsLogin(login, metadata);

      const message = errorText || firstLine(run.stderr) || "failed without an error message";
      const known = run.exitCode === null ? undefined : GEMINI_EXIT_CODES[run.exitCode];
      if (known) {
        return failure(NAME, run, `${known.meaning}: ${message}${known.hint ? `; ${known.hint}` : ""}`, known.retry, { metadata });
      }
      if (/Unknown arguments?:|Invalid values:/.test(run.stderr)) {
        return failure(NAME, run, `${firstLineMatching(run.stderr, /Unknown arguments?:|Argument:/) ?? message}; check dispatch.vendors.gemini.args`, false, { metadata });
      }
      // Exit 1 (general/API error) or anything undocumented: the text decides.
      return failure(NAME, run, message, classifyErrorText(text) === "transient", { metadata, quoteStdout: !output });
    },
  };
}

function firstLineMatching(text: string, pattern: RegExp): string | undefined {
  return text.split(/\r?\n/).find((line) => pattern.test(line))?.trim();
}

function firstLine(text: string): string | undefined {
  return text.split(/\r?\n/).find((line) => line.trim() !== "")?.trim();
}

/** The JSON object of `-o json`, tolerating log lines printed before it. */
export function parseGeminiJson(text: string): Record<string, unknown> | undefined {
  const trimmed = text.trim();
  for (const candidate of [trimmed, trimmed.slice(Math.max(0, trimmed.search(/^\{/m)))]) {
    if (!candidate.startsWith("{")) continue;
    try {
      const value = obj(JSON.parse(candidate));
      if (value) return value;
    } catch {
      // try the next candidate
    }
  }
  return undefined;
}

/** Tokens summed over `stats.models`; output counts thoughts too, as the other vendors' do. */
export function geminiMetadata(output: Record<string, unknown>, run: ChildResult, config: VendorConfig = {}): Record<string, unknown> {
  const models = obj(obj(output.stats)?.models) ?? {};
  let tokensIn: number | undefined;
  let tokensOut: number | undefined;
  let cached: number | undefined;
  let main: string | undefined;
  let mainTotal = -1;
  const uses: { model: string; input?: number; cached?: number; output?: number }[] = [];
  for (const [model, stats] of Object.entries(models)) {
    const tokens = obj(obj(stats)?.tokens) ?? {};
    const input = num(tokens.input) ?? num(tokens.prompt);
    const out = num(tokens.candidates);
    const thoughts = num(tokens.thoughts);
    if (input !== undefined) tokensIn = (tokensIn ?? 0) + input;
    if (out !== undefined || thoughts !== undefined) tokensOut = (tokensOut ?? 0) + (out ?? 0) + (thoughts ?? 0);
    if (num(tokens.cached) !== undefined) cached = (cached ?? 0) + (num(tokens.cached) ?? 0);
    // `prompt` counts every input token, `input` only the uncached ones (when both are given).
    const prompt = num(tokens.prompt) ?? (input !== undefined ? input + (num(tokens.cached) ?? 0) : undefined);
    uses.push({ model, input: prompt, cached: num(tokens.cached), output: out === undefined && thoughts === undefined ? undefined : (out ?? 0) + (thoughts ?? 0) });
    const total = num(tokens.total) ?? (input ?? 0) + (out ?? 0);
    if (total > mainTotal) {
      main = model;
      mainTotal = total;
    }
  }
  return compact({
    ...estimateCost(NAME, config, uses),
    model_used: main ?? run.invocation.model ?? undefined,
    tokens_in: tokensIn,
    tokens_out: tokensOut,
    tokens_cache_read: cached,
    session_id: str(output.session_id),
    duration_ms: run.durationMs,
  });
}
