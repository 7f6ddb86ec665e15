// `agent-lanes service install|uninstall|status|logs|list`: commander wiring
// and printing over the src/service library, which holds all the logic.

import { Command, Option } from "commander";
import {
  createServiceContext,
  installService,
  listServices,
  parsePlatform,
  serviceLogs,
  serviceStatus,
  uninstallService,
  type ContextOverrides,
  type InstallResult,
  type ServiceInfo,
} from "../../service/index.js";
import { commandLine } from "../../service/runner.js";
import { toPythonJson } from "../../store/json.js";

/** Test seams: environment, cwd, platform, runner, and where output goes. */
export type ServiceCommandDeps = ContextOverrides;

/**
 * An option's value as the user gave it: the subcommand's own or an ancestor's
 * (the main program also defines --config, --store and --json and consumes
 * them wherever they appear), explicit values before defaults.
 */
function given(cmd: Command, key: string): unknown {
  const chain: Command[] = [];
  for (let at: Command | null = cmd; at !== null; at = at.parent) chain.push(at);
  for (const at of chain) {
    const source = at.getOptionValueSource(key);
    if (source !== undefined && source !== "default" && source !== "implied") return at.getOptionValue(key);
  }
  for (const at of chain) {
    const value = at.getOptionValue(key);
    if (value !== undefined) return value;
  }
  return undefined;
}

function text(cmd: Command, key: string): string | undefined {
  const value = given(cmd, key);
  return typeof value === "string" ? value : undefined;
}

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  $ ${line}`).join("\n")}\n`;
}

/** Add `service` and its subcommands to the program. */
export function registerServiceCommand(program: Command, deps: ServiceCommandDeps = {}): void {
  const out = (line: string): void => {
    (deps.stdout ?? process.stdout).write(`${line}\n`);
  };
  const err = (line: string): void => {
    (deps.stderr ?? process.stderr).write(`${line}\n`);
  };
  const json = (cmd: Command) => cmd.optsWithGlobals().json === true;
  const printJson = (value: unknown) => out(toPythonJson(value, 2));
  const context = (cmd: Command) => {
    const platform = text(cmd, "platform");
    return createServiceContext({ ...deps, ...(platform !== undefined ? { platform: parsePlatform(platform) } : {}) });
  };
  const selector = (cmd: Command) => ({ name: text(cmd, "name"), vendor: text(cmd, "vendor"), config: text(cmd, "config") });
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
    .action(async (_options: unknown, cmd: Command) => {
      const result = await installService(
        {
          vendor: text(cmd, "vendor"),
          config: text(cmd, "config"),
          store: text(cmd, "store"),
          concurrency: text(cmd, "concurrency"),
          graceSeconds: text(cmd, "graceSeconds"),
          name: text(cmd, "name"),
          path: text(cmd, "path"),
          node: text(cmd, "node"),
          force: given(cmd, "force") === true,
          dryRun: given(cmd, "dryRun") === true,
        },
        context(cmd),
      );
      printInstall(result, json(cmd));
    });

  function printInstall(result: InstallResult, asJson: boolean): void {
    const { content, ...rest } = result;
    if (asJson) return printJson(result.status === "dry-run" ? result : rest);
    for (const warning of result.warnings) err(`warning: ${warning}`);
    if (result.status === "dry-run") {
      err(`# dry run: would write ${result.file}`);
      (deps.stdout ?? process.stdout).write(content);
      return;
    }
    out(result.status === "unchanged" ? `unchanged ${result.file}` : `wrote ${result.file}`);
    for (const argv of result.commands) out(`ran ${commandLine(argv[0] ?? "", argv.slice(1))}`);
    out(`${result.status} ${result.unit} (name ${result.name}); logs: agent-lanes service logs --name ${result.name} -f`);
  }

  selectorOptions(
    service.command("uninstall").description("stop the service (it drains first), disable it and remove its file"),
  )
    .option("--json", "print JSON")
    .addHelpText("after", examples(["agent-lanes service uninstall --name claude-myproject", "agent-lanes service uninstall --vendor claude"]))
    .action(async (_options: unknown, cmd: Command) => {
      const result = await uninstallService(selector(cmd), context(cmd));
      if (json(cmd)) return printJson(result);
      for (const argv of result.commands) out(`ran ${commandLine(argv[0] ?? "", argv.slice(1))}`);
      out(`removed ${result.file}`);
      out(`uninstalled ${result.unit} (name ${result.name})`);
    });

  selectorOptions(service.command("status").description("show whether an installed dispatcher runs, its pid and restarts"))
    .option("--json", "print JSON")
    .addHelpText("after", examples(["agent-lanes service status", "agent-lanes service status --name codex-pool --json"]))
    .action(async (_options: unknown, cmd: Command) => {
      const info = await serviceStatus(selector(cmd), context(cmd));
      if (json(cmd)) return printJson({ status: "ok", service: info });
      printStatus(info);
    });

  function printStatus(info: ServiceInfo): void {
    const fields: Array<[string, unknown]> = [
      ["name", info.name],
      ["platform", info.platform],
      ["unit", info.unit],
      ["file", info.file],
      ["state", info.state],
      ["running", info.running],
      ["pid", info.pid],
      ["restarts", info.restarts],
      ["last_exit_code", info.lastExitCode],
      ["enabled", info.enabled],
      ["vendor", info.vendor],
      ["config", info.config],
      ["store", info.store],
      ["logs", info.logs],
    ];
    for (const [key, value] of fields) if (value !== null) out(`${key}=${String(value)}`);
  }

  selectorOptions(service.command("logs").description("show the dispatcher's logs (journal or ~/Library/Logs)"))
    .option("-f, --follow", "keep printing new lines")
    .option("-n, --lines <n>", "lines of history", String(100))
    .addHelpText("after", examples(["agent-lanes service logs -f", "agent-lanes service logs --name claude-pool -n 500"]))
    .action(async (_options: unknown, cmd: Command) => {
      await serviceLogs({ ...selector(cmd), follow: given(cmd, "follow") === true, lines: text(cmd, "lines") }, context(cmd));
    });

  service
    .command("list")
    .description("list installed dispatcher services and their state")
    .addOption(platformOption())
    .option("--json", "print JSON")
    .addHelpText("after", examples(["agent-lanes service list", "agent-lanes service list --json"]))
    .action(async (_options: unknown, cmd: Command) => {
      const services = await listServices(context(cmd));
      if (json(cmd)) return printJson({ status: "ok", services, count: services.length });
      if (services.length === 0) return out("no agent-lanes services installed; add one with `agent-lanes service install --vendor claude`");
      for (const info of services) out([info.name, info.state, info.vendor ?? "-", info.config ?? "-"].join("\t"));
    });
}
