// `agent-lanes service install|uninstall|status|logs|list`: their flags, in
// the CLI bundle so the top-level help costs nothing. What they do is in
// service-run.ts, loaded from dist/ when one of them runs.

import { Command, Option } from "commander";
import type { ContextOverrides } from "../../service/index.js";

/** Test seams: environment, cwd, platform, runner, and where output goes. */
export type ServiceCommandDeps = ContextOverrides;

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  $ ${line}`).join("\n")}\n`;
}

/** Add `service` and its subcommands to the program. */
export function registerServiceCommand(program: Command, deps: ServiceCommandDeps = {}): void {
  /** Run subcommand `name` of service-run.ts. */
  const run = (name: "install" | "uninstall" | "status" | "logs" | "list") => async (_options: unknown, cmd: Command) => (await import("./service-run.js"))[name](cmd, deps);
  const platformOption = () => new Option("--platform <kind>", "systemd or launchd (default: from the OS)");
  const selectorOptions = (cmd: Command) =>
    cmd
      .option("--name <name>", "instance name (see `service list`)")
      .option("--vendor <vendor>", "pick the instance install would name for this vendor and --config")
      .option("--config <path>", "with --vendor: the queue's handoff.yaml")
      .addOption(platformOption());

  const service = program
    .command("service")
    .description("run the dispatcher as a user service (systemd on Linux, launchd on macOS)")
    .addHelpText(
      "after",
      examples([
        "agent-lanes service install --vendor claude --config ~/pool/.agent-lanes-queue/handoff.yaml",
        "agent-lanes service list",
        "agent-lanes service logs --name claude-pool -f",
      ]),
    );

  service
    .command("install")
    .description("render the unit or plist for this platform, then enable and start it")
    .option("--vendor <vendor>", "vendor the dispatcher serves (claude, codex, ...)")
    .option("--config <path>", "the queue's handoff.yaml (default: handoff/handoff.yaml)")
    .option("--store <path|url>", "queue folder or postgres:// URL, when not the config's queue_root")
    .option("--concurrency <n>", "agents run at once")
    .option("--grace-seconds <n>", "drain time on stop (dispatcher default 30); the stop timeout is this + 15")
    .option("--name <name>", "instance name (default: <vendor>-<project folder>)")
    .option("--path <dirs>", "PATH for the service (default: this shell's PATH)")
    .option("--node <path>", "node binary the service runs (default: this one)")
    .option("--force", "replace an installed instance whose settings differ")
    .option("--dry-run", "print the rendered file; write and run nothing")
    .addOption(platformOption())
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      examples([
        "agent-lanes service install --vendor claude",
        "agent-lanes service install --vendor codex --config ~/pool/.agent-lanes-queue/handoff.yaml --concurrency 2",
        "agent-lanes service install --vendor claude --dry-run",
      ]),
    )
    .action(run("install"));

  selectorOptions(
    service.command("uninstall").description("stop the service (it drains first), disable it and remove its file"),
  )
    .option("--json", "print JSON")
    .addHelpText("after", examples(["agent-lanes service uninstall --name claude-myproject", "agent-lanes service uninstall --vendor claude"]))
    .action(run("uninstall"));

  selectorOptions(service.command("status").description("show whether an installed dispatcher runs, its pid and restarts"))
    .option("--json", "print JSON")
    .addHelpText("after", examples(["agent-lanes service status", "agent-lanes service status --name codex-pool --json"]))
    .action(run("status"));

  selectorOptions(service.command("logs").description("show the dispatcher's logs (journal or ~/Library/Logs)"))
    .option("-f, --follow", "keep printing new lines")
    .option("-n, --lines <n>", "lines of history", String(100))
    .addHelpText("after", examples(["agent-lanes service logs -f", "agent-lanes service logs --name claude-pool -n 500"]))
    .action(run("logs"));

  service
    .command("list")
    .description("list installed dispatcher services and their state")
    .addOption(platformOption())
    .option("--json", "print JSON")
    .addHelpText("after", examples(["agent-lanes service list", "agent-lanes service list --json"]))
    .action(run("list"));
}
