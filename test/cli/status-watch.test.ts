// `status --watch` in a real terminal: tmux runs it in a detached session, the
// test changes the queue and reads the screen with capture-pane. The board
// follows the queue without a restart, fits the window after a resize, and
// q quits and restores the terminal.

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type Store } from "../../src/store/index.js";
import { CLI, makeCliWorkspace, type CliWorkspace } from "./cli-helpers.js";

const run = promisify(execFile);
const SOCKET = `al-watch-${process.pid}`;
const tmux = (...args: string[]) => run("tmux", ["-L", SOCKET, "-f", "/dev/null", ...args]);

let ws: CliWorkspace;
let store: Store;

beforeAll(async () => {
  ws = await makeCliWorkspace("al-watch-");
  store = openStore(ws.queue);
});

afterAll(async () => {
  await tmux("kill-server").catch(() => undefined);
  await store?.close();
  await ws?.cleanup();
});

async function screen(): Promise<string[]> {
  const { stdout } = await tmux("capture-pane", "-p", "-t", "watch");
  return stdout.split("\n");
}

async function until(what: string, check: (lines: string[]) => boolean, timeoutMs = 15_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let lines: string[] = [];
  while (Date.now() < deadline) {
    lines = await screen().catch(() => []);
    if (check(lines)) return lines;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}; screen:\n${lines.join("\n")}`);
}

const row = (lines: string[], lane: string): number[] | null => {
  const line = lines.find((l) => l.startsWith(`${lane} `));
  return line ? line.slice(lane.length).trim().split(/\s+/).map(Number) : null;
};

describe("status --watch under tmux", () => {
  it("redraws the board as tasks are submitted, claimed and answered, fits a resize, and quits on q", async () => {
    const first = await ws.submit("review");
    await tmux("new-session", "-d", "-s", "watch", "-x", "100", "-y", "30", "-c", ws.root, `${process.execPath} ${CLI} status --watch; echo WATCH-EXIT=$?; sleep 30`);
    let lines = await until("the board", (l) => row(l, "review") !== null);
    expect(lines[0]).toMatch(/^agent-lanes {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}.*handoff\/state$/);
    expect(lines.find((l) => l.startsWith("lane"))).toMatch(/^lane\s+queued\s+claimed\s+completed\s+failed$/);
    expect(row(lines, "review")).toEqual([1, 0, 0, 0]);

    const second = await ws.submit("default");
    await store.claim(first, { owner: "bob-the-reviewer" });
    lines = await until("the claim and the new lane", (l) => row(l, "review")?.[1] === 1 && row(l, "default")?.[0] === 1);
    expect(lines).toContain("running (1)");
    expect(lines.some((l) => /^\s+\d+s {2}review {2}bob-the-reviewer {2}lease \d+h\d\dm/.test(l))).toBe(true);
    expect(row(lines, "all")).toEqual([1, 1, 0, 0]);

    const token = (await store.get(first)).claim_token as string;
    await store.respond(first, { body: "ok", claimToken: token });
    await store.cancel(second);
    lines = await until("the answers", (l) => row(l, "review")?.[2] === 1 && row(l, "default")?.[3] === 1);
    expect(lines).toContain("running (0)");

    await tmux("resize-window", "-t", "watch", "-x", "40", "-y", "20");
    lines = await until("the narrow redraw", (l) => l[0]?.endsWith("…") === true);
    expect(lines.every((l) => l.length <= 40)).toBe(true);

    await tmux("send-keys", "-t", "watch", "q");
    lines = await until("the exit", (l) => l.some((x) => x.startsWith("WATCH-EXIT=")));
    expect(lines.find((x) => x.startsWith("WATCH-EXIT="))).toBe("WATCH-EXIT=0");
    // The alternate screen is gone: the board is not left on the terminal.
    expect(lines.some((l) => l.startsWith("running ("))).toBe(false);
  }, 60_000);

  it("refuses --watch without a terminal, with the fix", async () => {
    const result = await ws.run(["status", "--watch"]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe("agent-lanes: status --watch needs a terminal (stdout is not a TTY); use status --all --json in scripts\n");
  });
});
