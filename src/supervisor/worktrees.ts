// A git worktree per task, so agents running at once never edit the same
// checkout. For a task whose worktree_path (else workspace_root) lies in a git
// repository, `dispatch --worktree auto` (or the task's metadata `worktree:
// new`) adds a worktree on a new branch `agent-lanes/<correlation>-<short id>`
// from the task's expected_branch (else HEAD) in the queue's sibling folder
// `worktrees/`, copies in the untracked files `.worktreeinclude` names
// (`.env`...), runs the agent there, then records branch, base and head
// commits and a diffstat, and applies the keep policy (metadata
// `worktree_keep: changed|always|never`, default changed: a worktree with no
// commit and no change is removed with its branch). A non-git folder runs in
// place with a warning. `removeTaskWorktree` is the clean-up `prune` calls.

import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import type { Task, TaskResponse } from "../store/types.js";

export const WORKTREE_KEEP = ["changed", "always", "never"] as const;
export type WorktreeKeep = (typeof WORKTREE_KEEP)[number];

/** Defaults of the worktree step. */
export const WORKTREE_DEFAULTS = {
  /** @default "changed" */
  keep: "changed" as WorktreeKeep,
  /** Branch prefix. @default "agent-lanes/" */
  branchPrefix: "agent-lanes/",
  /** Folder beside the queue folder. @default "worktrees" */
  folder: "worktrees",
  /** Longest correlation part of a branch name. @default 40 */
  maxSlug: 40,
} as const;

/** A task's worktree while it runs. */
export interface TaskWorktree {
  /** Top folder of the repository the worktree belongs to. */
  repo: string;
  /** The worktree folder (the agent's cwd). */
  path: string;
  branch: string;
  /** The commit the branch started from. */
  baseCommit: string;
  /** What the base was named: expected_branch, the branch HEAD was on, or "HEAD". */
  baseRef: string;
  keep: WorktreeKeep;
  /** True when an earlier attempt's worktree was found and reused. */
  reused: boolean;
}

export type PreparedCwd = { worktree: TaskWorktree; cwd: string; warning: null } | { worktree: null; cwd: string; warning: string | null };

async function git(cwd: string, args: string[]): Promise<string> {
  const result = await execa("git", args, { cwd, reject: false, stripFinalNewline: true, env: { GIT_TERMINAL_PROMPT: "0" } });
  if (result.exitCode !== 0) {
    const why = (String(result.stderr).split("\n").find((l) => l.trim() !== "") ?? `exit ${result.exitCode}`).trim();
    throw new Error(`git ${args.slice(0, 2).join(" ")} failed in ${cwd}: ${why}`);
  }
  return String(result.stdout);
}

/** Whether the task asks for its own worktree (metadata worktree: new) or the dispatcher gives every task one. */
export function wantsWorktree(task: Task, mode: "auto" | "off"): boolean {
  const asked = task.metadata?.worktree;
  if (asked === "new") return true;
  if (asked === "none" || asked === false) return false;
  return mode === "auto";
}

/** The task's keep policy; an unknown value is refused with the accepted ones. */
export function keepPolicy(task: Task): WorktreeKeep {
  const value = task.metadata?.worktree_keep;
  if (value === undefined || value === null || value === "") return WORKTREE_DEFAULTS.keep;
  if (typeof value === "string" && (WORKTREE_KEEP as readonly string[]).includes(value)) return value as WorktreeKeep;
  throw new Error(`metadata worktree_keep must be one of ${WORKTREE_KEEP.join(", ")}, got ${JSON.stringify(value)}`);
}

/** `agent-lanes/<correlation slug>-<8 hex of the task id>`: a valid ref name, unique per task. */
export function branchName(task: Pick<Task, "id" | "correlation_id">): string {
  const slug =
    task.correlation_id
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, "-")
      .replace(/\.{2,}/g, ".")
      .replace(/^[.-]+|[.-]+$/g, "")
      .slice(0, WORKTREE_DEFAULTS.maxSlug)
      .replace(/[.-]+$/g, "")
      .replace(/\.lock$/, "") || "task";
  return `${WORKTREE_DEFAULTS.branchPrefix}${slug}-${shortId(task.id)}`;
}

function shortId(taskId: string): string {
  return createHash("sha256").update(taskId).digest("hex").slice(0, 8);
}

/** `<queue>/../worktrees/<task id>`. */
export function worktreeFolder(queueRoot: string, task: Pick<Task, "id">): string {
  return path.join(path.dirname(path.resolve(queueRoot)), WORKTREE_DEFAULTS.folder, task.id);
}

/** Within one process, git commands that change a repository's worktree list run one at a time. */
const repoChains = new Map<string, Promise<unknown>>();
function serial<T>(repo: string, body: () => Promise<T>): Promise<T> {
  const previous = repoChains.get(repo) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(body);
  repoChains.set(repo, next);
  void next.finally(() => {
    if (repoChains.get(repo) === next) repoChains.delete(repo);
  }).catch(() => undefined);
  return next;
}

/** Another process may hold the repository's lock for a moment: try a few times. */
async function withRetry<T>(body: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await body();
    } catch (error) {
      if (attempt >= 4 || !/lock|already exists|could not/i.test((error as Error).message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

async function isDirectory(p: string): Promise<boolean> {
  return fs.stat(p).then((s) => s.isDirectory(), () => false);
}

/**
 * The working folder of a task that wants a worktree: a new (or, on a later
 * attempt, the same) worktree of its repository, or the folder itself with a
 * warning when it is not in a git repository.
 */
export async function prepareTaskWorktree(task: Task, source: string, queueRoot: string): Promise<PreparedCwd> {
  const keep = keepPolicy(task);
  let repo: string;
  try {
    repo = await git(source, ["rev-parse", "--show-toplevel"]);
  } catch {
    return { worktree: null, cwd: source, warning: `worktree requested but ${source} is not in a git repository; running in place` };
  }
  const branch = branchName(task);
  const folder = worktreeFolder(queueRoot, task);
  const baseRef = task.expected_branch?.trim() || (await git(repo, ["symbolic-ref", "--quiet", "--short", "HEAD"]).catch(() => "HEAD"));
  let baseCommit: string;
  try {
    baseCommit = await git(repo, ["rev-parse", "--verify", "--quiet", `${baseRef}^{commit}`]);
  } catch {
    throw new Error(`expected_branch ${JSON.stringify(baseRef)} is not a branch or commit of ${repo}; fix the task's branch or create it`);
  }

  return serial(repo, async () => {
    // A later attempt of the same task finds its worktree (and the work in it) again.
    if (await isDirectory(path.join(folder, ".git")).then((d) => d || fs.stat(path.join(folder, ".git")).then(() => true, () => false))) {
      const onBranch = await git(folder, ["symbolic-ref", "--quiet", "--short", "HEAD"]).catch(() => "");
      if (onBranch === branch) {
        const base = await git(folder, ["merge-base", "HEAD", baseCommit]).catch(() => baseCommit);
        return { worktree: { repo, path: folder, branch, baseCommit: base, baseRef, keep, reused: true }, cwd: folder, warning: null };
      }
      throw new Error(`worktree folder ${folder} exists but is not on branch ${branch}; remove it (git worktree remove) and retry`);
    }
    await fs.mkdir(path.dirname(folder), { recursive: true });
    const branchExists = await git(repo, ["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`]).then(() => true, () => false);
    await git(repo, ["worktree", "prune"]).catch(() => undefined);
    await withRetry(() => git(repo, branchExists ? ["worktree", "add", folder, branch] : ["worktree", "add", "-b", branch, folder, baseCommit]));
    const base = branchExists ? await git(folder, ["merge-base", "HEAD", baseCommit]).catch(() => baseCommit) : baseCommit;
    await copyIncluded(repo, folder);
    return { worktree: { repo, path: folder, branch, baseCommit: base, baseRef, keep, reused: branchExists }, cwd: folder, warning: null };
  });
}

/** Copy the untracked files `.worktreeinclude` names (gitignore patterns) from the repository into the worktree. */
export async function copyIncluded(repo: string, folder: string): Promise<string[]> {
  const list = path.join(repo, ".worktreeinclude");
  if (!(await fs.stat(list).then((s) => s.isFile(), () => false))) return [];
  const out = await git(repo, ["ls-files", "--others", "--ignored", "-z", `--exclude-from=${list}`]);
  const files = out.split("\0").filter(Boolean);
  const copied: string[] = [];
  for (const relative of files) {
    const target = path.join(folder, relative);
    if (await fs.stat(target).then(() => true, () => false)) continue;
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.copyFile(path.join(repo, relative), target);
    copied.push(relative);
  }
  return copied;
}

export interface Diffstat {
  files: number;
  insertions: number;
  deletions: number;
  /** `git diff --stat` of base..head. */
  text: string;
}

/** What the response metadata records of a task's worktree, once the agent ran. */
export interface WorktreeReport {
  worktree_path: string;
  worktree_repo: string;
  branch: string;
  base_ref: string;
  base_commit: string;
  head_commit: string;
  diffstat: Diffstat;
  /** Paths with changes the agent did not commit (git status --porcelain). */
  uncommitted: string[];
  worktree_keep: WorktreeKeep;
  /** Whether the worktree folder is still there after the keep policy. */
  worktree_kept: boolean;
  /** Whether the branch is still there. */
  branch_kept: boolean;
}

async function diffstat(folder: string, base: string, head: string): Promise<Diffstat> {
  const numstat = await git(folder, ["diff", "--numstat", base, head]);
  let files = 0;
  let insertions = 0;
  let deletions = 0;
  for (const line of numstat.split("\n").filter(Boolean)) {
    const [added, removed] = line.split("\t");
    files += 1;
    insertions += Number(added) || 0;
    deletions += Number(removed) || 0;
  }
  const text = base === head ? "" : await git(folder, ["diff", "--stat", base, head]);
  return { files, insertions, deletions, text };
}

/** Record what the agent did in the worktree, then apply the keep policy. */
export async function finishTaskWorktree(wt: TaskWorktree): Promise<WorktreeReport> {
  const head = await git(wt.path, ["rev-parse", "HEAD"]);
  const status = await git(wt.path, ["status", "--porcelain", "-z", "--untracked-files=all"]);
  const uncommitted = status
    .split("\0")
    .filter(Boolean)
    .map((entry) => entry.slice(3))
    .filter((p) => p !== "");
  const stat = await diffstat(wt.path, wt.baseCommit, head);
  const changed = head !== wt.baseCommit || uncommitted.length > 0;
  const report: WorktreeReport = {
    worktree_path: wt.path,
    worktree_repo: wt.repo,
    branch: wt.branch,
    base_ref: wt.baseRef,
    base_commit: wt.baseCommit,
    head_commit: head,
    diffstat: stat,
    uncommitted,
    worktree_keep: wt.keep,
    worktree_kept: true,
    branch_kept: true,
  };
  if (wt.keep === "always" || (wt.keep === "changed" && changed)) return report;
  // never: the folder goes; commits stay reachable on the branch, which is kept when it has any.
  const keepBranch = head !== wt.baseCommit;
  await removeWorktree(wt.repo, wt.path, keepBranch ? null : wt.branch);
  return { ...report, worktree_kept: false, branch_kept: keepBranch };
}

async function removeWorktree(repo: string, folder: string, branch: string | null): Promise<void> {
  await serial(repo, async () => {
    if (await fs.stat(folder).then(() => true, () => false)) {
      await withRetry(() => git(repo, ["worktree", "remove", "--force", folder]));
    }
    await git(repo, ["worktree", "prune"]).catch(() => undefined);
    if (branch) await git(repo, ["branch", "-D", branch]);
  });
}

export interface RemoveResult {
  removed: boolean;
  /** Why it was (or was not) removed, one line. */
  reason: string;
}

/**
 * For `prune`: remove the worktree and branch a finished task's response
 * recorded, when its branch was merged into its base (or never moved from it)
 * and the folder holds no uncommitted change. `force` removes them anyway.
 */
export async function removeTaskWorktree(task: Pick<Task, "id">, response: Pick<TaskResponse, "metadata"> | null, options: { force?: boolean } = {}): Promise<RemoveResult> {
  const meta = response?.metadata ?? {};
  const str = (key: string): string | null => (typeof meta[key] === "string" && meta[key] !== "" ? (meta[key] as string) : null);
  const repo = str("worktree_repo");
  const folder = str("worktree_path");
  const branch = str("branch");
  if (!repo || !folder || !branch) return { removed: false, reason: `task ${task.id} recorded no worktree` };
  if (!(await isDirectory(repo))) return { removed: false, reason: `repository ${repo} of task ${task.id} is gone` };
  const folderThere = await isDirectory(folder);
  const branchTip = await git(repo, ["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`]).catch(() => null);
  if (!folderThere && branchTip === null) return { removed: false, reason: `worktree and branch of task ${task.id} are already gone` };
  if (!options.force) {
    if (folderThere) {
      const dirty = await git(folder, ["status", "--porcelain"]).catch(() => "");
      if (dirty.trim() !== "") return { removed: false, reason: `worktree ${folder} has uncommitted changes; commit or discard them` };
    }
    if (branchTip !== null) {
      const base = str("base_ref") ?? "HEAD";
      const baseCommit = str("base_commit");
      const unchanged = branchTip === baseCommit;
      const merged = unchanged || (await git(repo, ["merge-base", "--is-ancestor", branchTip, base]).then(() => true, () => false));
      if (!merged) return { removed: false, reason: `branch ${branch} has commits not merged into ${base}; merge it or prune with force` };
    }
  }
  await removeWorktree(repo, folder, branchTip !== null ? branch : null);
  return { removed: true, reason: `removed worktree ${folder} and branch ${branch}` };
}

/**
 * The `beforeRemove` hook of prune: each pruned task's worktree and branch go
 * too when merged or unchanged (removeTaskWorktree); anything else stays and
 * `onKept` hears why. A git failure never stops the prune.
 */
export function pruneWorktrees(
  store: { getResponse(taskId: string): Promise<TaskResponse | null> },
  report: { onRemoved?(task: Task, reason: string): void; onKept?(task: Task, reason: string): void } = {},
): (task: Task) => Promise<void> {
  return async (task) => {
    const response = await store.getResponse(task.id).catch(() => null);
    if (typeof response?.metadata?.worktree_repo !== "string") return;
    try {
      const result = await removeTaskWorktree(task, response);
      if (result.removed) report.onRemoved?.(task, result.reason);
      else report.onKept?.(task, result.reason);
    } catch (error) {
      report.onKept?.(task, `could not remove its worktree: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
}
