// `agent-lanes serve` and `agent-lanes dashboard`: their flags, in the CLI
// bundle so the top-level help costs nothing. What they do is in serve-run.ts,
// loaded from dist/ with its own module graph when one of them runs (the
// server must see the store and errors of its own modules).

import type { Command } from "commander";
import type { ServeOptions } from "./serve-run.js";
import { SERVER_DEFAULTS, TOKEN_ENV } from "../../server/defaults.js";
import { collect, examples } from "../options.js";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Add `serve` and `dashboard` to the program. */
export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("serve the HTTP API (POST /tasks, GET /tasks/next, ...) and the dashboard at / over this queue until SIGINT/SIGTERM")
    .option("--host <host>", "address to bind; anything but loopback requires a token", SERVER_DEFAULTS.host)
    .option("--port <port>", "TCP port (0 picks a free one)", String(SERVER_DEFAULTS.port))
    .option("--token <token>", `bearer token every request must send (default: $${TOKEN_ENV}); advised on multi-user machines`)
    .option("--allow-host <name>", "also accept this name in the Host header (repeatable; the bound address and localhost always are)", collect)
    .option("--allow-root <dir>", "also allow tasks whose workspace_root lies in this folder (repeatable; the config's workspace_root always is)", collect)
    .option("--log-level <level>", `log level on stderr: ${LOG_LEVELS.join(", ")} (debug logs each request)`, "info")
    .addHelpText(
      "after",
      examples(
        "agent-lanes serve",
        "AGENT_LANES_TOKEN=$(openssl rand -hex 16) agent-lanes serve --port 8765",
        "agent-lanes --store /srv/queue serve --allow-root /srv/work --allow-host agents.internal --host 0.0.0.0 --token s3cret",
      ),
    )
    .action(async (_options: unknown, cmd: Command) => {
      const { runServe } = await import("./serve-run.js");
      await runServe(cmd, cmd.opts<ServeOptions>());
    });

  program
    .command("dashboard")
    .description("print the dashboard's URL, starting serve on loopback first when none runs there")
    .option("--port <port>", "port of the server to use or start", String(SERVER_DEFAULTS.port))
    .option("--token <token>", `the server's token (default: $${TOKEN_ENV}); put in the URL's #fragment, never sent to a server`)
    .option("--open", "also open the URL in the desktop's browser")
    .option("--allow-root <dir>", "when starting serve: also allow this workspace root (repeatable)", collect)
    .option("--log-level <level>", `when starting serve: log level on stderr`, "info")
    .addHelpText("after", examples("agent-lanes dashboard --open", "AGENT_LANES_TOKEN=s3cret agent-lanes dashboard --port 9000"))
    .action(async (_options: unknown, cmd: Command) => (await import("./serve-run.js")).runDashboard(cmd));
}
