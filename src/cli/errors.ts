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
