// What the bundled demo agent answers (pure functions; agent.ts is the
// program). Deterministic, the way `agent-lanes demo` needs to show a real
// trip without any AI CLI installed. By the first rule that matches:
//   - a thread step (its input quotes earlier demo answers) -> names them
//   - a review request ("review" in the input) -> findings and a VERDICT line
//   - a question (a "?") -> a short answer
//   - anything else -> an acknowledgement
// Every answer starts with `[demo-agent ref:<8 hex>]`, a hash of the input,
// which is how a later thread step recognises the answers it was shown.
// `DEMO-FAIL` in the input makes it fail on purpose (exit 3, a stderr line).

/** Tunables; the delay makes the agent look alive without slowing the demo. */
export const DEMO_AGENT_DEFAULTS = {
  /** @default 100 — shortest simulated thinking time */
  minDelayMs: 100,
  /** @default 200 — spread added from the input's hash (100–300 ms in all) */
  delaySpreadMs: 200,
  /** Environment variable that overrides the delay (tests set 0). */
  delayEnv: "AGENT_LANES_DEMO_DELAY_MS",
} as const;

const REF_ALL = /\[demo-agent ref:([0-9a-f]{8})\]/g;
const REF_ONE = /\[demo-agent ref:[0-9a-f]{8}\]/;
const BLOCKING = /\b(TODO|FIXME)\b/;
const NONBLOCKING = /\b(NOTE|HACK|XXX)\b/;

/** One demo answer: what kind of input it was, the text, and the exit code to end with. */
export interface DemoAnswer {
  kind: "thread" | "review" | "question" | "note" | "fail";
  text: string;
  exitCode: number;
}

/** FNV-1a, 32 bits, as 8 hex digits: cheap, stable, no imports. */
export function inputRef(input: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < input.length; i += 1) {
    hash ^= input.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/** The simulated thinking time for an input, in ms. */
export function thinkingMs(input: string, env: Record<string, string | undefined> = {}): number {
  const override = env[DEMO_AGENT_DEFAULTS.delayEnv];
  if (override !== undefined && override.trim() !== "" && Number.isFinite(Number(override))) return Math.max(0, Number(override));
  return DEMO_AGENT_DEFAULTS.minDelayMs + (Number.parseInt(inputRef(input), 16) % DEMO_AGENT_DEFAULTS.delaySpreadMs);
}

/** The agent's answer to one input (pure: same input, same answer). */
export function answer(input: string): DemoAnswer {
  const ref = inputRef(input);
  const head = `[demo-agent ref:${ref}]`;
  if (input.includes("DEMO-FAIL")) {
    return { kind: "fail", text: "demo agent: the input asked me to fail (DEMO-FAIL)", exitCode: 3 };
  }
  // Earlier answers are looked for everywhere; what is asked now, only
  // outside the thread context, so a quoted old question is not taken as new.
  const own = withoutThreadContext(input);
  const earlier = earlierAnswers(input);
  if (earlier.length > 0) return { kind: "thread", text: threadAnswer(head, own, earlier), exitCode: 0 };
  if (/\breview\b/i.test(own)) return { kind: "review", text: reviewAnswer(head, own), exitCode: 0 };
  if (own.includes("?")) return { kind: "question", text: questionAnswer(head, own), exitCode: 0 };
  const lines = contentLines(own).length;
  return { kind: "note", text: `${head} note\nNoted: ${lines} line${lines === 1 ? "" : "s"} received. Nothing was asked, so there is nothing to answer.`, exitCode: 0 };
}

/** The input without the supervisor's thread context block (its marker lines as in supervisor/input.ts). */
export function withoutThreadContext(input: string): string {
  return input.replace(/^-{3,}\s*BEGIN THREAD CONTEXT[^\n]*\n[\s\S]*?^-{3,}\s*END THREAD CONTEXT[^\n]*$/gm, "");
}

/** Earlier demo answers quoted in the input: their ref and their summary line. */
export function earlierAnswers(input: string): Array<{ ref: string; summary: string }> {
  const found = new Map<string, string>();
  const lines = input.split(/\r?\n/);
  lines.forEach((line, index) => {
    for (const match of line.matchAll(REF_ALL)) {
      const ref = match[1] as string;
      if (found.has(ref)) continue;
      const summary = lines.slice(index + 1).find((next) => next.trim() !== "") ?? "";
      found.set(ref, clip(summary.trim(), 90));
    }
  });
  return [...found].map(([ref, summary]) => ({ ref, summary }));
}

function threadAnswer(head: string, input: string, earlier: Array<{ ref: string; summary: string }>): string {
  const question = lastQuestion(input);
  const seen = earlier.map(({ ref, summary }, i) => `${i + 1}. ref:${ref} said: ${summary}`);
  return [
    `${head} thread`,
    `Follow-up answered with the thread in view: I read ${earlier.length} earlier response${earlier.length === 1 ? "" : "s"}, oldest first.`,
    "",
    ...seen,
    "",
    question ? `On "${question}": ${topicAnswer(question)}` : "Nothing new was asked; the thread above stands.",
  ].join("\n");
}

function reviewAnswer(head: string, input: string): string {
  const lines = contentLines(input);
  const blocking = lines.filter((line) => BLOCKING.test(line));
  const nonblocking = lines.filter((line) => !BLOCKING.test(line) && NONBLOCKING.test(line));
  const verdict = blocking.length > 0 ? "needs-revision" : nonblocking.length > 0 ? "accept-with-follow-ups" : "accept";
  const out = [
    `${head} review`,
    `Reviewed ${lines.length} lines: ${blocking.length} blocking, ${nonblocking.length} non-blocking finding${nonblocking.length === 1 ? "" : "s"}.`,
  ];
  if (blocking.length > 0) {
    out.push("", "Blocking:", ...blocking.map((line, i) => `${i + 1}. ${quote(line)} — unfinished work left in the change.`));
  }
  if (nonblocking.length > 0) {
    out.push("", "Non-blocking:", ...nonblocking.map((line, i) => `${i + 1}. ${quote(line)} — worth a follow-up.`));
  }
  if (blocking.length === 0 && nonblocking.length === 0) out.push("", "No TODO or FIXME left behind; the change reads as finished.");
  out.push("", `VERDICT: ${verdict}`, `BLOCKING: ${blocking.length}`, `NONBLOCKING: ${nonblocking.length}`);
  return out.join("\n");
}

function questionAnswer(head: string, input: string): string {
  const question = lastQuestion(input) ?? "your question";
  return `${head} answer\nOn "${question}": ${topicAnswer(question)}`;
}

// A few canned facts about agent-lanes, so the demo's answers read sensibly.
const TOPICS: ReadonlyArray<[RegExp, string]> = [
  [/\blease/i, "a lease is the time a dispatcher may hold a claimed task; it renews while the agent runs, and an expired lease lets another dispatcher take the task over."],
  [/\blane/i, "a lane is a named queue inside the folder; dispatchers serve one or more lanes and take the oldest task they accept."],
  [/\bclaim/i, "claiming a task gives one dispatcher a token and a lease; every later step (renew, respond, release) must show that token."],
  [/\bverdict/i, "a review answers with accept, accept-with-follow-ups or needs-revision; a blocking finding always means needs-revision."],
  [/\bthread/i, "tasks with thread_id and parent_task_id form a thread; the dispatcher puts earlier responses into each new task's input, oldest first."],
  [/\b(queue|folder)/i, "the queue is a plain folder of task.json, events.jsonl and response.json files, guarded by one flock'd lock file."],
];

function topicAnswer(question: string): string {
  for (const [pattern, text] of TOPICS) if (pattern.test(question)) return text;
  return `I am the demo agent, so I only recognise questions about leases, lanes, claims, verdicts, threads and the queue; a real agent (claude, codex, gemini) would answer this one properly.`;
}

/** The last line with a "?" that is not part of a quoted demo answer. */
function lastQuestion(input: string): string | null {
  const lines = contentLines(input).filter((line) => line.includes("?") && !REF_ONE.test(line) && !/^\s*\d+\. ref:/.test(line));
  const last = lines.at(-1);
  return last === undefined ? null : last.trim().replace(/^[#>*\-\s]+/, "").slice(0, 160);
}

function contentLines(input: string): string[] {
  return input.split(/\r?\n/).filter((line) => line.trim() !== "");
}

function quote(line: string): string {
  return `"${clip(line.trim(), 100)}"`;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

