// The one error class of the config loaders. Every message is a single line
// that names the file and, where one is at fault, the key or flag, so the CLI
// can print it as is.

/** A handoff.yaml, task file or submit flag the user has to fix. */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** The file at fault, when there is one (absolute). */
  readonly file: string | undefined;
  /** The key or flag at fault (`lanes`, `metadata`, `--lane`), when there is one. */
  readonly key: string | undefined;

  constructor(message: string, options: { file?: string; key?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.file = options.file;
    this.key = options.key;
  }
}
