// Native session resume for threads on one vendor. A follow-up task whose
// parent (metadata.parent_task_id, else the latest answered task of its
// thread_id) was answered by the same vendor continues the vendor's own
// session — `claude -p --resume <id>`, `codex exec resume <id>` — and gets
// only its own request instead of the pasted thread. It falls back to the
// pasted thread when the parent was another vendor, recorded no session, ran
// in another folder (claude keeps sessions per folder), the task opts out
// (metadata resume: false), or an earlier attempt found the session gone.

import type { Task, TaskEvent, TaskResponse } from "../store/types.js";
import { walkThread, type InputSources } from "./input.js";

/** Event written when a resumed run found its session gone; the next attempt pastes the thread instead. */
export const RESUME_FAILED_EVENT = "session_resume_failed";

export interface ResumePlan {
  /** The vendor session to continue. */
  sessionId: string;
  /** The task whose answer holds it. */
  parentId: string;
}

/** Why a follow-up is not resumed (for the log), or the plan. */
export type ResumeDecision = { plan: ResumePlan } | { plan: null; why: string };

function text(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

/** Sessions an earlier attempt of this task could not resume. */
export function goneSessions(events: readonly TaskEvent[]): Set<string> {
  const gone = new Set<string>();
  for (const event of events) {
    const id = event.type === RESUME_FAILED_EVENT ? text(event.data?.session_id) : null;
    if (id) gone.add(id);
  }
  return gone;
}

/**
 * Whether `task` continues its parent's session under `vendor`, run in `cwd`.
 * `events` are the task's own events (earlier attempts).
 */
export async function planResume(task: Task, vendor: string, cwd: string, sources: InputSources, events: readonly TaskEvent[] = []): Promise<ResumeDecision> {
  if (task.metadata?.resume === false || task.metadata?.resume === "false") return { plan: null, why: "the task asks for no resume (metadata resume: false)" };
  const thread = await walkThread(task, sources, 1);
  const last = thread.entries.at(-1);
  if (!last) return { plan: null, why: "no earlier task in the thread" };
  const response: TaskResponse | null = last.response;
  if (!response || response.status !== "completed") return { plan: null, why: `parent ${last.task.id} has no completed response` };
  const meta = response.metadata ?? {};
  const answeredBy = text(meta.vendor);
  if (answeredBy !== vendor) return { plan: null, why: `parent ${last.task.id} was answered by ${answeredBy ?? "an unknown vendor"}, not ${vendor}` };
  const sessionId = text(meta.session_id);
  if (!sessionId) return { plan: null, why: `parent ${last.task.id} recorded no session_id` };
  const sessionCwd = text(meta.session_cwd);
  if (sessionCwd !== null && sessionCwd !== cwd) return { plan: null, why: `parent ${last.task.id} ran in ${sessionCwd}, this task runs in ${cwd}` };
  if (goneSessions(events).has(sessionId)) return { plan: null, why: `session ${sessionId} was gone on an earlier attempt` };
  return { plan: { sessionId, parentId: last.task.id } };
}
