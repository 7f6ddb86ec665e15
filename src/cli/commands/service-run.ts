// What `agent-lanes service install|uninstall|status|logs|list` do (their
// flags are in service.ts): printing over the src/service library, which
// holds all the logic. Loaded from dist/ when one of them runs.

import type { Command } from "commander";
import {
  createServiceContext,
  installService,
  listServices,
  parsePlatform,
  serviceLogs,
  serviceStatus,
  uninstallService,
  type InstallResult,
  type ServiceInfo,
} from "../../service/index.js";
import { commandLine } from "../../service/runner.js";
import { toPythonJson } from "../../store/json.js";
import type { ServiceCommandDeps } from "./service.js";

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

/** Where a subcommand prints: the test seams' streams, else the process's. */
function output(deps: ServiceCommandDeps) {
  const stdout = deps.stdout ?? process.stdout;
  const out = (line: string): void => {
    stdout.write(`${line}\n`);
  };
  const err = (line: string): void => {
    (deps.stderr ?? process.stderr).write(`${line}\n`);
  };
  return { stdout, out, err, printJson: (value: unknown) => out(toPythonJson(value, 2)) };
}
type Output = ReturnType<typeof output>;

const json = (cmd: Command) => cmd.optsWithGlobals().json === true;
const context = (cmd: Command, deps: ServiceCommandDeps) => {
  const platform = text(cmd, "platform");
  return createServiceContext({ ...deps, ...(platform !== undefined ? { platform: parsePlatform(platform) } : {}) });
};
const selector = (cmd: Command) => ({ name: text(cmd, "name"), vendor: text(cmd, "vendor"), config: text(cmd, "config") });

function printInstall(io: Output, result: InstallResult, asJson: boolean): void {
  const { content, ...rest } = result;
  if (asJson) return io.printJson(result.status === "dry-run" ? result : rest);
  for (const warning of result.warnings) io.err(`warning: ${warning}`);
  if (result.status === "dry-run") {
    io.err(`# dry run: would write ${result.file}`);
    io.stdout.write(content);
    return;
  }
  io.out(result.status === "unchanged" ? `unchanged ${result.file}` : `wrote ${result.file}`);
  for (const argv of result.commands) io.out(`ran ${commandLine(argv[0] ?? "", argv.slice(1))}`);
  io.out(`${result.status} ${result.unit} (name ${result.name}); logs: agent-lanes service logs --name ${result.name} -f`);
}

function printStatus(io: Output, info: ServiceInfo): void {
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
  for (const [key, value] of fields) if (value !== null) io.out(`${key}=${String(value)}`);
}

/** service install: render, write, enable and start. */
export async function install(cmd: Command, deps: ServiceCommandDeps): Promise<void> {
  const io = output(deps);
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
    context(cmd, deps),
  );
  printInstall(io, result, json(cmd));
}

/** service uninstall. */
export async function uninstall(cmd: Command, deps: ServiceCommandDeps): Promise<void> {
  const io = output(deps);
  const result = await uninstallService(selector(cmd), context(cmd, deps));
  if (json(cmd)) return io.printJson(result);
  for (const argv of result.commands) io.out(`ran ${commandLine(argv[0] ?? "", argv.slice(1))}`);
  io.out(`removed ${result.file}`);
  io.out(`uninstalled ${result.unit} (name ${result.name})`);
}

/** service status. */
export async function status(cmd: Command, deps: ServiceCommandDeps): Promise<void> {
  const io = output(deps);
  const info = await serviceStatus(selector(cmd), context(cmd, deps));
  if (json(cmd)) return io.printJson({ status: "ok", service: info });
  printStatus(io, info);
}

/** service logs. */
export async function logs(cmd: Command, deps: ServiceCommandDeps): Promise<void> {
  await serviceLogs({ ...selector(cmd), follow: given(cmd, "follow") === true, lines: text(cmd, "lines") }, context(cmd, deps));
}

/** service list. */
export async function list(cmd: Command, deps: ServiceCommandDeps): Promise<void> {
  const io = output(deps);
  const services = await listServices(context(cmd, deps));
  if (json(cmd)) return io.printJson({ status: "ok", services, count: services.length });
  if (services.length === 0) return io.out("no agent-lanes services installed; add one with `agent-lanes service install --vendor claude`");
  for (const info of services) io.out([info.name, info.state, info.vendor ?? "-", info.config ?? "-"].join("\t"));
}
