// `agent-lanes serve` as a real process: the listening line, SIGTERM/SIGINT
// ending open long-polls and exiting 0, and the token rules off loopback.
// Runs the built binary: `npm run build` first.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";
import { openGet } from "./helpers.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = path.join(ROOT, "dist/src/cli/main.js");

/** Fail loudly (not silently test old code) when dist/ is missing or older than the sources under test. */
beforeAll(() => {
  const sources = [
    "src/cli/commands/serve.ts",
    ...readdirSync(path.join(ROOT, "src/server")).map((name) => `src/server/${name}`),
  ];
  for (const source of sources) {
    const built = path.join(ROOT, "dist", source.replace(/\.ts$/, ".js"));
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(path.join(ROOT, source)).mtimeMs) {
      throw new Error(`${path.relative(ROOT, built)} is missing or older than ${source}: run \`npm run build\` first`);
    }
  }
});

let ws: TestWorkspace;
let child: ChildProcess | undefined;
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  child = undefined;
  await ws?.cleanup();
});

interface Running {
  /** Resolves with the URL from the "listening on" line; rejects if the process exits first. */
  listening: Promise<string>;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function serve(args: string[], env: Record<string, string | undefined> = {}): Running {
  const proc = spawn(process.execPath, [BIN, "--store", ws.queue, "serve", "--port", "0", ...args], {
    env: { ...process.env, AGENT_LANES_TOKEN: undefined, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = proc;
  let stderr = "";
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const listening = new Promise<string>((resolve, reject) => {
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (chunk: string) => {
      stderr += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match?.[1]) resolve(match[1]);
    });
    void exit.then(({ code }) => reject(new Error(`serve exited with ${code} before listening: ${stderr}`)));
  });
  return { stderr: () => stderr, exit, listening };
}

async function health(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/health`, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("agent-lanes serve (process)", () => {
  it.each(["SIGTERM", "SIGINT"] as const)("%s ends open long-polls with 503 and exits 0", async (signal) => {
    ws = await makeWorkspace();
    const task = await ws.submit();
    const run = serve([]);
    const url = await run.listening;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const polls = [openGet(`${url}/tasks/next?lane=idle&wait_seconds=60`), openGet(`${url}/tasks/${task.id}/response?wait_seconds=60`)];
    for (let i = 0; (await health(url)).body.long_polls !== 2; i += 1) {
      if (i > 200) throw new Error("long-polls never registered");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    child?.kill(signal);
    for (const poll of polls) expect(await poll.done).toEqual({ status: 503, body: { error: "server is shutting down" } });
    expect(await run.exit).toEqual({ code: 0, signal: null });
    expect(run.stderr()).toContain(`${signal}, stopping`);
  });

  it("refuses a non-loopback host without a token, naming --token and AGENT_LANES_TOKEN", async () => {
    ws = await makeWorkspace();
    const run = serve(["--host", "0.0.0.0"]);
    await expect(run.listening).rejects.toThrow();
    expect((await run.exit).code).toBe(1);
    const lines = run.stderr().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/--token.*AGENT_LANES_TOKEN/);
  });

  it("refuses an --allow-root that is not a folder, in one line naming it and the flag", async () => {
    ws = await makeWorkspace();
    const missing = path.join(ws.root, "no-such-dir");
    const run = serve(["--allow-root", missing]);
    await expect(run.listening).rejects.toThrow();
    expect((await run.exit).code).toBe(1);
    const lines = run.stderr().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`allowed root is not a folder: ${missing} (check --allow-root`);
  });

  it("off loopback with AGENT_LANES_TOKEN: warns on stderr and requires the token", async () => {
    ws = await makeWorkspace();
    const run = serve(["--host", "0.0.0.0"], { AGENT_LANES_TOKEN: "env-token" });
    const url = (await run.listening).replace("0.0.0.0", "127.0.0.1");
    expect(run.stderr()).toMatch(/warning: 0\.0\.0\.0 is not a loopback address/);
    expect((await health(url)).status).toBe(401);
    expect((await health(url, { authorization: "Bearer wrong" })).status).toBe(401);
    expect((await health(url, { authorization: "Bearer env-token" })).status).toBe(200);
    child?.kill("SIGTERM");
    expect((await run.exit).code).toBe(0);
  });
});
