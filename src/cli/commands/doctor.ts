// `doctor [--vendor X]`: one line per check of what an unattended dispatcher
// needs (src/doctor): the vendor CLIs, their versions, credentials and trust,
// the queue and its lock, the service, pauses in force. Exit 1 when a check
// failed. Spends no tokens.

import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { emit, globals, requireConfig } from "../context.js";
import { CliError } from "../errors.js";
import { examples } from "../options.js";

/** Add `doctor`. */
export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .summary("check what an unattended dispatcher needs: CLIs, versions, logins, trust, queue, lock, service, pauses")
    .description(
      "check, per vendor, that its CLI is on PATH, its version is in the tested range, credentials are present (environment or the CLI's login files) " +
        "and a headless run asks no trust question; then that the queue is writable, its lock works and a Python peer sees it, whether a dispatcher " +
        "service is installed and running, and which pauses are in force. One line per check with the fix; exit 1 when one failed. No model is called.",
    )
    .option("--vendor <name>", "check only this vendor (claude, codex, gemini, agy); a missing CLI then fails instead of being skipped")
    .option("--vendor-config <file>", "a --vendor-config file as dispatch would read it")
    .option("--no-service", "do not ask the service manager (systemd/launchd)")
    .addHelpText("after", examples("agent-lanes doctor", "agent-lanes doctor --vendor claude", "agent-lanes doctor --vendor codex --json | jq '.checks[] | select(.status != \"ok\")'"))
    .action(async (opts: { vendor?: string; vendorConfig?: string; service?: boolean }, cmd: Command) => {
      const [{ DOCTOR_VENDORS, doctorExitCode, runDoctor }, { resolveVendorConfig }, { loadAdapter }] = await Promise.all([
        import("../../doctor/index.js"),
        import("../../config/dispatch.js"),
        import("../../../vendors/registry.js"),
      ]);
      const g = globals(cmd);
      const names: string[] = opts.vendor ? [opts.vendor.trim()] : [...DOCTOR_VENDORS];
      if (opts.vendor && !(DOCTOR_VENDORS as readonly string[]).includes(names[0] as string)) {
        throw new CliError(`--vendor ${JSON.stringify(opts.vendor)}: doctor knows ${DOCTOR_VENDORS.join(", ")}`);
      }
      // The config is optional: doctor should help most where nothing is set up yet.
      let config: Awaited<ReturnType<typeof requireConfig>> | null = null;
      let queueProblem: string | undefined;
      if (existsSync(path.resolve(g.config)) || g.configGiven) {
        try {
          config = await requireConfig(cmd);
        } catch (error) {
          queueProblem = (error as Error).message;
        }
      } else if (!g.store) {
        queueProblem = `no ${g.config} here and no --store`;
      }
      const { isPostgresUrl } = await import("../../store/postgres/url.js");
      const queueRoot = g.store ? (isPostgresUrl(g.store) ? g.store.trim() : path.resolve(g.store)) : (config?.queue_root ?? null);
      const vendors = [];
      for (const name of names) {
        const vendorConfig = await resolveVendorConfig(name, { dispatchSection: config?.dispatch, dispatchFile: config?.path, vendorConfigPath: opts.vendorConfig });
        const adapter = await loadAdapter(name, { config: vendorConfig }).catch(() => null);
        vendors.push({ name, config: vendorConfig, adapter });
      }
      const checks = await runDoctor({
        vendors,
        explicit: Boolean(opts.vendor),
        queueRoot,
        queueProblem,
        workspaceRoot: config?.workspace_root ?? null,
        service: opts.service !== false,
      });
      const code = doctorExitCode(checks);
      const summary = { ok: 0, warn: 0, fail: 0, skip: 0 };
      for (const check of checks) summary[check.status] += 1;
      await emit(cmd, { status: code === 0 ? "ok" : "problems", summary, checks }, () => [
        ...checks.map((c) => `${c.status.toUpperCase().padEnd(4)}  ${c.area} ${c.check}: ${c.detail}${c.fix ? `; fix: ${c.fix}` : ""}`),
        `${summary.fail} failed, ${summary.warn} warnings, ${summary.ok} ok, ${summary.skip} skipped`,
      ]);
      process.exitCode = code;
    });
}
