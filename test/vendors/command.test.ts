import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandLineError, commandArgv, createCommandAdapter, parseVerdictLines, splitCommandLine } from "../../vendors/command.js";
import { loadAdapter } from "../../vendors/registry.js";
import type { ChildResult } from "../../vendors/types.js";
import { makeContext, makeTask, runInvocation } from "./harness.js";

const node = process.execPath;

describe("splitCommandLine", () => {
  it("splits words and honours single quotes, double quotes and backslashes", () => {
    expect(splitCommandLine(`my-agent --flag`)).toEqual(["my-agent", "--flag"]);
    expect(splitCommandLine(`node "/opt/my agent/run.js" 'two words' a\\ b --model=x`)).toEqual([
      "node",
      "/opt/my agent/run.js",
      "two words",
      "a b",
      "--model=x",
    ]);
  });

  it("passes quoted shell characters through literally", () => {
    expect(splitCommandLine(`agent '*.ts' '$HOME' "a|b" 'x;y' "#tag"`)).toEqual(["agent", "*.ts", "$HOME", "a|b", "x;y", "#tag"]);
  });

  it("expands a leading ~/ of the executable only", () => {
    expect(splitCommandLine(`~/bin/agent ~/x`)).toEqual([path.join(os.homedir(), "bin/agent"), "~/x"]);
  });

  it.each([
    ["pipe", "agent | tee log", '"|"'],
    ["sequence", "agent; rm -rf x", '";"'],
    ["and-list", "agent && echo done", '"&&"'],
    ["or-list", "agent || true", '"||"'],
    ["background", "agent &", '"&"'],
    ["redirection", "agent > out.txt", '">"'],
    ["input redirection", "agent < in.txt", '"<"'],
    ["stderr redirection", "agent 2>&1", '">&"'],
    ["subshell", "(agent)", '"("'],
    ["glob", "agent *.md", "glob"],
    ["variable", "agent $HOME", "$HOME"],
    ["braced variable", "agent ${HOME}", "$HOME"],
    ["command substitution", "agent $(whoami)", "$(...)"],
    ["backticks", "agent `whoami`", "backticks"],
    ["comment", "agent # note", "comment"],
    ["env assignment", "DEBUG=1 agent", "dispatch.vendors.command.env"],
  ])("refuses a %s, naming --command and the construct", (_kind, command, named) => {
    let error: unknown;
    try {
      splitCommandLine(command);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CommandLineError);
    const message = (error as Error).message;
    expect(message).toContain("--command");
    expect(message).toContain(named);
    expect(message).toContain("without a shell");
    expect(message).not.toContain("\n");
  });

  it("refuses an empty command line", () => {
    expect(() => splitCommandLine("   ")).toThrow(/--command .*is empty/);
  });
});

describe("commandArgv", () => {
  it("takes a list as argv without splitting its items", () => {
    expect(commandArgv(["/opt/my agent", "--a b"])).toEqual(["/opt/my agent", "--a b"]);
  });

  it("refuses a missing command with the flag to set", () => {
    expect(() => commandArgv(undefined)).toThrow(/vendor command needs --command/);
    expect(() => commandArgv([])).toThrow(/empty list/);
  });
});

describe("createCommandAdapter", () => {
  it("refuses a bad command at creation, before any task runs", () => {
    expect(() => createCommandAdapter({ config: { command: "agent | tee" } })).toThrow(CommandLineError);
    expect(() => createCommandAdapter({ config: {} })).toThrow(/--command/);
  });

  it("is what the registry loads for --vendor command", async () => {
    const adapter = await loadAdapter("command", { config: { command: "my-agent --x" } });
    expect(adapter.name).toBe("command");
    expect(adapter.invocation(makeTask(), makeContext({ command: "my-agent --x" }, { input: "hi" })).file).toBe("my-agent");
  });

  it("builds argv from the command, then config.args; input, cwd and env pass through", () => {
    const config = { command: `my-agent --mode 'fast lane'`, args: ["--extra"], env: { AGENT_TOKEN: "t" } };
    const adapter = createCommandAdapter({ config });
    const invocation = adapter.invocation(makeTask(), makeContext(config, { input: "the input", cwd: "/work" }));
    expect(invocation).toMatchObject({
      file: "my-agent",
      args: ["--mode", "fast lane", "--extra"],
      input: "the input",
      cwd: "/work",
      env: { AGENT_TOKEN: "t" },
    });
  });

  it("accepts tasks for no vendor, any, or command; config.accepts widens the names", () => {
    const plain = createCommandAdapter({ config: { command: "a" } });
    expect(plain.accepts(makeTask())).toBe(true);
    expect(plain.accepts(makeTask({ required_vendor: "any" }))).toBe(true);
    expect(plain.accepts(makeTask({ required_vendor: "Command" }))).toBe(true);
    expect(plain.accepts(makeTask({ required_vendor: "claude" }))).toBe(false);
    const wide = createCommandAdapter({ config: { command: "a", accepts: ["command", "my-agent"] } });
    expect(wide.accepts(makeTask({ required_vendor: "my-agent" }))).toBe(true);
    expect(wide.accepts(makeTask({ required_vendor: "codex" }))).toBe(false);
    expect(() => createCommandAdapter({ config: { command: "a", accepts: [3] } })).toThrow(/accepts must be/);
  });
});

describe("command adapter with real processes", () => {
  let dir: string;
  let script: (name: string, source: string) => Promise<string>;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "agent-lanes-command-"));
    script = async (name, source) => {
      const file = path.join(dir, name);
      await writeFile(file, source);
      return file;
    };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function run(command: string | string[], input = "the input", args: string[] = []): Promise<{ run: ChildResult; outcome: ReturnType<ReturnType<typeof createCommandAdapter>["settle"]> }> {
    const config = { command, args };
    const adapter = createCommandAdapter({ config });
    const task = makeTask();
    const result = await runInvocation(adapter.invocation(task, makeContext(config, { input, cwd: dir })));
    return { run: result, outcome: adapter.settle(result, task) };
  }

  it("completes with stdout trimmed; the input arrived on stdin and argv kept its quotes", async () => {
    const echo = await script("echo.mjs", `let s = ""; for await (const c of process.stdin) s += c; console.log("\\n  got " + JSON.stringify(s) + " argv " + JSON.stringify(process.argv.slice(2)) + "  \\n");`);
    const { outcome } = await run(`${node} ${echo} 'a b' c`, "hello agent", ["--z"]);
    expect(outcome).toMatchObject({ kind: "completed", body: `got "hello agent" argv ["a b","c","--z"]` });
  });

  it("reports a stated verdict in the completed outcome's metadata", async () => {
    const reviewer = await script("review.mjs", `console.log("Two problems.\\n\\nVERDICT: needs-revision\\nBLOCKING: 2\\nNONBLOCKING: 1")`);
    const { outcome } = await run([node, reviewer]);
    expect(outcome.kind).toBe("completed");
    expect(outcome.kind === "completed" && outcome.metadata).toMatchObject({ verdict: "needs-revision", blocking_count: 2, nonblocking_count: 1 });
  });

  it("fails without retry when exit 0 prints nothing", async () => {
    const quiet = await script("quiet.mjs", `process.stdin.resume(); process.stdin.on("end", () => {});`);
    const { outcome } = await run([node, quiet]);
    expect(outcome).toMatchObject({ kind: "failed", retry: false });
    expect(outcome.kind === "failed" && outcome.body).toMatch(/^command exited with code 0: printed nothing on stdout/);
  });

  it("fails without retry on a non-zero exit, quoting the exit code and stderr's tail", async () => {
    const crash = await script(
      "crash.mjs",
      `for (let i = 1; i <= 30; i++) console.error("log line " + i); console.error("fatal: model refused"); process.exit(7);`,
    );
    const { outcome } = await run([node, crash]);
    expect(outcome).toMatchObject({ kind: "failed", retry: false, metadata: { exit_code: 7 } });
    const body = outcome.kind === "failed" ? outcome.body : "";
    expect(body).toMatch(/^command exited with code 7: log line 1\n/);
    expect(body).toContain("fatal: model refused");
    // Only the tail is quoted.
    expect(body).not.toContain("log line 5\n");
  });

  it("fails with retry when the executable cannot be started, naming it", async () => {
    const { outcome } = await run(path.join(dir, "no-such-agent"));
    expect(outcome).toMatchObject({ kind: "failed", retry: true });
    expect(outcome.kind === "failed" && outcome.body).toContain("no-such-agent");
  });

  it("fails with retry when a signal kills the agent", async () => {
    const selfKill = await script("kill.mjs", `process.kill(process.pid, "SIGKILL");`);
    const { outcome } = await run([node, selfKill]);
    expect(outcome).toMatchObject({ kind: "failed", retry: true });
    expect(outcome.kind === "failed" && outcome.body).toContain("SIGKILL");
  });

  it("never runs the command line through a shell", async () => {
    const marker = path.join(dir, "pwned");
    const argv = await script("argv.mjs", `console.log(JSON.stringify(process.argv.slice(2)))`);
    const { outcome } = await run(`${node} ${argv} 'x; touch ${marker}' '$(touch ${marker})'`);
    expect(outcome).toMatchObject({ kind: "completed", body: JSON.stringify([`x; touch ${marker}`, `$(touch ${marker})`]) });
    await expect(import("node:fs/promises").then((fs) => fs.access(marker))).rejects.toThrow();
  });
});

describe("parseVerdictLines", () => {
  it("reads the last verdict and the counts", () => {
    expect(parseVerdictLines("VERDICT: accept\n...\n**Verdict:** needs-revision\nBlocking count: 3")).toEqual({
      verdict: "needs-revision",
      blocking_count: 3,
      nonblocking_count: 0,
    });
  });

  it("gives needs-revision one blocking finding when no count is stated, and never blocking with accept", () => {
    expect(parseVerdictLines("verdict = needs-revision")).toMatchObject({ blocking_count: 1 });
    expect(parseVerdictLines("VERDICT: accept\nBLOCKING: 2")).toMatchObject({ verdict: "accept", blocking_count: 0 });
  });

  it("returns nothing when no verdict is stated", () => {
    expect(parseVerdictLines("I would accept this.")).toEqual({});
  });
});
