#!/usr/bin/env node
// Installs the agent CLIs the real-CLI contract suite runs (npm run
// test:real-clis) at the versions pinned in test/real-clis/versions.json,
// each into its own folder of a cache, never as a dependency of agent-lanes:
//
//   ${AGENT_LANES_CLI_CACHE:-$HOME/.cache/agent-lanes/real-clis}/<vendor>-<version>/
//
// A folder whose CLI already answers `--version` with the pinned version is
// kept, so a second run costs a few `--version` calls. Prints one line per
// CLI and, with --json, a JSON object { vendor: { version, bin } } on stdout.
//
//   node scripts/install-real-clis.mjs            # install what is missing
//   node scripts/install-real-clis.mjs --json     # and print the binaries' paths

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const VERSIONS_FILE = path.join(REPO, "test/real-clis/versions.json");

/** The cache root: $AGENT_LANES_CLI_CACHE, else ~/.cache/agent-lanes/real-clis. */
export function cacheRoot(env = process.env) {
  return env.AGENT_LANES_CLI_CACHE || path.join(os.homedir(), ".cache", "agent-lanes", "real-clis");
}

/** The pinned CLIs: [{ vendor, package, version, bin }]. */
export function pinnedClis(file = VERSIONS_FILE) {
  const manifest = JSON.parse(readFileSync(file, "utf8"));
  return Object.entries(manifest)
    .filter(([key]) => !key.startsWith("$"))
    .map(([vendor, spec]) => ({ vendor, package: spec.package, version: spec.version, bin: spec.bin }));
}

/** Where a pinned CLI lives once installed. */
export function cliPaths(cli, root = cacheRoot()) {
  const dir = path.join(root, `${cli.vendor}-${cli.version}`);
  return { dir, bin: path.join(dir, "node_modules", ".bin", cli.bin), packageDir: path.join(dir, "node_modules", ...cli.package.split("/")) };
}

function versionOf(bin) {
  try {
    return execFileSync(bin, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000, env: { ...process.env, NO_COLOR: "1" } }).trim();
  } catch {
    return null;
  }
}

/**
 * Claude Code's package ships a placeholder bin/claude.exe that its own
 * postinstall replaces with the platform binary. When the package manager did
 * not run install scripts, run that one script ourselves (nothing else).
 */
function finishClaude(packageDir) {
  const placeholder = path.join(packageDir, "bin", "claude.exe");
  const installer = path.join(packageDir, "install.cjs");
  if (existsSync(installer) && existsSync(placeholder) && statSync(placeholder).size < 1_000_000) {
    execFileSync(process.execPath, [installer], { cwd: packageDir, stdio: ["ignore", "inherit", "inherit"] });
  }
}

/** Installs every pinned CLI that is missing; returns { vendor: { version, bin } }. */
export function installRealClis({ root = cacheRoot(), log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  const result = {};
  for (const cli of pinnedClis()) {
    const where = cliPaths(cli, root);
    let reported = existsSync(where.bin) ? versionOf(where.bin) : null;
    if (reported?.includes(cli.version)) {
      log(`${cli.vendor}: ${cli.package}@${cli.version} already in ${where.dir}`);
    } else {
      mkdirSync(where.dir, { recursive: true });
      log(`${cli.vendor}: installing ${cli.package}@${cli.version} into ${where.dir}`);
      execFileSync(
        "npm",
        ["install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--loglevel", "error", "--prefix", where.dir, `${cli.package}@${cli.version}`],
        { stdio: ["ignore", "inherit", "inherit"] },
      );
      if (cli.vendor === "claude") finishClaude(where.packageDir);
      reported = versionOf(where.bin);
      if (!reported?.includes(cli.version)) {
        throw new Error(`${cli.package}@${cli.version}: ${where.bin} --version printed ${JSON.stringify(reported)}; expected ${cli.version}`);
      }
    }
    result[cli.vendor] = { package: cli.package, version: cli.version, bin: where.bin };
  }
  return result;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const installed = installRealClis();
    if (process.argv.includes("--json")) process.stdout.write(`${JSON.stringify(installed, null, 2)}\n`);
  } catch (error) {
    process.stderr.write(`install-real-clis: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
