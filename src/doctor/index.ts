// `agent-lanes doctor`: can this machine serve tasks unattended? Per vendor:
// the CLI on PATH, its version against the range the suites ran, whether
// credentials are present (environment or the CLI's own login files), trust
// settings; then the queue (writable, lock works, a Python peer sees the
// lock), the service (installed, running) and pauses in force. One result per
// check, each with the fix when it is not ok. Nothing here talks to a model:
// the only process started per vendor is `<cli> --version`.

import { constants, promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import type { Task } from "../store/types.js";

export type CheckStatus = "ok" | "warn" | "fail" | "skip";

export interface CheckResult {
  /** "claude", "queue", "service". */
  area: string;
  /** "cli", "version", "credentials", "trust", "pause", "writable", "lock", "python-flock", "installed". */
  check: string;
  status: CheckStatus;
  detail: string;
  /** What to do about it; null when ok. */
  fix: string | null;
}

/** The vendors doctor knows how to check. */
export const DOCTOR_VENDORS = ["claude", "codex", "gemini", "agy"] as const;

/**
 * The range doctor accepts per CLI, around the versions the real-CLI suite
 * pins (test/real-clis/versions.json: claude-code 2.1.197, codex 0.169.0,
 * gemini-cli 0.61.0). agy: never run yet.
 */
export const TESTED_VERSIONS: Readonly<Record<string, { from: string; below: string; tested: string } | null>> = {
  claude: { from: "2.1.0", below: "3.0.0", tested: "2.1.197" },
  codex: { from: "0.160.0", below: "1.0.0", tested: "0.169.0" },
  gemini: { from: "0.60.0", below: "1.0.0", tested: "0.61.0" },
  agy: null,
};

const INSTALL_HINTS: Readonly<Record<string, string>> = {
  claude: "npm install -g @anthropic-ai/claude-code",
  codex: "npm install -g @openai/codex",
  gemini: "npm install -g @google/gemini-cli",
  agy: "install the Antigravity CLI (it puts agy in ~/.local/bin)",
};

export interface DoctorVendorInput {
  name: string;
  /** The vendor's merged config (defaults + handoff.yaml + --vendor-config). */
  config: import("../../vendors/types.js").VendorConfig;
  /** An adapter to ask for its default invocation (trust flags); never run. */
  adapter: import("../../vendors/types.js").VendorAdapter | null;
}

export interface DoctorOptions {
  vendors: DoctorVendorInput[];
  /** True when the user named the vendor (--vendor): a missing CLI is then a failure, not a skip. */
  explicit: boolean;
  /** The queue folder or postgres:// URL, or null when there is no config and no --store. */
  queueRoot: string | null;
  /** Why queueRoot is null (shown with the skip). */
  queueProblem?: string;
  workspaceRoot: string | null;
  env?: NodeJS.ProcessEnv;
  home?: string;
  /** Ask the service manager (systemd/launchd). @default true */
  service?: boolean;
  /** Seconds each `--version` may take. @default 10 */
  versionTimeoutSeconds?: number;
}

/** Every check, in a stable order. */
export async function runDoctor(options: DoctorOptions): Promise<CheckResult[]> {
  const env = options.env ?? process.env;
  const home = options.home ?? env.HOME ?? os.homedir();
  const results: CheckResult[] = [];
  try {
    for (const vendor of options.vendors) results.push(...(await vendorChecks(vendor, options, env, home)));
    results.push(...(await queueChecks(options)));
    if (options.service !== false) results.push(...(await serviceChecks(options)));
  } finally {
    await closeDoctorQueues();
  }
  return results;
}

/** 0 when nothing failed, 1 otherwise. */
export function doctorExitCode(results: readonly CheckResult[]): number {
  return results.some((r) => r.status === "fail") ? 1 : 0;
}

const ok = (area: string, check: string, detail: string): CheckResult => ({ area, check, status: "ok", detail, fix: null });
const bad = (status: "warn" | "fail" | "skip", area: string, check: string, detail: string, fix: string | null): CheckResult => ({ area, check, status, detail, fix });

async function vendorChecks(vendor: DoctorVendorInput, options: DoctorOptions, env: NodeJS.ProcessEnv, home: string): Promise<CheckResult[]> {
  const name = vendor.name;
  const { commandLine } = await import("../../vendors/invoke.js");
  const { file, args: lead } = commandLine(vendor.config.command, name);
  const childEnv = { ...env, ...(vendor.config.env ?? {}) };
  const results: CheckResult[] = [];

  const found = await findExecutable(file, childEnv.PATH ?? "");
  if (!found) {
    const fix = `${INSTALL_HINTS[name] ?? `install ${file}`}, or set dispatch.vendors.${name}.command to its path`;
    results.push(bad(options.explicit ? "fail" : "skip", name, "cli", `${file} not found${file.includes("/") ? "" : " on PATH"}`, options.explicit ? fix : `${fix} (only if you dispatch to ${name})`));
    // Without the CLI the rest says nothing useful, except a pause in force.
    results.push(...(await pauseCheck(name, options.queueRoot)));
    return results;
  }
  results.push(ok(name, "cli", found));
  results.push(await versionCheck(name, found, lead, childEnv, options.versionTimeoutSeconds ?? 10));
  results.push(await credentialsCheck(name, childEnv, home));
  results.push(await trustCheck(vendor, childEnv, home, options.workspaceRoot));
  results.push(...(await pauseCheck(name, options.queueRoot)));
  return results;
}

/** The executable a spawn would run: a path as given, else the first match on PATH. */
export async function findExecutable(file: string, searchPath: string): Promise<string | null> {
  const candidates = file.includes("/") ? [path.resolve(file)] : searchPath.split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, file));
  for (const candidate of candidates) {
    try {
      const stat = await fs.stat(candidate);
      if (!stat.isFile()) continue;
      await fs.access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return null;
}

/** -1, 0, 1 for two "x.y.z" versions. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i += 1) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

async function versionCheck(name: string, file: string, lead: string[], env: NodeJS.ProcessEnv, timeoutSeconds: number): Promise<CheckResult> {
  const run = await execa(file, [...lead, "--version"], { env, reject: false, timeout: timeoutSeconds * 1000, stdin: "ignore", extendEnv: false });
  const text = `${run.stdout ?? ""}\n${run.stderr ?? ""}`;
  const version = /(\d+\.\d+\.\d+)/.exec(text)?.[1];
  if (run.exitCode !== 0 || !version) {
    const why = run.timedOut ? `did not answer within ${timeoutSeconds} s` : `printed no version (exit ${run.exitCode ?? run.signal})`;
    return bad("warn", name, "version", `${file} --version ${why}`, `run \`${file} --version\` by hand and check the installation`);
  }
  const range = Object.hasOwn(TESTED_VERSIONS, name) ? TESTED_VERSIONS[name] : null;
  if (!range) return bad("warn", name, "version", `${version}; no version of ${name} has been run against agent-lanes yet`, "expect surprises; report what you see");
  if (compareVersions(version, range.from) < 0 || compareVersions(version, range.below) >= 0) {
    return bad("warn", name, "version", `${version} is outside the tested range ${range.from} to below ${range.below}`, `install a ${range.tested} version (${INSTALL_HINTS[name] ?? name}) or watch the first runs`);
  }
  return ok(name, "version", `${version} (tested: ${range.tested})`);
}

/** Environment variables and login files each CLI authenticates with. */
function credentialSources(name: string, env: NodeJS.ProcessEnv, home: string): { vars: string[]; files: string[]; fix: string } {
  switch (name) {
    case "claude": {
      const dir = env.CLAUDE_CONFIG_DIR || path.join(home, ".claude");
      return {
        vars: ["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"],
        files: [path.join(dir, ".credentials.json")],
        fix: "run `claude /login` as this user (or set ANTHROPIC_API_KEY / CLAUDE_CODE_OAUTH_TOKEN in dispatch.vendors.claude.env)",
      };
    }
    case "codex": {
      const dir = env.CODEX_HOME || path.join(home, ".codex");
      return { vars: ["OPENAI_API_KEY", "CODEX_API_KEY"], files: [path.join(dir, "auth.json")], fix: "run `codex login` as this user (or set OPENAI_API_KEY in dispatch.vendors.codex.env)" };
    }
    case "gemini":
      return {
        vars: ["GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_GCA", "GOOGLE_APPLICATION_CREDENTIALS"],
        files: [path.join(home, ".gemini", "oauth_creds.json")],
        fix: "run `gemini` once as this user and sign in (or set GEMINI_API_KEY in dispatch.vendors.gemini.env)",
      };
    case "agy":
      return { vars: ["ANTIGRAVITY_API_KEY"], files: [path.join(home, ".gemini", "antigravity-cli")], fix: "run `agy` once as this user and sign in with your Google account" };
    default:
      return { vars: [], files: [], fix: `log the ${name} CLI in` };
  }
}

async function credentialsCheck(name: string, env: NodeJS.ProcessEnv, home: string): Promise<CheckResult> {
  const { vars, files, fix } = credentialSources(name, env, home);
  const set = vars.filter((key) => typeof env[key] === "string" && (env[key] as string).trim() !== "");
  if (set.length > 0) return ok(name, "credentials", `from the environment (${set.join(", ")})`);
  // codex: a custom provider names its own key variable (env_key in config.toml).
  if (name === "codex") {
    const custom = await codexEnvKey(env, home);
    if (custom && env[custom]) return ok(name, "credentials", `from the environment (${custom}, the env_key of $CODEX_HOME/config.toml)`);
  }
  for (const file of files) {
    if (await exists(file)) return ok(name, "credentials", `login file ${file}`);
  }
  if (name === "claude" && process.platform === "darwin") {
    return bad("warn", name, "credentials", "no key in the environment; a login would be in the macOS keychain, which doctor cannot read", `run \`claude -p hi\` once by hand to see; else ${fix}`);
  }
  return bad("fail", name, "credentials", `none found (environment: ${vars.join(", ") || "none known"}; files: ${files.join(", ") || "none known"})`, fix);
}

async function codexEnvKey(env: NodeJS.ProcessEnv, home: string): Promise<string | null> {
  const file = path.join(env.CODEX_HOME || path.join(home, ".codex"), "config.toml");
  try {
    const text = await fs.readFile(file, "utf8");
    return /^\s*env_key\s*=\s*"([A-Za-z_][A-Za-z0-9_]*)"/m.exec(text)?.[1] ?? null;
  } catch {
    return null;
  }
}

async function trustCheck(vendor: DoctorVendorInput, env: NodeJS.ProcessEnv, home: string, workspaceRoot: string | null): Promise<CheckResult> {
  const name = vendor.name;
  switch (name) {
    case "claude":
      return ok(name, "trust", "print mode (-p) skips the folder trust dialog; tools the headless run may not use are denied, not asked");
    case "codex": {
      const args = invocationOf(vendor)?.args ?? [];
      if (args.includes("--skip-git-repo-check")) return ok(name, "trust", "--skip-git-repo-check is passed; approvals are never asked in exec mode");
      return bad("fail", name, "trust", "--skip-git-repo-check is not passed: codex refuses folders outside a trusted git repository", "keep --skip-git-repo-check in the invocation (see dispatch.vendors.codex.args)");
    }
    case "gemini": {
      const invocation = invocationOf(vendor);
      const args = invocation?.args ?? [];
      const trustEnv = invocation?.env?.GEMINI_CLI_TRUST_WORKSPACE ?? env.GEMINI_CLI_TRUST_WORKSPACE;
      if (args.includes("--skip-trust")) return ok(name, "trust", "--skip-trust is passed");
      if (trustEnv === "true") return ok(name, "trust", "GEMINI_CLI_TRUST_WORKSPACE=true");
      if (workspaceRoot && (await geminiTrusts(home, workspaceRoot))) return ok(name, "trust", `${workspaceRoot} is in ~/.gemini/trustedFolders.json`);
      return bad("fail", name, "trust", "headless gemini refuses an untrusted folder (exit 55) and neither --skip-trust nor GEMINI_CLI_TRUST_WORKSPACE=true is set", "add --skip-trust to dispatch.vendors.gemini.args or set GEMINI_CLI_TRUST_WORKSPACE: \"true\" in dispatch.vendors.gemini.env");
    }
    case "agy":
      return ok(name, "trust", "print mode asks no questions; tool permissions stay denied unless you add --dangerously-skip-permissions (sandboxes only)");
    default:
      return bad("skip", name, "trust", "nothing known to check", null);
  }
}

/** The adapter's default invocation for an empty task (args and env only; nothing runs). */
function invocationOf(vendor: DoctorVendorInput): { args: string[]; env?: Record<string, string> } | null {
  if (!vendor.adapter) return null;
  const task = { id: "doctor", lane: "doctor", metadata: {}, workspace_root: os.tmpdir() } as unknown as Task;
  try {
    return vendor.adapter.invocation(task, { input: "doctor", cwd: os.tmpdir(), attempt: 1, config: vendor.config, warn: () => undefined });
  } catch {
    return null;
  }
}

async function geminiTrusts(home: string, folder: string): Promise<boolean> {
  try {
    const data = JSON.parse(await fs.readFile(path.join(home, ".gemini", "trustedFolders.json"), "utf8")) as Record<string, unknown>;
    const wanted = path.resolve(folder);
    return Object.entries(data).some(([dir, level]) => (level === "TRUST_FOLDER" && path.resolve(dir) === wanted) || (level === "TRUST_PARENT" && wanted.startsWith(`${path.resolve(dir)}${path.sep}`)));
  } catch {
    return false;
  }
}

async function pauseCheck(name: string, queueRoot: string | null): Promise<CheckResult[]> {
  if (!queueRoot) return [];
  const { describePause, readPause } = await import("../supervisor/pauses.js");
  const { isPostgresUrl } = await import("../store/postgres/url.js");
  // A PostgreSQL queue keeps its pauses in the database (an unreachable one is the queue check's to report).
  const target = isPostgresUrl(queueRoot) ? await openDatabaseQueue(queueRoot).catch(() => null) : queueRoot;
  if (target === null) return [];
  const read = await readPause(target, name).catch((error: Error) => ({ pause: null, warning: error.message }));
  if (read.warning) return [bad("warn", name, "pause", read.warning, `remove the file: agent-lanes resume --vendor ${name}`)];
  if (!read.pause) return [ok(name, "pause", "no pause in force")];
  const text = describePause(read.pause);
  if (read.pause.kind === "needs-login") return [bad("fail", name, "pause", text, read.pause.fix ?? `log the CLI in, then agent-lanes resume --vendor ${name}`)];
  return [bad("warn", name, "pause", text, `wait for it, or lift it now: agent-lanes resume --vendor ${name}`)];
}

/** The PostgreSQL queue at `url`, opened once per doctor run (closed at exit by the process ending). */
const databaseQueues = new Map<string, Promise<import("../store/types.js").Store>>();
function openDatabaseQueue(url: string): Promise<import("../store/types.js").Store> {
  let opened = databaseQueues.get(url);
  if (!opened) {
    opened = import("../store/open.js").then(({ openStore }) => openStore(url));
    databaseQueues.set(url, opened);
  }
  return opened;
}

/** A PostgreSQL queue: reachable, with the schema this build knows. */
async function databaseChecks(url: string): Promise<CheckResult[]> {
  const { maskUrl } = await import("../store/postgres/url.js");
  try {
    await openDatabaseQueue(url);
    const { SCHEMA_VERSION } = await import("../store/postgres/migrations.js");
    return [ok("queue", "database", `${maskUrl(url)} reachable, schema version ${SCHEMA_VERSION}`)];
  } catch (error) {
    const fix = (error as { code?: string }).code === "schema_mismatch" ? "see the message: agent-lanes migrate --store URL, or upgrade agent-lanes" : "start the PostgreSQL server or fix the URL (--store, queue_root, AGENT_LANES_STORE)";
    return [bad("fail", "queue", "database", (error as Error).message, fix)];
  }
}

/** Close the PostgreSQL queues doctor opened. */
export async function closeDoctorQueues(): Promise<void> {
  const all = [...databaseQueues.values()];
  databaseQueues.clear();
  await Promise.all(all.map((p) => p.then((s) => s.close(), () => undefined)));
}

async function queueChecks(options: DoctorOptions): Promise<CheckResult[]> {
  const root = options.queueRoot;
  if (!root) return [bad("skip", "queue", "writable", options.queueProblem ?? "no queue: no handoff.yaml here and no --store", "run agent-lanes init in the workspace, or pass --store DIR")];
  const { isPostgresUrl } = await import("../store/postgres/url.js");
  if (isPostgresUrl(root)) return databaseChecks(root);
  const results: CheckResult[] = [];
  if (!(await exists(root))) {
    return [bad("warn", "queue", "writable", `${root} does not exist yet`, "run agent-lanes init (or submit a first task) to create it")];
  }
  const probe = path.join(root, `.doctor-${process.pid}-${Date.now()}.tmp`);
  try {
    await fs.writeFile(probe, "doctor\n", { flag: "wx", mode: 0o600 });
    await fs.unlink(probe);
    results.push(ok("queue", "writable", root));
  } catch (error) {
    results.push(bad("fail", "queue", "writable", `${root}: ${(error as Error).message}`, "give this user write access to the queue folder (or point --store elsewhere)"));
    return results;
  }
  const { queuePaths } = await import("../store/layout.js");
  const { withLock } = await import("../store/lock.js");
  const lockFile = queuePaths(root).lock;
  try {
    const peer = await withLock(lockFile, () => pythonSeesLock(lockFile), { timeoutMs: 5000 });
    results.push(ok("queue", "lock", `${lockFile} taken and released`));
    results.push(peer);
  } catch (error) {
    results.push(bad("fail", "queue", "lock", `${lockFile}: ${(error as Error).message}`, "find the process holding the lock (see the message) and stop it, or check the folder's file system supports flock"));
  }
  return results;
}

/** While we hold the lock, a Python peer's non-blocking fcntl.flock must fail: both use flock(2). */
async function pythonSeesLock(lockFile: string): Promise<CheckResult> {
  const script =
    "import fcntl, os, sys\n" +
    "fd = os.open(sys.argv[1], os.O_RDWR)\n" +
    "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n    print('free')\n" +
    "except BlockingIOError:\n    print('held')\n";
  const run = await execa("python3", ["-c", script, lockFile], { reject: false, timeout: 10_000, stdin: "ignore" });
  if (run.failed && (run as { code?: string }).code === "ENOENT") return bad("skip", "queue", "python-flock", "python3 not found: the Python peer's view of the lock was not checked", null);
  const answer = String(run.stdout ?? "").trim();
  if (answer === "held") return ok("queue", "python-flock", "a Python peer (fcntl.flock) sees the lock held: the two tools exclude each other");
  if (answer === "free") return bad("fail", "queue", "python-flock", "a Python peer could take the lock while we held it: the tools would not exclude each other", "the queue's file system does not share flock locks between processes (NFS?): put the queue on a local disk");
  return bad("warn", "queue", "python-flock", `python3 could not check the lock (exit ${run.exitCode}): ${String(run.stderr ?? "").split("\n")[0]}`, null);
}

async function serviceChecks(options: DoctorOptions): Promise<CheckResult[]> {
  let infos: Array<{ name: string; vendor: string | null; running: boolean; loaded: boolean; state: string }>;
  try {
    const { createServiceContext, listServices } = await import("../service/index.js");
    infos = await listServices(createServiceContext());
  } catch (error) {
    return [bad("skip", "service", "installed", `cannot ask the service manager: ${(error as Error).message.split("\n")[0]}`, null)];
  }
  const wanted = options.explicit ? new Set(options.vendors.map((v) => v.name)) : null;
  const mine = infos.filter((info) => !wanted || (info.vendor !== null && wanted.has(info.vendor)));
  if (mine.length === 0) {
    return [bad("skip", "service", "installed", "no dispatcher service installed (fine when you run agent-lanes dispatch yourself)", "agent-lanes service install --vendor <name> to run one unattended")];
  }
  return mine.map((info) =>
    info.running
      ? ok("service", "running", `${info.name}: ${info.state}`)
      : bad("fail", "service", "running", `${info.name} is installed but not running (${info.state})`, `agent-lanes service status --name ${info.name}; agent-lanes service logs --name ${info.name}`),
  );
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.stat(file);
    return true;
  } catch {
    return false;
  }
}
