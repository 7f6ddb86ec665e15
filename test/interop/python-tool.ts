// The real Python agent-lanes (0.1.1), from shared/agent-lanes-py beside the
// repository (or AGENT_LANES_PY): the interop suites run it as the Python peer.

import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The folder holding the agent_lanes package: AGENT_LANES_PY, else shared/agent-lanes-py in a folder above the repository. */
export function pythonToolPath(): string | null {
  const candidates = process.env.AGENT_LANES_PY ? [process.env.AGENT_LANES_PY] : [];
  for (let dir = path.dirname(REPO); ; dir = path.dirname(dir)) {
    candidates.push(path.join(dir, "shared", "agent-lanes-py"));
    if (path.dirname(dir) === dir) break;
  }
  return candidates.find((c) => existsSync(path.join(c, "agent_lanes", "__init__.py"))) ?? null;
}

export const hasPython = spawnSync("python3", ["-c", "import yaml"]).status === 0;

/** Run `python3 -m agent_lanes <args>` in `cwd`. */
export function pythonTool(args: readonly string[], cwd: string, input?: string): SpawnSyncReturns<string> {
  const pkg = pythonToolPath();
  if (pkg === null) throw new Error("the Python agent-lanes package was not found: put it in ../shared/agent-lanes-py or set AGENT_LANES_PY");
  return spawnSync("python3", ["-m", "agent_lanes", ...args], { cwd, encoding: "utf8", input, env: { ...process.env, PYTHONPATH: pkg }, timeout: 60_000 });
}
