// Every default of the MCP server in one place, each with its unit.

export const MCP_DEFAULTS = {
  /** How long wait_task waits when the model gives no max_wait_seconds. @default 45 */
  waitSeconds: 45,
  /**
   * The longest wait_task ever blocks, whatever the model asks: below every
   * known client's tool timeout (Gemini CLI 60 s, Codex 60-120 s, Claude Code
   * longer), so a wait returns `running` instead of being killed by the client.
   * @default 50
   */
  maxWaitSeconds: 50,
  /** A progress notification at least this often while wait_task blocks (when the client sent a progress token). @default 5000 */
  progressEveryMs: 5000,
  /** list_tasks without a limit. @default 20 */
  listLimit: 20,
  /** The most tasks list_tasks returns. @default 200 */
  maxListLimit: 200,
  /** Folder (relative to the config file's folder) for inline request texts and default response files. @default "mcp" */
  filesDir: "mcp",
} as const;

/** The server's name as clients register it (tools become mcp__agent-lanes__<tool> in Claude Code). */
export const SERVER_NAME = "agent-lanes";
