// `self-test`: a round trip through a throw-away queue in a temp folder with
// the real store, flock and file watcher — create, claim, event, respond while
// a waiter blocks, then the waiter writes the body out. It tells an operator
// in a second whether this machine (Node, libc flock through koffi, inotify)
// runs agent-lanes.

import { mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
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
export async function runSelfTest(): Promise<Check[]> {
  const { openStore } = await import("../../store/file-store.js");
  const checks: Check[] = [];
  const root = await realpath(await mkdtemp(path.join(os.tmpdir(), "agent-lanes-self-test-")));
  const store = openStore(path.join(root, "queue"));
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
    await writeFile(request, "self-test request\n");
    const task = await step(
      "create",
      () => store.create({ workspace_id: "self-test", correlation_id: "self-test", lane: "self-test", workspace_root: root, request_path: request, response_path: "out/response.md" }),
      (t) => t.id,
    );
    const claimed = await step("claim (flock)", () => store.claim(task.id, { owner: "self-test", leaseSeconds: 60 }), (t) => `lease until ${t.lease_expires_at}`);
    // The waiter must be watching before the answer lands, as an orchestrator's would.
    await step("start watcher", () => store.changes().then(() => undefined));
    const respondedAt = { ms: 0 };
    const waiting = store.waitForResponse(task.id, { timeoutMs: 15_000 }).then((response) => ({ response, at: performance.now() }));
    await step("event", () => store.appendEvent(task.id, { type: "progress", message: "self-test" }));
    await step("respond", async () => {
      await store.respond(task.id, { body, claimToken: claimed.claim_token, reviewer: "self-test", verdict: "accept" });
      respondedAt.ms = performance.now();
    });
    const { response } = await step(
      "wait wakes on the response",
      async () => {
        const result = await waiting;
        if (!result.response) throw new Error("no response within 15 s");
        return result;
      },
      (r) => `woke ${Math.max(0, Math.round(r.at - respondedAt.ms))} ms after respond${r.at - respondedAt.ms > 1000 ? " (safety poll: file-system events may not reach this folder)" : ""}`,
    );
    await step("write response_path", async () => {
      const written = await store.writeResponseOutput(task, response as NonNullable<typeof response>);
      const text = await readFile(written, "utf8");
      if (text !== body) throw new Error(`${written} holds ${JSON.stringify(text)}, expected ${JSON.stringify(body)}`);
      return written;
    });
  } catch {
    // The failed check is recorded; the report says which.
  } finally {
    await store.close().catch(() => undefined);
    await rm(root, { recursive: true, force: true }).catch(() => undefined);
  }
  return checks;
}
