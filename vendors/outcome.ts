// Turning a failed child run into an Outcome every adapter words the same
// way: what ended the run, the CLI's own error, and the tail of stderr, with a
// retry decision the supervisor can act on without knowing the CLI.

import type { ChildResult, Outcome } from "./types.js";

/** How much of stderr/stdout a failure body quotes. */
export const FAILURE_TAIL = { lines: 20, chars: 2000 } as const;

// Checked first: an auth or bad-request error never heals by retrying, even
// when the message also says "timed out" somewhere.
const PERMANENT = new RegExp(
  [
    "invalid api key",
    "please run /login",
    "not logged in",
    "unauthori[sz]ed",
    "authentication",
    "\\b40[13]\\b",
    "forbidden",
    "model\\b[^\\n]{0,80}\\bnot (?:found|exist|supported|available)",
    "issue with the selected model",
    "models/\\S+ is not found",
    "model_not_found",
    "\\b404\\b",
    "invalid[ _](?:request|argument)",
    "context (?:window|length)",
    "prompt is too long",
    "input exceeds",
  ].join("|"),
  "i",
);

const TRANSIENT = new RegExp(
  [
    "ECONNRESET",
    "ECONNREFUSED",
    "ETIMEDOUT",
    "EAI_AGAIN",
    "ENOTFOUND",
    "EPIPE",
    "socket hang up",
    "network",
    "connection (?:error|reset|refused|closed)",
    "fetch failed",
    "stream disconnected",
    "timed? ?out",
    "temporarily unavailable",
    "service unavailable",
    "bad gateway",
    "internal server error",
    "\\b50[0234]\\b",
    "overloaded",
    "try again later",
    // codex's wording of a 5xx from the Responses API.
    "experiencing high demand",
  ].join("|"),
  "i",
);

// The API or the CLI refused the model id it was given (claude: "There's an
// issue with the selected model (x)"; codex: "The requested model 'x' does
// not exist."; gemini: "models/x is not found").
const UNKNOWN_MODEL = /issue with the selected model|requested model\b[^\n]{0,80}\bdoes not exist|models\/\S+ is not found|model_not_found|\bmodel\b[^\n]{0,80}\b(?:does not exist|not (?:found|supported|available))/i;

/**
 * When `text` says the model does not exist, the sentence that tells a person
 * which id it was and where to change it; else null. Codex's "Model metadata
 * for `x` not found" is a warning about its own catalogue, not a refusal.
 */
export function unknownModelHint(vendor: string, model: string | null | undefined, text: string, configKey: string = vendor): string | null {
  const refusal = text.split(/\r?\n/).some((line) => UNKNOWN_MODEL.test(line) && !/Model metadata for/i.test(line));
  if (!refusal) return null;
  const named = model ? `model ${JSON.stringify(model)}` : "the model";
  return `${named} is not one ${vendor} can use: change the model_class -> id table in dispatch.vendors.${configKey}.models (handoff.yaml or --vendor-config), or the task's model_class`;
}

/** "permanent", "transient", or null when the text says neither. */
export function classifyErrorText(text: string): "permanent" | "transient" | null {
  if (PERMANENT.test(text)) return "permanent";
  if (TRANSIENT.test(text)) return "transient";
  return null;
}

/** The last lines of a text, at most FAILURE_TAIL.chars long. */
export function tail(text: string, lines: number = FAILURE_TAIL.lines, chars: number = FAILURE_TAIL.chars): string {
  const trimmed = text.replace(/\s+$/, "");
  if (trimmed === "") return "";
  let out = trimmed.split(/\r?\n/).slice(-lines).join("\n");
  if (out.length > chars) out = `...${out.slice(-chars)}`;
  return out;
}

/** "exited with code 1", "was killed by SIGKILL", "could not be started". */
export function describeEnd(run: ChildResult): string {
  if (run.spawnError) return "could not be started";
  if (run.signal) return `was killed by ${run.signal}`;
  if (run.exitCode !== null) return `exited with code ${run.exitCode}`;
  return "ended without an exit code";
}

/** Facts about the run every failure records in its metadata. */
export function runFacts(run: ChildResult): Record<string, unknown> {
  return { exit_code: run.exitCode, signal: run.signal, duration_ms: run.durationMs };
}

/**
 * A failed outcome. The body names the vendor, how the run ended and the
 * message, then quotes stderr's tail (and stdout's when asked) for the human
 * who reads the failed response.
 */
export function failure(
  vendor: string,
  run: ChildResult,
  message: string,
  retry: boolean,
  extra: { metadata?: Record<string, unknown>; quoteStdout?: boolean } = {},
): Outcome {
  const hint = unknownModelHint(vendor, run.invocation.model, `${message}\n${run.stderr}`);
  const parts = [`${vendor} ${describeEnd(run)}: ${message}${hint ? `; ${hint}` : ""}`];
  const stderr = tail(run.stderr);
  if (stderr) parts.push(`stderr (last lines${run.stderrTruncated ? ", output was truncated" : ""}):\n${stderr}`);
  const stdout = extra.quoteStdout ? tail(run.stdout) : "";
  if (stdout) parts.push(`stdout (last lines):\n${stdout}`);
  return { kind: "failed", body: parts.join("\n\n"), retry, metadata: { ...runFacts(run), ...(extra.metadata ?? {}) } };
}

/**
 * The outcome of a run that never produced a result worth parsing: it could
 * not start, the supervisor stopped it, or a signal ended it. Null when the
 * run ended by itself and its output should be read.
 */
export function interruptedOutcome(vendor: string, run: ChildResult, configKey: string = vendor): Outcome | null {
  if (run.spawnError) {
    const code = (run.spawnError as NodeJS.ErrnoException).code;
    const hint =
      code === "ENOENT" || code === "EACCES"
        ? ` (is ${run.invocation.file} installed, executable and on PATH? set dispatch.vendors.${configKey}.command to its path)`
        : "";
    // A missing CLI on this host may be present on another supervisor's: let the task go back.
    return failure(vendor, run, `could not start ${run.invocation.file}: ${run.spawnError.message}${hint}`, true);
  }
  switch (run.killedBy) {
    case "task-timeout":
      // The same input would most likely run out of time again.
      return failure(vendor, run, "stopped by the supervisor: the task ran past its time limit", false, { quoteStdout: true });
    case "idle-timeout":
      return failure(vendor, run, "stopped by the supervisor: no output for too long (hung CLI or network)", true, { quoteStdout: true });
    case "lease-lost":
      return failure(vendor, run, "stopped by the supervisor: the task's lease was lost", true);
    case "shutdown":
      return failure(vendor, run, "stopped by the supervisor: shutting down", true);
    default:
      break;
  }
  if (run.signal) {
    // Nobody we know of sent it (OOM killer, a crash): worth another attempt.
    return failure(vendor, run, `the CLI died from signal ${run.signal}`, true, { quoteStdout: true });
  }
  return null;
}

/** A number from a JSON field, or undefined. */
export function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** A non-empty string from a JSON field, or undefined. */
export function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** A plain object from a JSON value, or undefined. */
export function obj(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Drops undefined entries so metadata only names what the CLI reported. */
export function compact(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

/**
 * A resume refused because the vendor no longer has the session (expired,
 * another machine, another user): the run is worth repeating without resume.
 */
export const SESSION_GONE = /no (?:saved )?(?:conversation|session|thread|rollout)s? (?:was )?found|(?:session|conversation|thread) (?:id )?\S* ?(?:was )?not found|unknown (?:session|thread)/i;

/** The outcome of a resumed run that could not find its session, or null. */
export function sessionGone(vendor: string, run: ChildResult, sessionId: string | null | undefined): Outcome | null {
  if (!sessionId || !SESSION_GONE.test(`${run.stderr}\n${run.stdout}`)) return null;
  return failure(vendor, run, `could not resume session ${sessionId} (gone)`, true, { metadata: { resume_failed: sessionId } });
}
