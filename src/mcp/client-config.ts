// `agent-lanes mcp config --client …`: the exact registration of this server
// for Claude Code, Codex and Gemini CLI. Every path is absolute (node, the
// CLI script, the config or queue), because clients start servers from a
// cwd of their own choosing.

import { quote } from "shell-quote";
import { SERVER_NAME } from "./defaults.js";

export const CLIENTS = ["claude", "codex", "gemini"] as const;
export type Client = (typeof CLIENTS)[number];

export interface ServerCommand {
  command: string;
  args: string[];
}

export interface ServerCommandInput {
  /** The node executable (process.execPath). */
  node: string;
  /** The agent-lanes CLI script, absolute. */
  script: string;
  /** Absolute handoff.yaml, or null when only a queue folder is named. */
  config: string | null;
  /** Absolute --store, when given. */
  store: string | null;
}

export function serverCommand(input: ServerCommandInput): ServerCommand {
  const args = [input.script];
  if (input.config) args.push("--config", input.config);
  if (input.store) args.push("--store", input.store);
  args.push("mcp");
  return { command: input.node, args };
}

/** A TOML basic string: JSON's escapes (\" \\ \n \uXXXX) are all valid TOML. */
const tomlString = (value: string): string => JSON.stringify(value);

/** The registration text for `client`, ending in a newline. */
export function clientSnippet(client: Client, server: ServerCommand): string {
  switch (client) {
    case "claude":
      return `claude mcp add ${SERVER_NAME} -- ${quote([server.command, ...server.args])}\n`;
    case "codex":
      return [
        `# ~/.codex/config.toml`,
        `[mcp_servers.${SERVER_NAME}]`,
        `command = ${tomlString(server.command)}`,
        `args = [${server.args.map(tomlString).join(", ")}]`,
        "",
      ].join("\n");
    case "gemini":
      return `${JSON.stringify({ mcpServers: { [SERVER_NAME]: { command: server.command, args: server.args } } }, null, 2)}\n`;
  }
}

/** Where the snippet goes, for --json and the text mode's hint. */
export const CLIENT_TARGETS: Record<Client, string> = {
  claude: "run it in the workspace (it registers the server for that project; add --scope user for every project)",
  codex: "append it to ~/.codex/config.toml",
  gemini: "merge it into ~/.gemini/settings.json (or .gemini/settings.json in the workspace)",
};
