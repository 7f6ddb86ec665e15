// Every default of the service installer in one place, with its unit in its
// name, plus the naming scheme shared by install, list and uninstall.

/** Timings and limits written into rendered units and plists. */
export const SERVICE_DEFAULTS = {
  /**
   * The dispatcher's own default for `--grace-seconds`: how long it lets running
   * agents finish after SIGTERM before it releases their tasks and exits.
   * @default 30
   */
  dispatcherGraceSeconds: 30,
  /**
   * Added to the grace period to get the stop timeout (TimeoutStopSec /
   * ExitTimeOut), so the platform never SIGKILLs a dispatcher that is still
   * releasing claims and writing events after its grace period.
   * @default 15
   */
  stopMarginSeconds: 15,
  /**
   * systemd: wait before a restart after a failure (RestartSec).
   * @default 10
   */
  restartDelaySeconds: 10,
  /**
   * systemd: more than `startLimitBurst` starts within this window leave the
   * unit failed instead of crash-looping (StartLimitIntervalSec).
   * @default 300
   */
  startLimitIntervalSeconds: 300,
  /** @default 5 */
  startLimitBurst: 5,
  /**
   * launchd: minimum seconds between two launches of the job (ThrottleInterval).
   * @default 10
   */
  throttleIntervalSeconds: 10,
  /**
   * launchd: `bootstrap` right after `bootout` can fail while the old job is
   * still exiting; retry this many times, this far apart.
   * @default 3
   */
  rebootstrapAttempts: 3,
  /** @default 1000 */
  rebootstrapDelayMs: 1000,
  /**
   * `service logs` without `--lines`.
   * @default 100
   */
  logLines: 100,
  /**
   * Longest instance name; unit names and labels stay readable.
   * @default 64
   */
  maxNameLength: 64,
  /**
   * Longest project slug in a default instance name.
   * @default 32
   */
  maxSlugLength: 32,
} as const;

/** `<prefix><name>.service`: one concrete unit file per instance of the family. */
export const SYSTEMD_UNIT_PREFIX = "agent-lanes-dispatch@";
/** `<prefix><name>`: the launchd job label; the plist is `<label>.plist`. */
export const LAUNCHD_LABEL_PREFIX = "dev.agent-lanes.dispatch.";

/** Template files, relative to the package root. */
export const TEMPLATE_FILES = {
  systemd: "systemd/agent-lanes-dispatch@.service",
  launchd: "launchd/dev.agent-lanes.dispatch.plist",
} as const;

/** The dispatcher entry, relative to the package root (tsc writes src/ to dist/src/). */
export const CLI_ENTRY = "dist/src/cli/main.js";

/** Agent CLIs the service must find on its PATH, by vendor; others are not checked. */
export const VENDOR_COMMANDS: Readonly<Record<string, string>> = {
  claude: "claude",
  codex: "codex",
  gemini: "gemini",
};

/** Config path used when `--config` is not given, relative to the cwd (PROTOCOL §1). */
export const DEFAULT_CONFIG = "handoff/handoff.yaml";
