// Starting a run guard with libc's posix_spawn (through koffi) instead of
// child_process.spawn, on Linux. Node's spawn forks the whole supervisor:
// copying its page tables costs ~30 µs per MiB of RSS, 2-3 ms of CPU a run
// for a 70-100 MiB dispatcher — more than everything else it does for a
// task. glibc's posix_spawn uses clone(CLONE_VM|CLONE_VFORK): no copy.
//
// What libuv would do for us is done here: the pipes (pipe2, O_CLOEXEC; the
// child's ends dup2'ed to 0-3 by the spawn's file actions and closed here),
// a new session (POSIX_SPAWN_SETSID), every signal back to its default and
// none blocked (Node ignores SIGPIPE, and a child must not inherit that),
// and the wait: libuv only waits for the children it spawned, so a SIGCHLD
// listener waitpid()s ours by pid, never anyone else's.
//
// The call itself runs on a thread-pool thread (koffi's async call):
// posix_spawn returns only once the child has exec'd /bin/sh, which on a
// loaded host means waiting for the child to be scheduled, milliseconds in
// which the supervisor's event loop would otherwise stand still.

import { closeSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import type { Libc } from "./libc.js";

const O_CLOEXEC = 0o2000000;
const WNOHANG = 1;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
/** Larger than glibc's posix_spawn_file_actions_t (80 bytes), posix_spawnattr_t (336) and sigset_t (128). */
const OPAQUE_BYTES = 512;
/** A safety net for a lost SIGCHLD (signals coalesce; each one checks every child anyway). */
const POLL_MS = 1000;

export interface ChildEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface FfiChild {
  pid: number;
  stdin: net.Socket;
  stdout: net.Socket;
  stderr: net.Socket;
  /** The write end of the child's fd 3 (a raw descriptor; the caller writes and closes it). */
  fd3: number;
  /** Resolves with the child's exit code or signal once it is waited for. */
  exited: Promise<ChildEnd>;
}

const signalNames = new Map<number, NodeJS.Signals>(Object.entries(os.constants.signals).map(([name, value]) => [value, name as NodeJS.Signals]));
const waiting = new Map<number, (end: ChildEnd) => void>();
let poll: NodeJS.Timeout | null = null;
let sigsets: { empty: Buffer; defaults: Buffer } | null = null;

function reapOurs(lib: Libc): void {
  const status = new Int32Array(1);
  for (const [pid, done] of waiting) {
    if (lib.waitpid(pid, status, WNOHANG) !== pid) continue;
    waiting.delete(pid);
    const raw = status[0] as number;
    const termsig = raw & 0x7f;
    done(termsig === 0 ? { code: (raw >> 8) & 0xff, signal: null } : { code: null, signal: signalNames.get(termsig) ?? null });
  }
  if (waiting.size === 0 && poll) {
    clearInterval(poll);
    poll = null;
  }
}

function errnoError(errno: number, what: string): NodeJS.ErrnoException {
  const entry = Object.entries(os.constants.errno).find(([, value]) => value === errno);
  const error = new Error(`${what}: ${entry?.[0] ?? `errno ${errno}`}`) as NodeJS.ErrnoException;
  error.errno = errno;
  if (entry) error.code = entry[0];
  return error;
}

function pipe(lib: Libc): [number, number] {
  const fds = new Int32Array(2);
  if (lib.pipe2(fds, O_CLOEXEC) !== 0) throw new Error("pipe2 failed");
  return [fds[0] as number, fds[1] as number];
}

/**
 * posix_spawn `file` with `args` in `cwd` and `env`, leading a new session,
 * with pipes on fds 0-3. Rejects with an ErrnoException when it cannot be
 * started (e.g. ENOENT for a missing cwd).
 */
export async function ffiSpawn(lib: Libc, file: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<FfiChild> {
  if (!sigsets) {
    const empty = Buffer.alloc(OPAQUE_BYTES);
    const defaults = Buffer.alloc(OPAQUE_BYTES);
    lib.sigemptyset(empty);
    lib.sigfillset(defaults);
    for (const fixed of [os.constants.signals.SIGKILL, os.constants.signals.SIGSTOP]) lib.sigdelset(defaults, fixed);
    // glibc's own signals (32, 33) are ignored in the child unless reset too, and sigaddset refuses them:
    // set their bits (signal n is bit n-1) so the child starts with every disposition at its default.
    defaults[3] = (defaults[3] as number) | 0x80;
    defaults[4] = (defaults[4] as number) | 0x01;
    sigsets = { empty, defaults };
    process.on("SIGCHLD", () => reapOurs(lib));
  }
  const parentEnds: number[] = [];
  const childEnds: number[] = [];
  try {
    // [child end, parent end] for stdin (child reads), stdout, stderr (child writes), fd 3 (child reads).
    for (const childReads of [true, false, false, true]) {
      const [read, write] = pipe(lib);
      childEnds.push(childReads ? read : write);
      parentEnds.push(childReads ? write : read);
    }
    const actions = Buffer.alloc(OPAQUE_BYTES);
    const attr = Buffer.alloc(OPAQUE_BYTES);
    lib.posix_spawn_file_actions_init(actions);
    lib.posix_spawnattr_init(attr);
    const pidOut = new Int32Array(1);
    let rc: number;
    try {
      childEnds.forEach((fd, target) => lib.posix_spawn_file_actions_adddup2(actions, fd, target));
      lib.posix_spawn_file_actions_addchdir_np(actions, options.cwd);
      lib.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
      lib.posix_spawnattr_setsigmask(attr, sigsets.empty);
      lib.posix_spawnattr_setsigdefault(attr, sigsets.defaults);
      const envp: (string | null)[] = Object.entries(options.env)
        .filter((entry): entry is [string, string] => entry[1] !== undefined)
        .map(([key, value]) => `${key}=${value}`);
      const argv = [file, ...args, null];
      const spawnAsync = lib.posix_spawn.async;
      rc = spawnAsync
        ? await new Promise<number>((resolve, reject) =>
            spawnAsync(pidOut, file, actions, attr, argv, [...envp, null], (error, result) => (error ? reject(error) : resolve(result))),
          )
        : lib.posix_spawn(pidOut, file, actions, attr, argv, [...envp, null]);
    } finally {
      lib.posix_spawn_file_actions_destroy(actions);
      lib.posix_spawnattr_destroy(attr);
    }
    for (const fd of childEnds) closeSync(fd);
    childEnds.length = 0;
    if (rc !== 0) throw errnoError(rc, `cannot start ${file} in ${options.cwd}`);
    const pid = pidOut[0] as number;
    const exited = new Promise<ChildEnd>((resolve) => waiting.set(pid, resolve));
    poll ??= setInterval(() => reapOurs(lib), POLL_MS);
    // A SIGCHLD of a child that ended before it was registered was already handled: look once now.
    reapOurs(lib);
    const [stdinFd, stdoutFd, stderrFd, fd3] = parentEnds as [number, number, number, number];
    return {
      pid,
      stdin: new net.Socket({ fd: stdinFd, readable: false, writable: true }),
      stdout: new net.Socket({ fd: stdoutFd, readable: true, writable: false }),
      stderr: new net.Socket({ fd: stderrFd, readable: true, writable: false }),
      fd3,
      exited,
    };
  } catch (error) {
    for (const fd of [...childEnds, ...parentEnds]) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
    throw error;
  }
}
