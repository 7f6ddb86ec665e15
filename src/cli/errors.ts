// Exit codes and the error the CLI prints as one line (PROTOCOL.md §7).

/** 0 success (an idle long-poll too), 1 error, 2 timeout of `wait TASK_ID`. */
export const EXIT = { ok: 0, error: 1, timeout: 2 } as const;

/** An error meant for the user: printed as one line on stderr, then exit with `exitCode`. */
export class CliError extends Error {
  override name = "CliError";
  readonly exitCode: number;
  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options.exitCode ?? EXIT.error;
  }
}

/** File-system failures a user causes and fixes (a folder, permissions, a full disk), described in words. */
const FS_USER_ERRORS: Readonly<Record<string, string>> = {
  EISDIR: "it is a folder, not a file",
  ENOTDIR: "a part of the path is not a folder",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  ENAMETOOLONG: "the name is too long",
  ELOOP: "too many levels of symbolic links",
  EMFILE: "too many open files (raise ulimit -n)",
};

/**
 * One line for a file-system error a user can fix ("cannot open /x: permission
 * denied"), or null for anything else (a bug keeps its stack-trace hint).
 */
export function describeFileSystemError(error: unknown): string | null {
  const e = error as NodeJS.ErrnoException & { dest?: string };
  if (!(error instanceof Error) || typeof e.code !== "string" || !Object.hasOwn(FS_USER_ERRORS, e.code)) return null;
  // A write on an open file carries no path; the store's writers add the one they wrote (see atomic.ts).
  const what = typeof e.path !== "string" ? "" : e.dest ? ` ${e.path} to ${e.dest}` : ` ${e.path}`;
  return `cannot ${e.syscall ?? "use"}${what}: ${FS_USER_ERRORS[e.code]}`;
}
