// Shared set-up for the service tests: a temp HOME, a config file, a stand-in
// dispatcher entry, fake systemctl/launchctl/journalctl on PATH, and a
// ServiceContext wired to all of it.

import { copyFileSync, mkdtempSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createServiceContext } from "../../src/service/context.js";
import type { ServiceContext } from "../../src/service/backend.js";
import { TEMPLATE_FILES } from "../../src/service/defaults.js";
import type { ServicePlatform } from "../../src/service/paths.js";

export const FAKE_BIN = fileURLToPath(new URL("../fixtures/service/bin", import.meta.url));
export const PACKAGE_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** One test's sandbox. */
export interface Sandbox {
  root: string;
  /** A stand-in installed package: templates copied from the repo plus dist/src/cli/main.js. */
  pkg: string;
  home: string;
  project: string;
  config: string;
  cli: string;
  callLog: string;
  replies: string;
  env: NodeJS.ProcessEnv;
  /** Reply table for the fakes (see test/fixtures/service/fake-tool.mjs). */
  setReplies(table: Record<string, { stdout?: string; stderr?: string; exit?: number }>): void;
  /** Every fake call so far, as argv with the tool first. */
  calls(): string[][];
  clearCalls(): void;
  context(platform: ServicePlatform, extra?: Partial<ServiceContext>): ServiceContext;
  cleanup(): void;
}

/** A fresh sandbox; `projectName` is the folder holding handoff/handoff.yaml. */
export function createSandbox(projectName = "myproject"): Sandbox {
  const root = realpathSync(mkdtempSync(path.join(os.tmpdir(), "al-service-")));
  const home = path.join(root, "home");
  const project = path.join(root, projectName);
  const config = path.join(project, "handoff", "handoff.yaml");
  const pkg = path.join(root, "pkg");
  const cli = path.join(pkg, "dist", "src", "cli", "main.js");
  mkdirSync(home, { recursive: true });
  mkdirSync(path.dirname(config), { recursive: true });
  mkdirSync(path.dirname(cli), { recursive: true });
  writeFileSync(config, "workspace_id: demo\n");
  writeFileSync(cli, "// stand-in dispatcher entry\n");
  for (const template of Object.values(TEMPLATE_FILES)) {
    mkdirSync(path.dirname(path.join(pkg, template)), { recursive: true });
    copyFileSync(path.join(PACKAGE_ROOT, template), path.join(pkg, template));
  }
  const callLog = path.join(root, "calls.jsonl");
  const replies = path.join(root, "replies.json");
  writeFileSync(replies, "{}");
  const env: NodeJS.ProcessEnv = {
    HOME: home,
    PATH: [FAKE_BIN, path.dirname(process.execPath), "/usr/bin", "/bin"].join(":"),
    FAKE_SERVICE_LOG: callLog,
    FAKE_SERVICE_REPLIES: replies,
  };
  return {
    root,
    pkg,
    home,
    project,
    config,
    cli,
    callLog,
    replies,
    env,
    setReplies: (table) => writeFileSync(replies, JSON.stringify(table)),
    calls: () =>
      existsSync(callLog)
        ? readFileSync(callLog, "utf8")
            .split("\n")
            .filter((line) => line !== "")
            .map((line) => JSON.parse(line) as string[])
        : [],
    clearCalls: () => rmSync(callLog, { force: true }),
    context: (platform, extra = {}) =>
      createServiceContext({
        platform,
        env,
        cwd: project,
        uid: 501,
        packageRoot: PACKAGE_ROOT,
        execPath: process.execPath,
        sleep: async () => undefined,
        ...extra,
      }),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}
