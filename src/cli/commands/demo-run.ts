// What `agent-lanes demo` does (its flags are in demo.ts): printing over
// src/demo/demo.ts, which does the work. Progress goes to stdout as it
// happens; with --json it goes to stderr and stdout holds only the summary.
// Loaded from dist/ with its own module graph when the command runs.

import type { Command } from "commander";
import { globals } from "../context.js";
import { CliError } from "../errors.js";

export async function runDemoCommand(opts: { keep?: boolean }, cmd: Command): Promise<void> {
  const json = globals(cmd).json;
  const [{ runDemo, DemoError }, { toPythonJson }] = await Promise.all([import("../../demo/demo.js"), import("../../store/json.js")]);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const progressSink = json ? (line: string) => process.stderr.write(`demo: ${line}\n`) : (line: string) => out(`  ${line}`);
  if (!json) out("agent-lanes demo: a temporary queue, a supervisor running the bundled demo agent, four tasks.\n");
  // Ctrl-C ends the demo early but still stops the supervisor and removes the folder.
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  // `on`, not `once`: execa's exit hook re-raises SIGINT when it finds no other listener left.
  process.on("SIGINT", onSigint);
  let summary: Awaited<ReturnType<typeof runDemo>>;
  try {
    summary = await runDemo({ keep: opts.keep === true, onProgress: progressSink, signal: interrupt.signal });
  } catch (error) {
    // A failed demo is a one-line user-facing error, not a crash.
    if (error instanceof DemoError) throw new CliError(error.message, { cause: error });
    throw error;
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
  if (json) {
    out(toPythonJson(summary, 2));
    return;
  }
  for (const task of summary.tasks) {
    const facts = [task.task_id, task.verdict ? `verdict ${task.verdict}, ${task.blocking_count} blocking` : null, task.answered_in_ms !== null ? `${task.answered_in_ms} ms` : null];
    out(`\n── ${task.name} (${facts.filter(Boolean).join(" · ")})`);
    out(task.body.trimEnd());
  }
  out("");
  out(`${summary.responses} responses in ${(summary.duration_ms / 1000).toFixed(1)} s; the supervisor stopped on SIGTERM with exit 0.`);
  out(summary.kept ? `Kept the pool: ${summary.pool} (config ${summary.config})` : "Removed the temporary pool (run with --keep to look inside).");
  out("Next: `agent-lanes init-pool ~/pool` and `agent-lanes dispatch --vendor claude --config ~/pool/.agent-lanes-queue/handoff.yaml`.");
}
