// The commands of PROTOCOL.md §7 that work on the queue directly (everything
// but serve, dispatch, demo and service, which have their own modules). Each
// group registers its definitions here; the work behind each command is
// imported inside its action, so start-up only pays for commander.

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

/** Add init, init-pool, submit, wait, next, watch, claim, renew, release, event, respond, cancel, list, status, self-test, resume and doctor. */
export function registerCoreCommands(program: Command): void {
  registerInitCommands(program);
  registerSubmitCommand(program);
  registerWaitCommands(program);
  registerClaimCommands(program);
  registerRespondCommand(program);
  registerStatusCommands(program);
  registerSelfTestCommand(program);
  registerResumeCommand(program);
  registerDoctorCommand(program);
  registerPruneCommand(program);
  registerMigrateCommand(program);
}
