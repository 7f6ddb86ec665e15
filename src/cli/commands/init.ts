// `init` and `init-pool` (PROTOCOL.md §7) as library functions; the commander
// wiring lives in main.ts. Both build the whole tree in a hidden staging
// folder next to the target and rename it into place, so a failure half way
// leaves nothing behind and nobody ever sees half a handoff/.

import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { isInside, resolveUserPath } from "../../config/handoff.js";
import { cliEntryPath, loadTemplate, renderFile, renderTemplate, shellQuote, yamlScalar } from "../templates.js";

export const INIT_DEFAULTS = {
  /** @default ".." — relative to handoff/ */
  workspaceRoot: "..",
  /** @default "state" — relative to handoff/ */
  queueRoot: "state",
  /** Used when the target folder has no name (the file system root). */
  workspaceId: "workspace",
} as const;

/** The vendors init-pool writes a dispatcher wrapper for, in this order. */
export const POOL_VENDORS = ["claude", "codex", "gemini"] as const;

const MODE = {
  executable: 0o755,
  file: 0o644,
  dir: 0o755,
  /** The queue folder holds claim tokens: owner only, as the store keeps it. */
  queue: 0o700,
} as const;

/** init refused or failed; `path` is the folder at fault. */
export class InitError extends Error {
  override name = "InitError";
  readonly path: string;
  constructor(message: string, target: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.path = target;
  }
}

export interface InitWorkspaceOptions {
  /** Folder to create handoff/ in; relative to `cwd`. @default cwd */
  path?: string | null;
  /** @default the folder's name */
  workspaceId?: string | null;
  /** Written verbatim into handoff.yaml. @default ".." */
  workspaceRoot?: string | null;
  /** Written verbatim into handoff.yaml. @default "state" */
  queueRoot?: string | null;
  /** @default process.cwd() */
  cwd?: string;
  /** The CLI the generated scripts run. @default dist/src/cli/main.cjs of this installation */
  cliEntry?: string;
}

/** init's --json payload. */
export interface InitResult {
  status: "initialized";
  /** Absolute path of the new handoff/ folder. */
  handoff: string;
  workspace_id: string;
  /** As given (verbatim, as written into handoff.yaml). */
  workspace_root: string;
  /** As given (verbatim, as written into handoff.yaml). */
  queue_root: string;
  next_steps: string[];
}

/** Scaffold <path>/handoff/: config, README, reviewer prompt, dispatcher.sh, bin/handoff, the queue folder. */
export async function initWorkspace(options: InitWorkspaceOptions = {}): Promise<InitResult> {
  const cwd = options.cwd ?? process.cwd();
  const target = await prepareTarget(resolveUserPath(cwd, options.path || "."));
  const handoff = path.join(target, "handoff");
  await refuseExisting([handoff]);

  const workspaceId = pickWorkspaceId(options.workspaceId, target);
  const workspaceRoot = options.workspaceRoot || INIT_DEFAULTS.workspaceRoot;
  const queueRoot = options.queueRoot || INIT_DEFAULTS.queueRoot;
  const values = {
    ...(await commonValues(options.cliEntry)),
    WORKSPACE_ID: workspaceId,
    WORKSPACE_ID_YAML: await yamlScalar(workspaceId),
    WORKSPACE_ROOT_YAML: await yamlScalar(workspaceRoot),
    QUEUE_ROOT_YAML: await yamlScalar(queueRoot),
  };

  const entries: Entry[] = [
    { rel: "handoff.yaml", text: await renderFile("init/handoff.yaml", values), mode: MODE.file },
    { rel: "README.md", text: await renderFile("init/README.md", values), mode: MODE.file },
    { rel: "REVIEWER-AGENT-PROMPT.md", text: await renderFile("init/REVIEWER-AGENT-PROMPT.md", values), mode: MODE.file },
    { rel: "dispatcher.sh", text: await renderFile("init/dispatcher.sh", values), mode: MODE.executable },
    { rel: "bin", mode: MODE.dir },
    { rel: "bin/handoff", text: await renderFile("init/bin/handoff", values), mode: MODE.executable },
  ];
  // The queue folder is created only where it belongs to handoff/ (the
  // default `state`); a queue elsewhere is created by the store on first use.
  const queueDir = resolveUserPath(handoff, queueRoot);
  if (queueDir !== handoff && isInside(handoff, queueDir)) entries.push({ rel: path.relative(handoff, queueDir), mode: MODE.queue });

  await writeTrees([{ dir: handoff, entries }]);

  const run = (rel: string): string => shellQuote(path.join(handoff, rel));
  return {
    status: "initialized",
    handoff,
    workspace_id: workspaceId,
    workspace_root: workspaceRoot,
    queue_root: queueRoot,
    next_steps: [
      `describe a task in its own file outside handoff/, e.g. ${path.join(target, "tasks", "<id>.yaml")} (lane, request_from, response_to, prompt)`,
      `serve the lanes: ${run("dispatcher.sh")} claude, or paste ${path.join(handoff, "REVIEWER-AGENT-PROMPT.md")} into a chat`,
      `submit: ${run("bin/handoff")} submit --task tasks/<id>.yaml`,
      `wait for the answer: ${run("bin/handoff")} wait <task-id>`,
      `or let an agent do both as MCP tools: register what ${run("bin/handoff")} mcp config --client claude (or codex, gemini) prints`,
    ],
  };
}

export interface InitPoolOptions {
  /** The pool folder; relative to `cwd`. */
  path: string;
  /** @default the folder's name */
  workspaceId?: string | null;
  /** @default process.cwd() */
  cwd?: string;
  /** The CLI the generated scripts run. @default dist/src/cli/main.cjs of this installation */
  cliEntry?: string;
}

/** init-pool's --json payload. */
export interface InitPoolResult {
  status: "initialized";
  workspace_id: string;
  /** Absolute path of .agent-lanes-queue/. */
  queue: string;
  /** Absolute path of its handoff.yaml. */
  config: string;
  /** Absolute path of the queue folder (state/). */
  store: string;
  dispatchers: Array<{ vendor: string; wrapper: string }>;
  /** Absolute path of dispatchers/POLLING-CHAT-PROMPT.md. */
  polling_prompt: string;
}

/** Scaffold a dispatcher pool: <path>/.agent-lanes-queue/ (config, README, state/) and <path>/dispatchers/. */
export async function initPool(options: InitPoolOptions): Promise<InitPoolResult> {
  const cwd = options.cwd ?? process.cwd();
  const target = await prepareTarget(resolveUserPath(cwd, options.path));
  const queue = path.join(target, ".agent-lanes-queue");
  const dispatchersDir = path.join(target, "dispatchers");
  // Both checked before anything is written: a refusal touches nothing.
  await refuseExisting([queue, dispatchersDir]);

  const workspaceId = pickWorkspaceId(options.workspaceId, target);
  const config = path.join(queue, "handoff.yaml");
  const store = path.join(queue, "state");
  const wrappers = POOL_VENDORS.map((vendor) => ({ vendor, wrapper: path.join(dispatchersDir, `${vendor}.sh`) }));
  const common = await commonValues(options.cliEntry);
  const values = {
    ...common,
    WORKSPACE_ID: workspaceId,
    WORKSPACE_ID_YAML: await yamlScalar(workspaceId),
    POOL_ROOT: target,
    DISPATCHERS_DIR: dispatchersDir,
    CONFIG: config,
    CONFIG_SH: shellQuote(config),
    STORE: store,
    STORE_SH: shellQuote(store),
    VENDOR_LIST: wrappers.map(({ vendor }) => `- \`${vendor}.sh\` — \`agent-lanes dispatch --vendor ${vendor}\``).join("\n"),
  };

  const wrapperTemplate = await loadTemplate("init-pool/dispatchers/vendor.sh");
  const dispatcherEntries: Entry[] = [
    ...wrappers.map(({ vendor }) => ({
      rel: `${vendor}.sh`,
      text: renderTemplate(wrapperTemplate, { ...values, VENDOR_SH: shellQuote(vendor) }, "init-pool/dispatchers/vendor.sh"),
      mode: MODE.executable,
    })),
    { rel: "README.md", text: await renderFile("init-pool/dispatchers/README.md", values), mode: MODE.file },
    { rel: "POLLING-CHAT-PROMPT.md", text: await renderFile("init-pool/dispatchers/POLLING-CHAT-PROMPT.md", values), mode: MODE.file },
  ];
  const queueEntries: Entry[] = [
    { rel: "handoff.yaml", text: await renderFile("init-pool/handoff.yaml", values), mode: MODE.file },
    { rel: "README.md", text: await renderFile("init-pool/README.md", values), mode: MODE.file },
    { rel: "state", mode: MODE.queue },
  ];

  await writeTrees([
    { dir: queue, entries: queueEntries },
    { dir: dispatchersDir, entries: dispatcherEntries },
  ]);

  return {
    status: "initialized",
    workspace_id: workspaceId,
    queue,
    config,
    store,
    dispatchers: wrappers,
    polling_prompt: path.join(dispatchersDir, "POLLING-CHAT-PROMPT.md"),
  };
}

/** Values every template may use: how scripts find the CLI, the dispatch: example. */
async function commonValues(cliEntry: string | undefined): Promise<Record<string, string>> {
  const entry = cliEntry ?? cliEntryPath();
  return {
    CLI_ENTRY_SH: shellQuote(entry),
    FIND_CLI: renderTemplate(await loadTemplate("shared/find-cli.sh"), { CLI_ENTRY_SH: shellQuote(entry) }, "shared/find-cli.sh").trimEnd(),
    DISPATCH_EXAMPLE: (await loadTemplate("shared/dispatch-example.yaml")).trimEnd(),
  };
}

function pickWorkspaceId(given: string | null | undefined, target: string): string {
  return given?.trim() || path.basename(target) || INIT_DEFAULTS.workspaceId;
}

/** Create the target folder if needed; return its absolute, symlink-free path. */
async function prepareTarget(target: string): Promise<string> {
  try {
    await fs.mkdir(target, { recursive: true });
    return await fs.realpath(target);
  } catch (error) {
    throw new InitError(`cannot use ${target} as the init folder: ${(error as Error).message}`, target, { cause: error });
  }
}

async function refuseExisting(targets: readonly string[]): Promise<void> {
  for (const target of targets) {
    const found = await fs.lstat(target).then(
      () => true,
      () => false,
    );
    if (found) throw new InitError(`already exists: ${target} (init never overwrites; remove it or choose another folder)`, target);
  }
}

/** A file (with text) or a folder (without), relative to its tree. */
interface Entry {
  rel: string;
  text?: string;
  mode: number;
}

interface Tree {
  dir: string;
  entries: Entry[];
}

/** Build each tree in a staging folder beside it, then rename all into place; undo everything on failure. */
async function writeTrees(trees: readonly Tree[]): Promise<void> {
  const staged: Array<{ tree: Tree; staging: string }> = [];
  const placed: string[] = [];
  try {
    for (const tree of trees) {
      const staging = path.join(path.dirname(tree.dir), `.${path.basename(tree.dir)}.${randomBytes(6).toString("hex")}.tmp`);
      await fs.mkdir(staging);
      staged.push({ tree, staging });
      for (const entry of tree.entries) {
        const target = path.join(staging, entry.rel);
        await fs.mkdir(path.dirname(target), { recursive: true });
        if (entry.text === undefined) await fs.mkdir(target, { recursive: true });
        else await fs.writeFile(target, entry.text, { flag: "wx" });
        // chmod, not the create mode: the umask must not strip the executable bits.
        await fs.chmod(target, entry.mode);
      }
      await fs.chmod(staging, MODE.dir);
    }
    for (const { tree, staging } of staged) {
      await fs.rename(staging, tree.dir);
      placed.push(tree.dir);
    }
  } catch (error) {
    // Everything removed here was created by this call: the targets did not exist.
    await Promise.all([...staged.map(({ staging }) => staging), ...placed].map((dir) => fs.rm(dir, { recursive: true, force: true })));
    throw error;
  }
}
