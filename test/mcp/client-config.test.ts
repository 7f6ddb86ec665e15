// `agent-lanes mcp config --client …` through the built binary: each client's
// registration names the server by absolute paths, and the command it names
// really starts this MCP server.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { parse } from "shell-quote";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, makeCliWorkspace, run, type CliWorkspace } from "../cli/cli-helpers.js";
import { startMcp } from "./helpers.js";

let ws: CliWorkspace;
beforeAll(async () => {
  ws = await makeCliWorkspace("al-mcp-config-");
});
afterAll(async () => {
  await ws?.cleanup();
});

const expectedArgs = () => [CLI, "--config", ws.config, "mcp"];

describe("mcp config", () => {
  it("claude: a `claude mcp add agent-lanes -- …` line with node, the CLI and the config, all absolute", async () => {
    const result = await ws.run(["mcp", "config", "--client", "claude"]);
    expect(result.exitCode).toBe(0);
    const words = parse(result.stdout.trim()) as string[];
    expect(words).toEqual(["claude", "mcp", "add", "agent-lanes", "--", process.execPath, ...expectedArgs()]);
  });

  it("codex: a [mcp_servers.agent-lanes] table with command and args", async () => {
    const result = await ws.run(["mcp", "config", "--client", "codex"]);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines).toEqual([
      "# ~/.codex/config.toml",
      "[mcp_servers.agent-lanes]",
      `command = ${JSON.stringify(process.execPath)}`,
      `args = [${expectedArgs().map((a) => JSON.stringify(a)).join(", ")}]`,
    ]);
  });

  it("gemini: an mcpServers entry; --json gives the snippet with command and args", async () => {
    const text = await ws.run(["mcp", "config", "--client", "gemini"]);
    expect(JSON.parse(text.stdout)).toEqual({ mcpServers: { "agent-lanes": { command: process.execPath, args: expectedArgs() } } });
    const json = (await ws.run(["mcp", "config", "--client", "gemini", "--json"])).json<{ command: string; args: string[]; snippet: string; where: string }>();
    expect(json).toMatchObject({ command: process.execPath, args: expectedArgs(), snippet: text.stdout });
    expect(json.where).toContain("settings.json");
  });

  it("resolves a relative --config and --store against the cwd; the printed command starts a working server", async () => {
    const result = await ws.run(["--config", "handoff/handoff.yaml", "--store", "handoff/state", "mcp", "config", "--client", "gemini", "--json"]);
    const { args } = result.json<{ args: string[] }>();
    expect(args).toEqual([CLI, "--config", ws.config, "--store", path.join(ws.root, "handoff/state"), "mcp"]);
    const session = await startMcp(args.slice(1, -1));
    try {
      expect((await session.client.listTools()).tools).toHaveLength(5);
    } finally {
      await session.close();
    }
  });

  it("refuses an unknown client and a missing config with one line each", async () => {
    const bad = await ws.run(["mcp", "config", "--client", "cursor"]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toBe("agent-lanes: --client must be one of claude, codex, gemini, got 'cursor'\n");
    const missing = await run(["mcp", "config", "--client", "claude"], { cwd: path.dirname(ws.root) });
    expect(missing.exitCode).toBe(1);
    expect(missing.errLines).toEqual([expect.stringMatching(/^agent-lanes: config file does not exist: .*handoff\/handoff\.yaml \(run 'agent-lanes init'/)]);
  });

  it("the README init writes names both routes, and handoff/bin/handoff mcp config prints the registration", async () => {
    const readme = await readFile(path.join(ws.root, "handoff", "README.md"), "utf8");
    expect(readme).toContain("handoff/bin/handoff mcp config --client claude");
    expect(readme).toMatch(/`submit_task`[\s\S]*`wait_task`/);
    const viaBin = await execa(path.join(ws.root, "handoff", "bin", "handoff"), ["mcp", "config", "--client", "codex"], { cwd: ws.root, reject: false });
    expect(viaBin.exitCode).toBe(0);
    expect(viaBin.stdout).toContain(`"--config", ${JSON.stringify(ws.config)}`);
  });
});
