// Temporary workspaces with a queue, for tests. Every folder is removed by cleanup().

import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { openStore, type CreateTaskInput, type OpenStoreOptions, type Store, type Task } from "../../src/store/index.js";

export interface TestWorkspace {
  root: string;
  queue: string;
  store: Store;
  /** Write a file under the workspace root and return its absolute path. */
  file(relative: string, content?: string): Promise<string>;
  /** Create a task with sensible defaults (request file written for you). */
  submit(overrides?: Partial<CreateTaskInput> & { content?: string }): Promise<Task>;
  cleanup(): Promise<void>;
}

let counter = 0;

export async function makeWorkspace(options: OpenStoreOptions = {}): Promise<TestWorkspace> {
  return makeWorkspaceOn((root) => {
    const queue = path.join(root, "handoff", "state");
    return { queue, store: openStore(queue, options) };
  });
}

/**
 * A workspace whose store `open` makes (given the workspace root): the
 * shared store suite runs the same tests on a queue folder and on PostgreSQL.
 */
export async function makeWorkspaceOn(open: (root: string) => { queue: string; store: Store } | Promise<{ queue: string; store: Store }>): Promise<TestWorkspace> {
  const root = await mkdtemp(path.join(os.tmpdir(), "agent-lanes-test-"));
  let opened: { queue: string; store: Store };
  try {
    opened = await open(root);
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  const { queue, store } = opened;
  const file = async (relative: string, content = "request\n"): Promise<string> => {
    const target = path.join(root, relative);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
    return target;
  };
  return {
    root,
    queue,
    store,
    file,
    async submit(overrides = {}) {
      counter += 1;
      const { content, ...input } = overrides;
      const request = input.request_path ?? (await file(`requests/r${counter}.md`, content ?? `request ${counter}\n`));
      return store.create({
        workspace_id: "ws",
        correlation_id: `task-${counter}`,
        lane: "default",
        workspace_root: root,
        request_path: request,
        response_path: `responses/r${counter}.md`,
        ...input,
      });
    },
    async cleanup() {
      await store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
