// `self-test`: a round trip through a throw-away queue in a temp folder with
// the real store, flock and file watcher — create, claim, event, respond while
// a waiter blocks, then the waiter writes the body out. It tells an operator
// in a second whether this machine (Node, libc flock through koffi, inotify)
// runs agent-lanes.

// node:fs's promises load on first use (an import of node:fs/promises starts them in every command of the bundle).
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { emit } from "../context.js";
import { CliError } from "../errors.js";
import { examples } from "../options.js";

interface Check {
  name: string;
  ok: boolean;
  ms: number;
  detail: string;
}

/** Add `self-test`. */
export function registerSelfTestCommand(program: Command): void {
  program
    .command("self-test")
    .summary("check this machine with a round trip in a temp folder")
    .description("run a create/claim/respond/wait round trip in a temp folder with the real store, lock and watcher (exit 0 ok, 1 failed)")
    .addHelpText("after", examples("agent-lanes self-test", "agent-lanes self-test --json"))
    .action(async (_opts: unknown, cmd: Command) => {
      const checks = await runSelfTest();
      const failed = checks.find((c) => !c.ok);
      const payload = { status: failed ? "failed" : "ok", checks, node: process.version, platform: `${process.platform}-${process.arch}` };
      await emit(cmd, payload, () => [
        ...checks.map((c) => `${c.ok ? "ok" : "FAIL"} ${c.name} (${c.ms} ms)${c.detail ? `: ${c.detail}` : ""}`),
        failed ? "self-test: FAILED" : "self-test: ok",
      ]);
      if (failed) throw new CliError(`self-test failed at ${failed.name}: ${failed.detail}`);
    });
}

/** The round trip; stops at the first failed check. */
/** How long the waiter gives the file-system event before it looks by itself. */
const EVENT_GRACE_MS = 5000;

/** The round trip; stops at the first failed check. */
export async function runSelfTest(): Promise<Check[]> {
  const { openStore } = await import("../../store/file-store.js");
  const checks: Check[] = [];
  const root = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), "agent-lanes-self-test-")));
  const queue = path.join(root, "queue");
  // Two stores on one queue, as two processes would have: the waiter learns of
  // the writer's changes only through the file system, never an in-process
  // wake-up, and its own safety poll is pushed out of the way.
  const writer = openStore(queue);
  const waiter = openStore(queue, { pollMs: 60 * 60 * 1000 });
  const step = async <T>(name: string, body: () => Promise<T>, detail: (value: T) => string = () => ""): Promise<T> => {
    const started = performance.now();
    try {
      const value = await body();
      checks.push({ name, ok: true, ms: Math.round(performance.now() - started), detail: detail(value) });
      return value;
    } catch (error) {
      checks.push({ name, ok: false, ms: Math.round(performance.now() - started), detail: error instanceof Error ? error.message : String(error) });
      throw error;
    }
  };
  try {
    const body = "self-test response body\n";
    const request = path.join(root, "request.md");
    await fsp.writeFile(request, "self-test request\n");
    const task = await step(
      "create",
      () => writer.create({ workspace_id: "self-test", correlation_id: "self-test", lane: "self-test", workspace_root: root, request_path: request, response_path: "out/response.md" }),
      (t) => t.id,
    );
    const claimed = await step("claim (flock)", () => writer.claim(task.id, { owner: "self-test", leaseSeconds: 60 }), (t) => `lease until ${t.lease_expires_at}`);
    await step("start watcher", () => waiter.changes().then(() => undefined));
    let respondedAt = 0;
    const waiting = waiter.waitForResponse(task.id, { timeoutMs: EVENT_GRACE_MS }).then((response) => ({ response, at: performance.now() }));
    await step("event", () => writer.appendEvent(task.id, { type: "progress", message: "self-test" }));
    await step("respond", async () => {
      await writer.respond(task.id, { body, claimToken: claimed.claim_token, reviewer: "self-test", verdict: "accept" });
      respondedAt = performance.now();
    });
    const response = await step(
      "wait wakes on the response",
      async () => {
        const woken = await waiting;
        if (woken.response) return { response: woken.response, detail: `woke ${Math.max(0, Math.round(woken.at - respondedAt))} ms after respond (file-system event)` };
        const late = await waiter.getResponse(task.id);
        if (!late) throw new Error("response.json was written but cannot be read back");
        return { response: late, detail: `no file-system event within ${EVENT_GRACE_MS} ms: waits here rely on the 2 s safety poll` };
      },
      (r) => r.detail,
    ).then((r) => r.response);
    await step("write response_path", async () => {
      const written = await waiter.writeResponseOutput(task, response);
      const text = await fsp.readFile(written, "utf8");
      if (text !== body) throw new Error(`${written} holds ${JSON.stringify(text)}, expected ${JSON.stringify(body)}`);
      return written;
    });
  } catch {
    // The failed check is recorded; the report says which.
  } finally {
    await Promise.all([writer.close(), waiter.close()]).catch(() => undefined);
    await fsp.rm(root, { recursive: true, force: true }).catch(() => undefined);
  }
  return checks;
}
