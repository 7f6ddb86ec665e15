// `agent-lanes dashboard` as a real process: with no server on the port it
// starts serve on loopback and prints the URL; with one running it only
// prints the URL (the token in its #fragment) and exits.
// Runs the built binary: `npm run build` first.

import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { CLI } from "../cli/cli-helpers.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";

let ws: TestWorkspace;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await ws?.cleanup();
});

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function run(args: string[], env: Record<string, string | undefined> = {}) {
  const child = spawn(process.execPath, [CLI, "--store", ws.queue, ...args], {
    env: { ...process.env, AGENT_LANES_TOKEN: undefined, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const line = (pattern: RegExp): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(stdout);
        if (match) resolve(match[0]);
      };
      child.stdout.on("data", check);
      void exit.then(() => (pattern.test(stdout) ? check() : reject(new Error(`exited without ${pattern}: ${stdout} ${stderr}`))));
    });
  return { child, exit, line, out: () => stdout, err: () => stderr };
}

describe("agent-lanes dashboard", () => {
  it("starts serve on loopback when none runs, prints the URL, and stops on SIGTERM", async () => {
    ws = await makeWorkspace();
    const port = await freePort();
    const dash = run(["dashboard", "--port", String(port)]);
    const url = await dash.line(/http:\/\/127\.0\.0\.1:\d+\/\S*/);
    expect(url).toBe(`http://127.0.0.1:${port}/`);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("/assets/app.js");
    dash.child.kill("SIGTERM");
    expect(await dash.exit).toBe(0);
  });

  it("with a server already running: prints its URL with the token in the fragment and exits 0", async () => {
    ws = await makeWorkspace();
    const port = await freePort();
    const serve = run(["serve", "--port", String(port)], { AGENT_LANES_TOKEN: "tok-1" });
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (serve.err().includes("listening on")) resolve();
      };
      serve.child.stderr?.on("data", check);
    });
    const dash = run(["dashboard", "--port", String(port)], { AGENT_LANES_TOKEN: "tok-1" });
    expect(await dash.exit).toBe(0);
    expect(dash.out().trim()).toBe(`http://127.0.0.1:${port}/#token=tok-1`);
    expect(dash.err()).toContain("already runs");
    serve.child.kill("SIGTERM");
    expect(await serve.exit).toBe(0);
  });
});
