// An agent-lanes vendor plugin, complete and runnable: the "echo" vendor.
// Load it with `agent-lanes dispatch --vendor-module ./docs/plugin-example/index.mjs`
// (a path, resolved against the current folder, or an installed package name).
//
// A plugin module exports a factory `createAdapter({config})` (or a default
// export that is a factory or a ready adapter object). The adapter only knows
// its CLI: the supervisor claims the task, builds the input text, runs the
// process (argv, never a shell), enforces timeouts and writes the response.
// Plain JavaScript with JSDoc types (from the agent-lanes package): no build step.

import path from "node:path";
import { fileURLToPath } from "node:url";

/** @typedef {import("agent-lanes").VendorAdapter} VendorAdapter */
/** @typedef {import("agent-lanes").VendorConfig} VendorConfig */
/** @typedef {import("agent-lanes").RunContext} RunContext */
/** @typedef {import("agent-lanes").ChildResult} ChildResult */
/** @typedef {import("agent-lanes").Outcome} Outcome */

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** model_class -> this CLI's model names; `any` is the default. Overridable with dispatch.vendors.echo.models. */
const DEFAULT_MODELS = { any: "echo-1", small: "echo-1", large: "echo-2" };

/**
 * @param {{config: VendorConfig}} options
 * @returns {VendorAdapter}
 */
export function createAdapter({ config }) {
  return {
    name: "echo",
    // No effort flag: the supervisor writes an effort hint into the input instead.
    supportsEffort: false,

    accepts(task) {
      const wanted = task.metadata?.required_vendor;
      return wanted === undefined || wanted === null || wanted === "any" || wanted === "echo";
    },

    /**
     * @param {import("agent-lanes").Task} task
     * @param {RunContext} ctx
     */
    invocation(task, ctx) {
      const cfg = ctx.config ?? config ?? {};
      const models = { ...DEFAULT_MODELS, ...(cfg.models ?? {}) };
      const wanted = typeof task.metadata?.model_class === "string" ? task.metadata.model_class : "any";
      let model = models[wanted];
      if (model === undefined) {
        // Unknown values never fail a task: fall back and leave a warning event on it.
        ctx.warn(`unknown model_class ${JSON.stringify(wanted)} for echo; using ${models.any}`, { model_class: wanted });
        model = models.any;
      }
      // config.command: a string (one executable) or [executable, ...leading args].
      const command = cfg.command ?? [process.execPath, path.join(HERE, "echo-agent.mjs")];
      const [file, ...lead] = Array.isArray(command) ? command : [command];
      return {
        file,
        args: [...lead, "--model", model, ...(cfg.args ?? [])],
        env: cfg.env,
        input: ctx.input,
        cwd: ctx.cwd,
        model,
        effort: null,
      };
    },

    /**
     * @param {ChildResult} run
     * @returns {Outcome}
     */
    settle(run) {
      const stderrTail = run.stderr.trim().split("\n").slice(-10).join("\n");
      if (run.spawnError) return { kind: "failed", body: `echo could not be started: ${run.spawnError.message}`, retry: true };
      if (run.killedBy) return { kind: "failed", body: `echo was stopped by the supervisor (${run.killedBy})`, retry: run.killedBy !== "task-timeout" };

      // A limit is never the task's fault: report it so the supervisor releases
      // the task and pauses every echo dispatcher on the queue until the reset.
      const limit = /rate limited; retry after (\S+)/.exec(run.stderr);
      if (limit) {
        const resetAt = new Date(limit[1] ?? "");
        return { kind: "usage-limit", message: limit[0], resetAt: Number.isNaN(resetAt.getTime()) ? null : resetAt };
      }
      if (run.exitCode !== 0) {
        const how = run.signal ? `was killed by ${run.signal}` : `exited with code ${run.exitCode}`;
        // Exit 2 is a usage error: retrying the same argv cannot help.
        return { kind: "failed", body: `echo ${how}\n\n${stderrTail}`, retry: run.exitCode !== 2 && run.exitCode !== null };
      }
      let output;
      try {
        output = JSON.parse(run.stdout);
      } catch {
        return { kind: "failed", body: `echo printed no JSON object:\n${run.stdout.slice(0, 500)}`, retry: false };
      }
      if (typeof output.reply !== "string" || output.reply.trim() === "") {
        return { kind: "failed", body: "echo returned an empty reply", retry: true };
      }
      return {
        kind: "completed",
        body: output.reply,
        // Reported in the response's metadata; PROTOCOL.md §9 names model_used, effort_used, tokens_in, tokens_out.
        metadata: { model_used: output.model, duration_ms: run.durationMs, input_chars: output.input_chars },
      };
    },
  };
}

export default createAdapter;
