// A vendor CLI that is not logged in must never burn the queue: the built
// dispatcher runs the fake claude (logged in only while a file exists) over 5
// tasks; the first run's "Not logged in" releases its task uncounted and sets
// a shared `needs-login` pause with the fix; status --all and the log say so;
// after the "login" and `agent-lanes resume --vendor claude` all 5 complete.

import { promises as fs } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readPause } from "../../src/supervisor/pauses.js";
import { makeWorkspace, type TestWorkspace } from "../helpers/workspace.js";
import { CLI, FAKE_BIN, startCli, waitFor, type CliProcess } from "./helpers.js";

let ws: TestWorkspace;
const clis: CliProcess[] = [];

beforeEach(async () => {
  ws = await makeWorkspace();
});

afterEach(async () => {
  for (const cli of clis.splice(0)) {
    cli.child.kill("SIGKILL");
    await cli.child.catch(() => undefined);
  }
  await ws.cleanup();
});

const cli = async (...args: string[]) => execa(process.execPath, [CLI, "--store", ws.queue, ...args], { cwd: ws.root, reject: false });

describe("a dispatcher whose CLI is not logged in", () => {
  it("keeps every task queued behind a needs-login pause, then serves them all after the login and resume", async () => {
    const loginFile = path.join(ws.root, "logged-in");
    const tasks = [];
    for (let i = 0; i < 5; i += 1) tasks.push(await ws.submit());
    const dispatcher = startCli(
      ["--store", ws.queue, "dispatch", "--vendor", "claude", "--command", path.join(FAKE_BIN, "claude"), "--concurrency", "2", "--poll-seconds", "0.2", "--log-format", "json"],
      { cwd: ws.root, env: { FAKE_AGENT_LOGIN_FILE: loginFile } },
    );
    clis.push(dispatcher);

    const pause = await waitFor("the needs-login pause", async () => (await readPause(ws.queue, "claude")).pause);
    expect(pause).toMatchObject({ kind: "needs-login", reason: "Not logged in · Please run /login" });
    expect(pause.fix).toContain("run `claude /login`");
    expect(pause.fix).toContain("agent-lanes resume --vendor claude");
    // The first re-probe comes a minute later (1, 2, 4 ... 30 minutes).
    const firstBackoff = Date.parse(pause.until) - Date.parse(pause.set_at);
    expect(firstBackoff).toBeGreaterThanOrEqual(60_000);
    expect(firstBackoff).toBeLessThanOrEqual(61_000);

    // Every task is back in the queue, none failed, and no attempt was used up.
    await waitFor("all 5 tasks queued", async () => (await Promise.all(tasks.map((t) => ws.store.get(t.id)))).every((t) => t.state === "queued"));
    for (const t of tasks) {
      expect(await ws.store.getResponse(t.id)).toBeNull();
      const failed = (await ws.store.readEvents(t.id)).filter((e) => e.type === "headless_failed");
      for (const event of failed) expect(event.data).toMatchObject({ counts_as_attempt: false, action: "needs-login" });
    }
    const logLine = await waitFor("a log line with the fix", () => dispatcher.lines.find((l) => String(l.msg).startsWith("needs login:")));
    expect(String(logLine.msg)).toContain("run `claude /login`");

    const status = await cli("status", "--all");
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(/pause: claude needs a login \(Not logged in · Please run \/login\); fix: run `claude \/login`/);
    expect(status.stdout).toMatch(/next_action=.*claude needs a login: run `claude \/login`/);

    // Log in, then lift the pause: the dispatcher claims again at once, not after a minute.
    await fs.writeFile(loginFile, "token\n");
    const resumed = await cli("resume", "--vendor", "claude", "--json");
    expect(resumed.exitCode).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ status: "ok", vendor: "claude", removed: true, active_pause: { kind: "needs-login" } });
    await waitFor("all 5 tasks completed", async () => (await Promise.all(tasks.map((t) => ws.store.get(t.id)))).every((t) => t.state === "completed"), 30_000);
    expect(Date.now() - Date.parse(pause.set_at)).toBeLessThan(60_000);
    expect((await readPause(ws.queue, "claude")).pause).toBeNull();

    const again = await cli("resume", "--vendor", "claude");
    expect(again.stdout).toContain("claude: no pause in force");
    dispatcher.child.kill("SIGTERM");
    expect((await dispatcher.child).exitCode).toBe(0);
  });

  it("resume refuses a vendor name that is no file name, and --help shows examples", async () => {
    const bad = await cli("resume", "--vendor", "../x");
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/^agent-lanes: --vendor "\.\.\/x": invalid vendor name/);
    const help = await cli("resume", "--help");
    expect(help.stdout).toContain("agent-lanes resume --vendor claude");
  });
});
