// The watchdog every agent CLI runs under:
//   node watchdog.js --run-id <id> --grace-ms <ms> -- <file> <args...>
// The supervisor spawns it detached, so it leads a fresh process group, and
// it starts the agent in that group with stdin/stdout/stderr passed straight
// through. It holds the IPC channel to the supervisor: when that closes
// without a goodbye (the supervisor died, even by SIGKILL) it kills the whole
// group, itself included, so no agent outlives its supervisor. It mirrors the
// agent's end (exit code or signal) and reports it over IPC.
//
// Kept to node: built-ins only and no work at import: it starts once per run.

import { spawn, type ChildProcess } from "node:child_process";

/** Messages the watchdog sends to the supervisor. */
export type WatchdogMessage =
  | { type: "started"; pid: number }
  | { type: "spawn-error"; code: string | null; message: string }
  | { type: "exit"; code: number | null; signal: string | null };

/** Exit code of a watchdog whose agent could not be started. */
export const SPAWN_FAILED_EXIT = 127;

/** Longest wait between SIGTERM and SIGKILL once orphaned: the supervisor promised "gone within 2 s". */
const ORPHAN_GRACE_CAP_MS = 1000;

interface WatchdogArgs {
  graceMs: number;
  file: string;
  args: string[];
}

function parseArgs(argv: string[]): WatchdogArgs | null {
  let graceMs = 1000;
  let i = 0;
  for (; i < argv.length && argv[i] !== "--"; i += 1) {
    if (argv[i] === "--grace-ms") graceMs = Number(argv[++i]);
    else if (argv[i] === "--run-id") i += 1; // only there to be seen in `ps` by the start-up sweep
  }
  const file = argv[i + 1];
  if (file === undefined || !Number.isFinite(graceMs)) return null;
  return { graceMs, file, args: argv.slice(i + 2) };
}

function send(message: WatchdogMessage, then?: () => void): void {
  if (process.send && process.connected) {
    try {
      process.send(message, undefined, {}, () => then?.());
      return;
    } catch {
      // channel closed between the check and the send
    }
  }
  then?.();
}

function killGroup(signal: NodeJS.Signals): void {
  try {
    process.kill(-process.pid, signal);
  } catch {
    // ESRCH: nothing left
  }
}

function main(): void {
  const parsed = parseArgs(process.argv.slice(2));
  if (!parsed) {
    process.stderr.write("agent-lanes watchdog: usage: watchdog.js [--run-id ID] [--grace-ms MS] -- FILE [ARGS...]\n");
    process.exit(2);
  }
  // The supervisor signals the whole group; we stay to report how the agent ended.
  const ignore = (): void => undefined;
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, ignore);

  const env = { ...process.env };
  // Our IPC channel is ours alone: a Node agent must not try to adopt it.
  delete env.NODE_CHANNEL_FD;
  delete env.NODE_CHANNEL_SERIALIZATION_MODE;

  let child: ChildProcess;
  try {
    child = spawn(parsed.file, parsed.args, { stdio: ["inherit", "inherit", "inherit"], env });
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    send({ type: "spawn-error", code: err.code ?? null, message: err.message }, () => process.exit(SPAWN_FAILED_EXIT));
    return;
  }

  let ended = false;
  let orphaned = false;
  child.on("spawn", () => send({ type: "started", pid: child.pid as number }));
  child.on("error", (error: NodeJS.ErrnoException) => {
    if (ended) return;
    ended = true;
    send({ type: "spawn-error", code: error.code ?? null, message: error.message }, () => process.exit(SPAWN_FAILED_EXIT));
  });
  child.on("exit", (code, signal) => {
    if (ended) return;
    ended = true;
    // Orphaned: take whatever the agent left in the group down with us.
    if (orphaned) return killGroup("SIGKILL");
    send({ type: "exit", code, signal }, () => {
      process.disconnect?.();
      if (signal) {
        // Die the same way, so a plain `kill -0`/exit-status reader sees the truth too.
        for (const s of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.removeListener(s, ignore);
        try {
          process.kill(process.pid, signal);
        } catch {
          // fall through to a numeric exit
        }
        setTimeout(() => process.exit(128), 200).unref();
        return;
      }
      process.exit(code ?? 1);
    });
  });

  // The supervisor is gone: it cannot read the answer or hold the lease, so
  // end the agent and everything it started, then ourselves with the group.
  process.on("disconnect", () => {
    if (ended) return;
    orphaned = true;
    killGroup("SIGTERM");
    const graceMs = Math.max(0, Math.min(parsed.graceMs, ORPHAN_GRACE_CAP_MS));
    setTimeout(() => killGroup("SIGKILL"), graceMs);
  });
}

main();
