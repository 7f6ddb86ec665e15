// The demo vendor: runs the bundled demo agent (dist/src/demo/agent.js) with
// this node, so `agent-lanes demo` and first tries of `dispatch` work on a
// machine with no AI CLI at all. It follows the command adapter's stdin ->
// stdout contract and reports the review verdict the agent states.

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Task } from "../src/store/types.js";
import { commandArgv, settleCommandRun } from "./command.js";
import { acceptsVendor, childEnv, extraArgs } from "./invoke.js";
import type { ChildResult, Invocation, Outcome, RunContext, VendorAdapter, VendorConfig } from "./types.js";

const NAME = "demo";

/**
 * Absolute path of the compiled demo agent. From dist/vendors/ it sits at
 * ../src/demo/agent.js; when this module runs from source (tests), the
 * build's copy under dist/ is used.
 */
export function demoAgentPath(): string {
  const candidates = [new URL("../src/demo/agent.js", import.meta.url), new URL("../dist/src/demo/agent.js", import.meta.url)].map((url) => fileURLToPath(url));
  return candidates.find((file) => existsSync(file)) ?? (candidates[0] as string);
}

/**
 * The demo adapter. Takes tasks with required_vendor unset, "any" or "demo".
 * config.command replaces the bundled agent (string or list, as for the
 * command vendor); config.args and config.env apply as usual.
 * A completed outcome carries `verdict`, `blocking_count` and
 * `nonblocking_count` in its metadata when the agent stated a verdict.
 */
export function createDemoAdapter(options: { config?: VendorConfig } = {}): VendorAdapter {
  const baseConfig = options.config ?? {};
  const argvFor = (config: VendorConfig): string[] =>
    config.command === undefined ? [process.execPath, demoAgentPath()] : commandArgv(config.command);
  // Checked now, so a bad command stops the supervisor at start-up.
  argvFor(baseConfig);

  return {
    name: NAME,
    supportsEffort: false,

    accepts(task: Task): boolean {
      return acceptsVendor(task, NAME);
    },

    invocation(_task: Task, ctx: RunContext): Invocation {
      const config = ctx.config ?? baseConfig;
      const [file, ...lead] = argvFor(config) as [string, ...string[]];
      return {
        file,
        args: [...lead, ...extraArgs(config)],
        env: childEnv({}, config),
        input: ctx.input,
        cwd: ctx.cwd,
        model: "demo-agent",
        effort: null,
      };
    },

    settle(run: ChildResult): Outcome {
      const outcome = settleCommandRun(NAME, run);
      if (outcome.kind !== "completed") return outcome;
      return { ...outcome, metadata: { model_used: "demo-agent", ...outcome.metadata } };
    },
  };
}
