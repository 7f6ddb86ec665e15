// A PostgreSQL queue's hosts share no files: the request and supporting files
// travel in the database (store.requestFiles). Before the agent runs, the
// dispatcher writes them into a private temporary folder (0700, files 0600)
// laid out as they were under the submitter's workspace_root, and the agent
// sees the task with its paths there. The folder is removed when the run
// ends. A file whose bytes no longer hash to what was recorded is refused.

import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { isInside } from "../store/layout.js";
import type { Store, Task } from "../store/types.js";

export interface MaterializedTask {
  /** The task as the agent sees it: workspace_root, request_path, supporting_paths and response_path inside `workspace`. */
  task: Task;
  /** The folder standing in for the submitter's workspace_root (the agent's working folder). */
  workspace: string;
  /** Remove the folder (idempotent). */
  remove(): Promise<void>;
}

/** Where a submitted path goes inside `workspace` (refused if it does not lie in the submitter's workspace_root). */
function placed(task: Task, workspace: string, file: string): string {
  const relative = path.relative(task.workspace_root, file);
  const target = path.join(workspace, relative);
  if (relative === "" || relative.startsWith("..") || path.isAbsolute(relative) || !isInside(workspace, target)) {
    throw new Error(`${file} is not inside the task's workspace_root ${task.workspace_root}; cannot materialise it`);
  }
  return target;
}

/** Write the task's carried files into a fresh private folder; null when the store carries none (a queue folder). */
export async function materializeTask(task: Task, store: Pick<Store, "requestFiles">): Promise<MaterializedTask | null> {
  if (!store.requestFiles) return null;
  const files = await store.requestFiles(task.id);
  const base = await fs.mkdtemp(path.join(os.tmpdir(), "agent-lanes-task-"));
  const remove = (): Promise<void> => fs.rm(base, { recursive: true, force: true });
  try {
    await fs.chmod(base, 0o700);
    const workspace = path.join(base, "workspace");
    await fs.mkdir(workspace, { mode: 0o700 });
    const moved = new Map<string, string>();
    for (const file of files) {
      const sha = createHash("sha256").update(file.content).digest("hex");
      if (sha !== file.sha256) throw new Error(`the stored ${file.role} file ${file.path} hashes to ${sha}, not the ${file.sha256} recorded at submit`);
      const target = placed(task, workspace, file.path);
      await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      await fs.writeFile(target, file.content, { mode: 0o600, flag: "wx" }).catch(async (error: NodeJS.ErrnoException) => {
        // The same file named twice (request and supporting): one copy is enough.
        if (error.code !== "EEXIST") throw error;
      });
      moved.set(file.path, target);
    }
    if (!moved.has(task.request_path)) throw new Error(`the database holds no request file for ${task.id}`);
    const local: Task = {
      ...task,
      workspace_root: workspace,
      worktree_path: null,
      request_path: moved.get(task.request_path) as string,
      supporting_paths: task.supporting_paths.map((s) => ({ ...s, path: moved.get(s.path) ?? placed(task, workspace, s.path) })),
      response_path: placed(task, workspace, task.response_path),
    };
    return { task: local, workspace, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
