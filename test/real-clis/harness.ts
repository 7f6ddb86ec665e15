// The real-CLI lab: one queue, a temporary home (HOME, XDG dirs, CODEX_HOME),
// a stand-in model server on 127.0.0.1 and `agent-lanes dispatch` (the built
// binary) running the real vendor CLI installed by
// scripts/install-real-clis.mjs. Nothing here reaches past loopback.

import { execa } from "execa";
import { existsSync, promises as fs } from "node:fs";
import path from "node:path";
import { codexConfigToml, CODEX_KEY_ENV, startOpenAIStandIn, type CodexConfigOptions } from "../fixtures/model-servers/openai.js";
import { startAnthropicStandIn } from "../fixtures/model-servers/anthropic.js";
import { geminiSettings, startGeminiStandIn } from "../fixtures/model-servers/gemini.js";
import type { Script, StandIn } from "../fixtures/model-servers/core.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";
import { CLI, REPO, startCli, waitFor, type CliProcess } from "../supervisor/helpers.js";
import type { PauseRecord } from "../../src/supervisor/pauses.js";
import type { Task, TaskEvent } from "../../src/store/types.js";

export type RealVendor = "claude" | "codex" | "gemini";

interface Pinned {
  vendor: string;
  package: string;
  version: string;
  bin: string;
}

// scripts/install-real-clis.mjs is plain JavaScript shared with .ci/run.
const installer = (await import(path.join(REPO, "scripts/install-real-clis.mjs"))) as {
  pinnedClis(): Pinned[];
  cliPaths(cli: Pinned): { bin: string };
};

/** The pinned version and installed binary of a vendor's CLI. */
export function realCli(vendor: RealVendor): { version: string; package: string; bin: string } {
  const cli = installer.pinnedClis().find((c) => c.vendor === vendor);
  if (!cli) throw new Error(`test/real-clis/versions.json names no ${vendor}`);
  const { bin } = installer.cliPaths(cli);
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run node scripts/install-real-clis.mjs (the suite's global setup does)`);
  return { version: cli.version, package: cli.package, bin };
}

export interface LabOptions {
  script?: Script;
  /** Extra environment for the dispatcher (and so the CLI). */
  env?: Record<string, string>;
  /** Leave out the credentials the lab normally provides (a machine nobody logged in on). */
  noCredentials?: boolean;
  /** Settings for the codex provider. */
  codex?: CodexConfigOptions;
  /** dispatch.vendors.<vendor> settings written to a --vendor-config file. */
  vendorConfig?: Record<string, unknown>;
}

export interface Lab {
  vendor: RealVendor;
  model: StandIn;
  ws: TestWorkspace;
  home: string;
  env: Record<string, string>;
  /** Starts `agent-lanes dispatch --vendor <vendor>` with the lab's settings plus `extra` flags. */
  dispatch(extra?: string[]): CliProcess;
  /** Runs an agent-lanes command to its end (the built binary). */
  cli(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  task(id: string): Promise<Task>;
  events(id: string): Promise<TaskEvent[]>;
  pause(): Promise<PauseRecord | null>;
  waitState(id: string, state: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const START = { claude: startAnthropicStandIn, codex: startOpenAIStandIn, gemini: startGeminiStandIn } as const;

/** Sets up a lab for one vendor; close() stops the dispatchers, the stand-in and removes every folder. */
export async function makeLab(vendor: RealVendor, options: LabOptions = {}): Promise<Lab> {
  const model = await START[vendor]({ script: options.script });
  const ws = await makeWorkspace();
  const home = path.join(ws.root, "home");
  const dirs = {
    config: path.join(home, ".config"),
    cache: path.join(home, ".cache"),
    data: path.join(home, ".local", "share"),
    state: path.join(home, ".local", "state"),
    // The CLIs' own temp files (gemini's error reports) go away with the lab.
    tmp: path.join(ws.root, "tmp"),
  };
  await Promise.all(Object.values(dirs).map((d) => fs.mkdir(d, { recursive: true })));
  const env: Record<string, string> = {
    HOME: home,
    USERPROFILE: home,
    XDG_CONFIG_HOME: dirs.config,
    XDG_CACHE_HOME: dirs.cache,
    XDG_DATA_HOME: dirs.data,
    XDG_STATE_HOME: dirs.state,
    TMPDIR: dirs.tmp,
    NO_COLOR: "1",
    // Nothing the CLIs try on their own may leave the machine.
    NO_PROXY: "127.0.0.1,localhost",
    HTTPS_PROXY: "",
    HTTP_PROXY: "",
  };
  // A credential the developer's shell holds must not leak into a lab.
  const scrub = [
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "CODEX_HOME",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_CLOUD_PROJECT",
    "GEMINI_CLI_TRUST_WORKSPACE",
  ];
  for (const name of scrub) env[name] = "";

  if (vendor === "claude") {
    Object.assign(env, {
      ANTHROPIC_BASE_URL: model.url,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      // Retries inside one run: few, so the suite stays short.
      CLAUDE_CODE_MAX_RETRIES: "2",
    });
    if (!options.noCredentials) env.ANTHROPIC_API_KEY = "sk-ant-api03-stand-in";
  } else if (vendor === "codex") {
    const codexHome = path.join(home, ".codex");
    await fs.mkdir(codexHome, { recursive: true });
    await fs.writeFile(path.join(codexHome, "config.toml"), codexConfigToml(model.url, { streamIdleTimeoutMs: 120_000, ...options.codex }));
    env.CODEX_HOME = codexHome;
    if (!options.noCredentials) env[CODEX_KEY_ENV] = "sk-stand-in-key";
  } else {
    await fs.mkdir(path.join(home, ".gemini"), { recursive: true });
    await fs.writeFile(path.join(home, ".gemini", "settings.json"), geminiSettings());
    env.GOOGLE_GEMINI_BASE_URL = model.url;
    if (!options.noCredentials) env.GEMINI_API_KEY = "stand-in-gemini-key";
  }
  Object.assign(env, options.env ?? {});

  let vendorConfigFile: string | null = null;
  if (options.vendorConfig) {
    vendorConfigFile = path.join(ws.root, "vendor-config.json");
    await fs.writeFile(vendorConfigFile, JSON.stringify({ vendors: { [vendor]: options.vendorConfig } }));
  }

  const running: CliProcess[] = [];
  const { bin } = realCli(vendor);

  return {
    vendor,
    model,
    ws,
    home,
    env,
    dispatch(extra: string[] = []) {
      const args = [
        "--store",
        ws.queue,
        "dispatch",
        "--vendor",
        vendor,
        "--command",
        bin,
        "--poll-seconds",
        "0.2",
        "--lease-seconds",
        "30",
        "--kill-grace-seconds",
        "1",
        "--grace-seconds",
        "2",
        "--log-format",
        "json",
        "--log-level",
        "debug",
        ...(vendorConfigFile ? ["--vendor-config", vendorConfigFile] : []),
        ...extra,
      ];
      const cli = startCli(args, { cwd: ws.root, env });
      running.push(cli);
      return cli;
    },
    async cli(args: string[]) {
      const result = await execa(process.execPath, [CLI, "--store", ws.queue, ...args], { cwd: ws.root, env, reject: false, stdin: "ignore" });
      return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
    },
    task: (id) => ws.store.get(id),
    events: (id) => ws.store.readEvents(id),
    async pause() {
      try {
        return JSON.parse(await fs.readFile(path.join(ws.queue, "pauses", `${vendor}.json`), "utf8")) as PauseRecord;
      } catch {
        return null;
      }
    },
    async waitState(id, state, timeoutMs = 90_000) {
      await waitFor(`task ${id} to be ${state}`, async () => (await ws.store.get(id)).state === state, timeoutMs, 100);
    },
    async close() {
      for (const cli of running.splice(0)) {
        if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill("SIGTERM");
        const timer = setTimeout(() => cli.child.kill("SIGKILL"), 8000);
        await cli.child;
        clearTimeout(timer);
      }
      await model.close();
      await ws.cleanup();
    },
  };
}

/** Stops a dispatcher with SIGTERM and returns its exit code. */
export async function stopDispatcher(cli: CliProcess): Promise<number | null> {
  cli.child.kill("SIGTERM");
  const end = await cli.child;
  return end.exitCode ?? null;
}

/** The dispatcher's JSON log lines whose msg matches. */
export function logLines(cli: CliProcess, pattern: RegExp): Array<Record<string, unknown>> {
  return cli.lines.filter((line) => pattern.test(String(line.msg ?? "")));
}

export { waitFor };
