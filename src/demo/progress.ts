// Turns the supervisor's JSON log lines (--log-format json, one pino object a
// line) into the demo's compact progress: "claimed <id> (review)",
// "answered <id> in 240 ms". It reads loosely on purpose: the log's wording
// may grow, and a line it does not understand is skipped, never an error.

/** What one log line meant to the demo, or null for lines it does not show. */
export interface ProgressStep {
  step: "ready" | "claimed" | "answered" | "failed" | "released" | "stopping";
  taskId?: string;
  durationMs?: number;
  detail?: string;
  /** The log line's own time (pino `time`, as epoch ms), when present. */
  at?: number;
}

/** The log line's task id, wherever the supervisor put it. */
function taskIdOf(line: Record<string, unknown>): string | undefined {
  for (const key of ["task_id", "taskId", "task"]) {
    const value = line[key];
    if (typeof value === "string" && value !== "") return value;
    if (value && typeof value === "object" && typeof (value as { id?: unknown }).id === "string") return (value as { id: string }).id;
  }
  return undefined;
}

function numberOf(line: Record<string, unknown>, keys: string[]): number | undefined {
  for (const key of keys) {
    const value = line[key];
    if (typeof value === "number" && Number.isFinite(value)) return value;
  }
  return undefined;
}

/** pino's `time`: epoch ms, or an ISO string with --log-format json's isoTime. */
function timeOf(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}

/** A parsed log object -> the step it reports, by its event name (or message). */
export function progressStep(line: Record<string, unknown>): ProgressStep | null {
  const name = String(line.event ?? line.type ?? line.msg ?? "").toLowerCase();
  const taskId = taskIdOf(line);
  const at = timeOf(line.time);
  const durationMs = numberOf(line, ["duration_ms", "durationMs", "elapsed_ms", "elapsedMs"]);
  const base = { ...(taskId ? { taskId } : {}), ...(at !== undefined ? { at } : {}) };
  if (!taskId) {
    if (/(dispatcher[_ ]started|supervisor[_ ]started|\bready\b|\blistening\b|\bstarted\b)/.test(name)) return { step: "ready", ...base };
    if (/(shut|stopping|sigterm|draining)/.test(name)) return { step: "stopping", ...base };
    return null;
  }
  // Renewals, failed claim attempts and lost claims are not steps of the story.
  if (/(renew|cannot claim|claim lost|skipping)/.test(name)) return null;
  if (/(release|requeue|retry)/.test(name)) return { step: "released", ...base, detail: String(line.reason ?? "") || undefined };
  if (/(fail|error)/.test(name)) {
    const reason = line.reason ?? line.error ?? line.message;
    return { step: "failed", ...base, ...(durationMs !== undefined ? { durationMs } : {}), detail: typeof reason === "string" ? reason.split("\n")[0] : undefined };
  }
  if (/(respond|complete|answered|finished|done)/.test(name)) return { step: "answered", ...base, ...(durationMs !== undefined ? { durationMs } : {}) };
  if (/\bclaimed\b/.test(name)) return { step: "claimed", ...base };
  return null;
}

/** Parses one output line; null for blank lines and non-JSON text. */
export function parseLogLine(text: string): Record<string, unknown> | null {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{")) return null;
  try {
    const value = JSON.parse(trimmed) as unknown;
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Keeps the story straight: each task is shown claimed once and answered
 * once, and an answer's time falls back to claim-to-answer as seen here
 * when the log line carries no duration.
 */
export function createProgressTracker(label: (taskId: string) => string, now: () => number = Date.now) {
  const claimedAt = new Map<string, number>();
  const shown = new Set<string>();
  let ready = false;

  return {
    /** The friendly line for a step, or null when it adds nothing new. */
    describe(step: ProgressStep): string | null {
      if (step.step === "ready") {
        if (ready) return null;
        ready = true;
        return "supervisor is watching the queue";
      }
      if (step.step === "stopping") return null;
      const id = step.taskId as string;
      const key = `${step.step}:${id}`;
      const at = step.at ?? now();
      if (step.step === "claimed") {
        if (claimedAt.has(id)) return null;
        claimedAt.set(id, at);
        return `claimed ${id} (${label(id)})`;
      }
      if (step.step === "released") return `released ${id} (${label(id)})${step.detail ? `: ${step.detail}` : ""}`;
      if (shown.has(key)) return null;
      shown.add(key);
      const started = claimedAt.get(id);
      const ms = step.durationMs ?? (started === undefined ? undefined : Math.max(0, at - started));
      const took = ms === undefined ? "" : ` in ${Math.round(ms)} ms`;
      if (step.step === "failed") return `failed ${id} (${label(id)})${took}${step.detail ? `: ${step.detail}` : ""}`;
      return `answered ${id} (${label(id)})${took}`;
    },
    /** ms from claim to answer for a task, when both were seen. */
    claimedAt(taskId: string): number | undefined {
      return claimedAt.get(taskId);
    },
  };
}
