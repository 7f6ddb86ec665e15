// The few libc calls the supervisor makes through koffi (already loaded by
// the store for flock): prctl and waitpid for the subreaper, pipe2 and
// posix_spawn for starting run guards. Linux only; null elsewhere or when
// libc cannot be loaded, and callers fall back to what Node offers.

import { libcFunction } from "../store/koffi.js";

type PosixSpawnArgs = [pid: Int32Array, path: string, fileActions: Buffer, attr: Buffer, argv: (string | null)[], envp: (string | null)[]];

/** posix_spawn, and koffi's `async` form of it: the same call on a thread-pool thread, the result to `callback`. */
export interface PosixSpawn {
  (...args: PosixSpawnArgs): number;
  async?(...args: [...PosixSpawnArgs, callback: (error: unknown, rc: number) => void]): void;
}

export interface Libc {
  prctl(option: number, arg2: number, arg3: number, arg4: number, arg5: number): number;
  /** `status` receives the wait status when given (Int32Array(1)). */
  waitpid(pid: number, status: Int32Array | null, options: number): number;
  pipe2(fds: Int32Array, flags: number): number;
  posix_spawn: PosixSpawn;
  posix_spawn_file_actions_init(fileActions: Buffer): number;
  posix_spawn_file_actions_destroy(fileActions: Buffer): number;
  posix_spawn_file_actions_adddup2(fileActions: Buffer, fd: number, newfd: number): number;
  posix_spawn_file_actions_addchdir_np(fileActions: Buffer, path: string): number;
  posix_spawnattr_init(attr: Buffer): number;
  posix_spawnattr_destroy(attr: Buffer): number;
  posix_spawnattr_setflags(attr: Buffer, flags: number): number;
  posix_spawnattr_setsigmask(attr: Buffer, set: Buffer): number;
  posix_spawnattr_setsigdefault(attr: Buffer, set: Buffer): number;
  sigemptyset(set: Buffer): number;
  sigfillset(set: Buffer): number;
  sigdelset(set: Buffer, signal: number): number;
}

const SIGNATURES: Record<keyof Libc, string> = {
  prctl: "int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)",
  waitpid: "int waitpid(int pid, _Out_ int *status, int options)",
  pipe2: "int pipe2(_Out_ int *fds, int flags)",
  posix_spawn: "int posix_spawn(_Out_ int *pid, const char *path, void *file_actions, void *attr, const char **argv, const char **envp)",
  posix_spawn_file_actions_init: "int posix_spawn_file_actions_init(void *file_actions)",
  posix_spawn_file_actions_destroy: "int posix_spawn_file_actions_destroy(void *file_actions)",
  posix_spawn_file_actions_adddup2: "int posix_spawn_file_actions_adddup2(void *file_actions, int fd, int newfd)",
  posix_spawn_file_actions_addchdir_np: "int posix_spawn_file_actions_addchdir_np(void *file_actions, const char *path)",
  posix_spawnattr_init: "int posix_spawnattr_init(void *attr)",
  posix_spawnattr_destroy: "int posix_spawnattr_destroy(void *attr)",
  posix_spawnattr_setflags: "int posix_spawnattr_setflags(void *attr, short flags)",
  posix_spawnattr_setsigmask: "int posix_spawnattr_setsigmask(void *attr, void *set)",
  posix_spawnattr_setsigdefault: "int posix_spawnattr_setsigdefault(void *attr, void *set)",
  sigemptyset: "int sigemptyset(void *set)",
  sigfillset: "int sigfillset(void *set)",
  sigdelset: "int sigdelset(void *set, int signum)",
};

let loaded: Libc | null | undefined;

/** libc through koffi, loaded on first use; null off Linux or when it cannot load. */
export function libc(): Libc | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.platform !== "linux") return loaded;
  try {
    loaded = Object.fromEntries(Object.entries(SIGNATURES).map(([name, signature]) => [name, libcFunction(signature)])) as unknown as Libc;
  } catch {
    loaded = null;
  }
  return loaded;
}
