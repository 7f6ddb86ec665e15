// `resume --vendor X`: lifts a vendor's shared pause (removes
// <queue>/pauses/<vendor>.json, or the vendor's row of a PostgreSQL queue).
// Every dispatcher of that vendor on the queue is woken while paused and
// claims again at once: the way back
// after logging a CLI in (a `needs-login` pause), or to end a limit pause
// early by hand.

import type { Command } from "commander";
import { emit, withQueue } from "../context.js";
import { CliError } from "../errors.js";
import { examples } from "../options.js";

/** Add `resume`. */
export function registerResumeCommand(program: Command): void {
  program
    .command("resume")
    .summary("lift a vendor's pause (after a login) so its dispatchers claim again at once")
    .description(
      "remove the vendor's shared pause file (<queue>/pauses/<vendor>.json): every dispatcher of the vendor on this queue claims again at once. " +
        "Use it after logging the CLI in when status --all shows a needs-login pause, or to end a usage-limit pause early.",
    )
    .requiredOption("--vendor <name>", "the vendor whose pause to lift (claude, codex, gemini, agy, or a plugin's name)")
    .addHelpText(
      "after",
      examples("claude /login && agent-lanes resume --vendor claude", "agent-lanes resume --vendor codex --json", "agent-lanes status --all   # shows the pauses in force"),
    )
    .action(async (opts: { vendor: string }, cmd: Command) => {
      const { clearPause, describePause, readPause } = await import("../../supervisor/pauses.js");
      const vendor = opts.vendor.trim();
      await withQueue(cmd, async ({ store, queueLabel }) => {
        let file: string;
        try {
          file = store.pauses.where(vendor);
        } catch (error) {
          throw new CliError(`--vendor ${JSON.stringify(opts.vendor)}: ${(error as Error).message}`);
        }
        const now = new Date();
        const { pause } = await readPause(store, vendor, now);
        const removed = await clearPause(store, vendor);
        const payload = { status: "ok", vendor, removed, active_pause: pause, pause_file: file };
        const text = removed
          ? pause
            ? [`${vendor}: pause lifted (${describePause(pause, now)}); its dispatchers claim again now`]
            : [`${vendor}: removed an expired pause file; nothing was paused`]
          : [`${vendor}: no pause in force on ${queueLabel}; nothing to do`];
        await emit(cmd, payload, text);
      });
    });
}
