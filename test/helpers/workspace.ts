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
  const root = await mkdtemp(path.join(os.tmpdir(), "agent-lanes-test-"));
  const queue = path.join(root, "handoff", "state");
  const store = openStore(queue, options);
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
