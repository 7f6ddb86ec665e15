// Every command of the program, by the module that defines it. A command
// line registers only the group of the command it names; the work behind each
// command is imported inside its action (for the long-running ones, serve,
// dispatch, demo, service and mcp, a *-run.ts module outside the CLI bundle).

import type { Command } from "commander";
import { registerClaimCommands } from "./claim.js";
import { registerDemoCommand } from "./demo.js";
import { registerDispatchCommand } from "./dispatch.js";
import { registerMcpCommand } from "./mcp.js";
import { registerMigrateQueueCommand } from "./migrate-queue.js";
import { registerServeCommand } from "./serve.js";
import { registerServiceCommand } from "./service.js";
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
  /** The function that adds them. */
  readonly register: Register;
}

/** Every group, in the order the top-level help lists their commands. */
export const COMMAND_GROUPS: readonly CommandGroup[] = [
  { names: ["init", "init-pool"], register: registerInitCommands },
  { names: ["submit"], register: registerSubmitCommand },
  { names: ["wait", "next", "watch"], register: registerWaitCommands },
  { names: ["claim", "renew", "release", "event", "cancel"], register: registerClaimCommands },
  { names: ["respond"], register: registerRespondCommand },
  { names: ["status", "list"], register: registerStatusCommands },
  { names: ["self-test"], register: registerSelfTestCommand },
  { names: ["resume"], register: registerResumeCommand },
  { names: ["doctor"], register: registerDoctorCommand },
  { names: ["prune"], register: registerPruneCommand },
  { names: ["migrate"], register: registerMigrateCommand },
  { names: ["serve", "dashboard"], register: registerServeCommand },
  { names: ["dispatch"], register: registerDispatchCommand },
  { names: ["demo"], register: registerDemoCommand },
  { names: ["service"], register: registerServiceCommand },
  { names: ["mcp"], register: registerMcpCommand },
  { names: ["migrate-queue"], register: registerMigrateQueueCommand },
];

/** The group defining the top-level command `name`; undefined for an unknown name. */
export function groupOf(name: string): CommandGroup | undefined {
  return COMMAND_GROUPS.find((group) => group.names.includes(name));
}

/** Add the commands of `groups` (every group by default), in order. */
export function registerCommands(program: Command, groups: readonly CommandGroup[] = COMMAND_GROUPS): void {
  for (const group of groups) group.register(program);
}
