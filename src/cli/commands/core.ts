// Every command of the program, by the module that defines it. The commands
// of PROTOCOL.md §7 that work on the queue directly are in the bundle and
// cost nothing to reach; the long-running ones (serve, dispatch, demo,
// service, mcp, migrate-queue) are imported only when one of them is asked
// for, since their modules bring the server, the supervisor or pg with them.
// A command line registers only the group of the command it names; the work
// behind each command is imported inside its action.

import type { Command } from "commander";
import { registerClaimCommands } from "./claim.js";
import { registerDoctorCommand } from "./doctor.js";
import { registerMigrateCommand } from "./migrate.js";
import { registerPruneCommand } from "./prune.js";
import { registerInitCommands } from "./init-cli.js";
import { registerRespondCommand } from "./respond.js";
import { registerResumeCommand } from "./resume.js";
import { registerSelfTestCommand } from "./self-test.js";
import { registerStatusCommands } from "./status.js";
import { registerSubmitCommand } from "./submit.js";
import { registerWaitCommands } from "./wait.js";

type Register = (program: Command) => void;

export interface CommandGroup {
  /** The top-level commands `register` adds, in its order. */
  readonly names: readonly string[];
  /** The function that adds them (a long-running group's module is imported first). */
  readonly load: () => Register | Promise<Register>;
}

/** Every group, in the order the top-level help lists their commands. */
export const COMMAND_GROUPS: readonly CommandGroup[] = [
  { names: ["init", "init-pool"], load: () => registerInitCommands },
  { names: ["submit"], load: () => registerSubmitCommand },
  { names: ["wait", "next", "watch"], load: () => registerWaitCommands },
  { names: ["claim", "renew", "release", "event", "cancel"], load: () => registerClaimCommands },
  { names: ["respond"], load: () => registerRespondCommand },
  { names: ["status", "list"], load: () => registerStatusCommands },
  { names: ["self-test"], load: () => registerSelfTestCommand },
  { names: ["resume"], load: () => registerResumeCommand },
  { names: ["doctor"], load: () => registerDoctorCommand },
  { names: ["prune"], load: () => registerPruneCommand },
  { names: ["migrate"], load: () => registerMigrateCommand },
  { names: ["serve", "dashboard"], load: async () => (await import("./serve.js")).registerServeCommand },
  { names: ["dispatch"], load: async () => (await import("./dispatch.js")).registerDispatchCommand },
  { names: ["demo"], load: async () => (await import("./demo.js")).registerDemoCommand },
  { names: ["service"], load: async () => (await import("./service.js")).registerServiceCommand },
  { names: ["mcp"], load: async () => (await import("./mcp.js")).registerMcpCommand },
  { names: ["migrate-queue"], load: async () => (await import("./migrate-queue.js")).registerMigrateQueueCommand },
];

/** The group defining the top-level command `name`; undefined for an unknown name. */
export function groupOf(name: string): CommandGroup | undefined {
  return COMMAND_GROUPS.find((group) => group.names.includes(name));
}

/** Add the commands of `groups` (every group by default), in order. */
export async function registerCommands(program: Command, groups: readonly CommandGroup[] = COMMAND_GROUPS): Promise<void> {
  const loaded = await Promise.all(groups.map((group) => group.load()));
  for (const register of loaded) register(program);
}
