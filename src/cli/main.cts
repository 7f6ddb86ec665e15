#!/usr/bin/env node
// Entry point of the agent-lanes command (the package's bin). It runs the
// one-file bundle that `npm run build` makes (scripts/bundle.mjs) when it is
// there, else the program's own modules (a checkout built by tsc alone).
//
// It is a CommonJS file on purpose: an ES module entry costs every command
// Node's ES module loader (about 6 ms of CPU here, and on a busy machine some
// 25-45 ms of wall time, since it reads the entry through the thread pool),
// and its `import ... from "node:fs"` builds the ES facade of node:fs, which
// loads the streams modules. main.js (src/cli/main.ts) runs this file for
// whatever still starts the CLI by that name.
//
// The bundle is compiled through node:vm with V8's code cache, kept in a
// per-user folder: from the second run on, V8 deserialises the code of the
// functions a command runs instead of parsing and compiling them (Node 20 has
// no module.enableCompileCache, and on Node 22 that cache covers only what a
// module loader loads). A rejected or missing cache entry is rewritten once
// the command has run, so it holds every function that run compiled.
//
// V8 caches only the functions a run compiled, and a command runs its own
// part of the bundle; so an entry records the kinds of run it holds (the
// command and the flags given), and a run of a new kind that succeeds
// rewrites it with what that run compiled added (up to MAX_KINDS kinds).
//
// Where the cache lives: $AGENT_LANES_COMPILE_CACHE, else $NODE_COMPILE_CACHE,
// else $XDG_CACHE_HOME/agent-lanes (~/.cache/agent-lanes); `off` turns it off.
// A cache folder that another user owns or may write is never read: code
// cache is code.

import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import vm from "node:vm";

interface Program {
  run(): Promise<void>;
}

/** The per-user folder of the code cache, created 0700; null when off or unsafe. */
function cacheDir(): string | null {
  const chosen = process.env.AGENT_LANES_COMPILE_CACHE || process.env.NODE_COMPILE_CACHE;
  if (chosen === "off" || chosen === "0") return null;
  let dir: string;
  if (chosen) dir = path.resolve(chosen, "agent-lanes");
  else {
    const base = process.env.XDG_CACHE_HOME || (os.homedir() ? path.join(os.homedir(), ".cache") : "");
    if (!base) return null;
    dir = path.join(base, "agent-lanes");
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    const uid = process.getuid?.();
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (process.platform !== "win32" && (st.mode & 0o022) !== 0)) return null;
    return dir;
  } catch {
    return null; // a read-only home: run without the cache
  }
}

/**
 * A cache entry: "ALC1", the header's length (uint32 LE), the header (JSON:
 * the kinds of run whose functions it holds), then V8's data.
 */
const MAGIC = "ALC1";
/** Kinds of run an entry takes in before it stops growing. */
const MAX_KINDS = 64;

interface CacheEntry {
  kinds: string[];
  data: Buffer;
}

function readCache(file: string | null): CacheEntry | undefined {
  if (file === null) return undefined;
  try {
    const buf = readFileSync(file);
    if (buf.length < 8 || buf.toString("latin1", 0, 4) !== MAGIC) return undefined;
    const end = 8 + buf.readUInt32LE(4);
    if (end > buf.length) return undefined;
    const header = JSON.parse(buf.toString("utf8", 8, end)) as { kinds?: unknown };
    if (!Array.isArray(header.kinds) || !header.kinds.every((kind) => typeof kind === "string")) return undefined;
    return { kinds: header.kinds as string[], data: buf.subarray(end) };
  } catch {
    return undefined;
  }
}

function cacheBytes(kinds: readonly string[], data: Buffer): Buffer {
  const header = Buffer.from(JSON.stringify({ kinds }));
  const head = Buffer.alloc(8);
  head.write(MAGIC, 0, "latin1");
  head.writeUInt32LE(header.length, 4);
  return Buffer.concat([head, header, data]);
}

/**
 * What kind of run this is, for the cache: the first word that looks like a
 * command and the flags given (without their values), e.g. "status --all
 * --json". Runs of one kind run the same functions of the bundle.
 */
function runKind(args: readonly string[]): string {
  let command = "";
  const flags = new Set<string>();
  for (const arg of args) {
    if (arg === "--") break;
    if (arg.startsWith("-")) flags.add(arg.split("=")[0] as string);
    else if (command === "" && /^[a-z][a-z-]*$/.test(arg)) command = arg;
  }
  return [command, ...[...flags].sort()].join(" ").slice(0, 200);
}

/** A short hash of the bundle's path (FNV-1a): each installed copy has its own entries. */
function pathTag(file: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < file.length; i += 1) h = Math.imul(h ^ file.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/** The cache entry's name: which bundle, its identity (a rebuild changes it) and the engine that compiled it. */
function cacheName(file: string, bundle: Stats): string {
  return `bundle-${pathTag(file)}-${bundle.ino}-${bundle.size}-${Math.round(bundle.mtimeMs)}-${process.version}-${process.arch}.v8cache`;
}

/** Remove this bundle's entries other than `keep` (earlier builds, other Node versions). */
function removeStale(dir: string, file: string, keep: string): void {
  const prefix = `bundle-${pathTag(file)}-`;
  for (const name of readdirSync(dir)) if (name.startsWith(prefix) && name !== keep) rmSync(path.join(dir, name), { force: true });
}

async function loadBundle(file: string, stat: Stats): Promise<{ program: Program; saveCache: () => void }> {
  const source = readFileSync(file, "utf8");
  const dir = cacheDir();
  // The bundle keeps parsed YAML there too (src/config/yaml-cache.ts), once this folder passed the checks above.
  if (dir !== null) (globalThis as unknown as Record<symbol, string>)[Symbol.for("agent-lanes.cache-dir")] = dir;
  const cacheFile = dir === null ? null : path.join(dir, cacheName(file, stat));
  const cached = readCache(cacheFile);
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname, __agentLanesUrl, __agentLanesImport) {${source}\n})`,
    { filename: file, cachedData: cached?.data },
  );
  const url = pathToFileURL(file).href;
  const moduleObject = { exports: {} as Program };
  const importFromBundle = (specifier: string): Promise<unknown> => import(specifier.startsWith(".") ? new URL(specifier, url).href : specifier);
  (script.runInThisContext() as (...args: unknown[]) => void)(
    moduleObject.exports,
    createRequire(file),
    moduleObject,
    file,
    path.dirname(file),
    url,
    importFromBundle,
  );
  const kind = runKind(process.argv.slice(2));
  /** Write the entry when there was none (or V8 rejected it), or when a run of a new kind succeeded. */
  const saveCache = (): void => {
    if (cacheFile === null) return;
    let kinds: string[];
    if (cached === undefined || script.cachedDataRejected) kinds = [kind];
    else if (!cached.kinds.includes(kind) && cached.kinds.length < MAX_KINDS && !process.exitCode) kinds = [...cached.kinds, kind];
    else return;
    try {
      const temp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(temp, cacheBytes(kinds, script.createCachedData()), { mode: 0o600 });
      renameSync(temp, cacheFile);
      removeStale(path.dirname(cacheFile), file, path.basename(cacheFile));
    } catch {
      // best effort: the next run compiles again
    }
  };
  return { program: moduleObject.exports, saveCache };
}

/**
 * The bin's first lines are a /bin/sh launcher (scripts/post-build.mjs) that
 * moves NODE_EXTRA_CA_CERTS aside before it execs Node, so Node 20 does not
 * parse that file at start-up (about 30 ms of CPU a command; see
 * src/extra-ca-certs.ts). Put it back before anything runs, so every process
 * the CLI starts sees it as the user set it, and mark in this realm that Node
 * started without it: the modules that open TLS connections add it then.
 */
function restoreDeferredExtraCaCerts(): void {
  const file = process.env.AGENT_LANES_DEFERRED_EXTRA_CA_CERTS;
  if (file === undefined) return;
  delete process.env.AGENT_LANES_DEFERRED_EXTRA_CA_CERTS;
  if (file === "") return;
  process.env.NODE_EXTRA_CA_CERTS = file;
  (globalThis as unknown as Record<symbol, string>)[Symbol.for("agent-lanes.deferred-extra-ca-certs")] = file;
}

async function start(): Promise<void> {
  restoreDeferredExtraCaCerts();
  const bundleFile = path.join(__dirname, "agent-lanes.bundle.cjs");
  let bundleStat: Stats | undefined;
  try {
    bundleStat = statSync(bundleFile);
  } catch {
    bundleStat = undefined;
  }
  if (bundleStat) {
    const { program, saveCache } = await loadBundle(bundleFile, bundleStat);
    await program.run();
    saveCache();
  } else {
    await ((await import("./program.js")) as Program).run();
  }
}

void start();
