// The one verdict reader every adapter shares (claude, codex, gemini, agy,
// command, demo): an answer that ends with
//
//     VERDICT: needs-revision
//     BLOCKING: 2
//     NONBLOCKING: 1
//
// fills the response's `verdict`, `blocking_count` and `nonblocking_count`.
// The store's rule holds: a blocking count above 0 goes only with
// needs-revision (PROTOCOL.md §5), so the verdict an agent states wins over a
// count that contradicts it.

import type { Outcome } from "./types.js";

/** The verdict fields an answer stated, as response metadata keys; {} when it stated none. */
export interface VerdictFields {
  verdict?: "accept" | "accept-with-follow-ups" | "needs-revision";
  blocking_count?: number;
  nonblocking_count?: number;
}

// Markdown emphasis around the key or value is allowed (`**Verdict:** accept`).
const VERDICT_LINE = /^\s*\**\s*verdict\s*\**\s*[:=]\s*\**\s*(accept-with-follow-ups|needs-revision|accept)\b/gim;
const COUNT_LINE = /^\s*\**\s*(blocking|non-?blocking)(?:[ _-]?(?:count|findings|issues))?\s*\**\s*[:=]\s*\**\s*(\d+)\s*\**\s*$/gim;

/**
 * The verdict an answer states. The last verdict line wins (an agent may
 * quote earlier ones); count lines after it win over earlier ones.
 * `needs-revision` without a count means one blocking finding, since that
 * is what the verdict implies; any other verdict has 0 blocking findings.
 */
export function parseVerdictLines(body: string): VerdictFields {
  const last = [...body.matchAll(VERDICT_LINE)].at(-1);
  if (!last) return {};
  const verdict = (last[1] as string).toLowerCase() as NonNullable<VerdictFields["verdict"]>;
  const counts: Record<string, number> = {};
  const read = (text: string): void => {
    for (const match of text.matchAll(COUNT_LINE)) {
      counts[(match[1] as string).toLowerCase().startsWith("non") ? "nonblocking" : "blocking"] = Number(match[2]);
    }
  };
  read(body.slice(0, last.index));
  read(body.slice(last.index));
  let blocking = counts.blocking ?? (verdict === "needs-revision" ? 1 : 0);
  if (verdict !== "needs-revision") blocking = 0;
  return { verdict, blocking_count: blocking, nonblocking_count: counts.nonblocking ?? 0 };
}

/** A completed outcome with the verdict fields of its body added to its metadata; any other outcome unchanged. */
export function withVerdict(outcome: Outcome): Outcome {
  if (outcome.kind !== "completed") return outcome;
  const fields = parseVerdictLines(outcome.body);
  if (fields.verdict === undefined) return outcome;
  return { ...outcome, metadata: { ...outcome.metadata, ...fields } };
}
