#!/usr/bin/env node
// tokens_in of a 3-step thread on claude and on codex, resumed vs pasted.
// The dispatcher runs in-process with the real adapters against the fake
// CLIs of test/fixtures/bin, which count tokens as characters / 4 and keep
// their sessions (earlier turns come back as cached input). Each step's
// request is about 2 KB and each answer about 4 KB (FAKE_AGENT_REPLY), the
// size of a short review. Figures are the stand-ins' counts, not a vendor's
// bill: they show what each mode sends, not what it costs.
// Needs `npm run build` (npm run bench does it).
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openStore } from "../dist/src/index.js";
import { startDispatcher } from "../dist/src/supervisor/index.js";
import { createClaudeAdapter } from "../dist/vendors/claude.js";
import { createCodexAdapter } from "../dist/vendors/codex.js";
import { tempWorkspace } from "./lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.join(here, "..", "test", "fixtures", "bin");
const BENCH = { steps: 3, requestChars: 2000, replyChars: 4000, stepTimeoutMs: 30_000 };

async function thread(vendor, resume) {
  const ws = tempWorkspace(`agent-lanes-bench-resume-${vendor}-`);
  const sessions = path.join(ws.root, "sessions");
  const config = {
    command: path.join(BIN, vendor),
    env: { FAKE_AGENT_SESSION_DIR: sessions, FAKE_AGENT_REPLY: `${"An answer line of a review. ".repeat(BENCH.replyChars / 28)}\n` },
  };
  const adapter = vendor === "claude" ? createClaudeAdapter({ config }) : createCodexAdapter({ config });
  const store = openStore(ws.queue);
  const logger = { info() {}, warn() {}, error() {}, debug() {}, trace() {}, fatal() {}, child() { return logger; } };
  const d = await startDispatcher({ vendor, queueRoot: ws.queue, leaseSeconds: 30, pollSeconds: 0.2, logLevel: "silent", vendorConfig: config }, { adapter, logger, sweep: false, store });
  const rows = [];
  try {
    let parent = null;
    for (let step = 1; step <= BENCH.steps; step += 1) {
      const request = path.join(ws.root, `step-${step}.md`);
      mkdirSync(path.dirname(request), { recursive: true });
      writeFileSync(request, `Step ${step}: ${"please look at this part of the change. ".repeat(BENCH.requestChars / 40)}\n`);
      const task = await store.create({
        workspace_id: "bench",
        correlation_id: `step-${step}`,
        lane: "default",
        workspace_root: ws.root,
        request_path: request,
        response_path: `out-${step}.md`,
        metadata: { required_vendor: vendor, resume, ...(parent ? { parent_task_id: parent } : {}) },
      });
      const response = await store.waitForResponse(task.id, { timeoutMs: BENCH.stepTimeoutMs });
      if (response?.status !== "completed") throw new Error(`${vendor} step ${step} did not complete: ${response?.body ?? "timed out"}`);
      rows.push({ step, tokensIn: response.metadata.tokens_in, cached: response.metadata.tokens_cache_read ?? 0 });
      parent = task.id;
    }
  } finally {
    await d.stop("bench over");
    await store.close();
    rmSync(ws.root, { recursive: true, force: true });
  }
  return rows;
}

const lines = [
  "### Session resume: tokens of a 3-step thread (stand-in CLIs)",
  "",
  "| vendor | mode | step 1 in | step 2 in | step 3 in | total in | of it cached | uncached |",
  "| --- | --- | --- | --- | --- | --- | --- | --- |",
];
for (const vendor of ["claude", "codex"]) {
  for (const resume of [true, false]) {
    const rows = await thread(vendor, resume);
    const total = rows.reduce((n, r) => n + r.tokensIn, 0);
    const cached = rows.reduce((n, r) => n + r.cached, 0);
    lines.push(`| ${vendor} | ${resume ? "resumed session" : "pasted thread"} | ${rows.map((r) => r.tokensIn).join(" | ")} | ${total} | ${cached} | ${total - cached} |`);
  }
}
lines.push("", `Requests of ~${BENCH.requestChars} characters, answers of ~${BENCH.replyChars}; tokens are the stand-ins' characters / 4.`);
process.stdout.write(`${lines.join("\n")}\n`);
