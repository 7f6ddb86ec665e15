// `agent-lanes demo` (also `npm start`): its flags, in the CLI bundle so the
// top-level help costs nothing. What it does is in demo-run.ts, loaded from
// dist/ with its own module graph when it runs.

import type { Command } from "commander";

/** Add `demo` to the program. */
export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("show a whole trip on a temporary queue: a supervisor with the bundled demo agent answers a review, a question and a two-step thread")
    .option("--keep", "keep the temporary folder (queue, requests, responses) and print where it is")
    .addHelpText("after", "\nExamples:\n  $ agent-lanes demo\n  $ agent-lanes demo --keep\n  $ agent-lanes demo --json     (a summary payload; progress goes to stderr)\n  $ npm start\n")
    .action(async (opts: { keep?: boolean }, cmd: Command) => (await import("./demo-run.js")).runDemoCommand(opts, cmd));
}
