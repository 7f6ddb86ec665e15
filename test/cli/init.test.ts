import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parse as parseYaml } from "yaml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InitError, initPool, initWorkspace, POOL_VENDORS } from "../../src/cli/commands/init.js";
import { cliEntryPath, packageRoot, renderTemplate, shellQuote, yamlScalar } from "../../src/cli/templates.js";
import { loadEngineConfig, parseDispatchSection } from "../../src/config/index.js";

const run = promisify(execFile);

/** A folder name a careless script would split, expand or unquote. */
const NASTY = `we'ird "dir" $HOME \`x\` & ;`;

let tmp: string;
/** An executable that prints its argv (after the script path) as JSON. */
let fakeCli: string;

beforeEach(async () => {
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), "al-init-")));
  fakeCli = path.join(tmp, `fake ${NASTY}`, "print-argv");
  await mkdir(path.dirname(fakeCli));
  await writeFile(fakeCli, "#!/usr/bin/env node\nprocess.stdout.write(JSON.stringify(process.argv.slice(2)));\n");
  await chmod(fakeCli, 0o755);
});

afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Permission bits of a path. */
async function mode(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777;
}

/** Run a generated script and return the argv the CLI it chose received. */
async function argvOf(script: string, args: string[], env: Record<string, string | undefined>): Promise<string[]> {
  const { stdout } = await run(script, args, { env: { ...process.env, AGENT_LANES_BIN: undefined, ...env } });
  return JSON.parse(stdout) as string[];
}

async function rejection(promise: Promise<unknown>): Promise<InitError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(InitError);
  return error as InitError;
}

describe("initWorkspace", () => {
  it("writes handoff/ with the expected files and modes, and no tasks/ folder", async () => {
    const project = path.join(tmp, "proj");
    const result = await initWorkspace({ path: project });
    const handoff = path.join(project, "handoff");
    expect(result.handoff).toBe(handoff);
    expect((await readdir(handoff)).sort()).toEqual(["README.md", "REVIEWER-AGENT-PROMPT.md", "bin", "dispatcher.sh", "handoff.yaml", "state"]);
    expect(await readdir(path.join(handoff, "bin"))).toEqual(["handoff"]);
    expect(await readdir(project)).toEqual(["handoff"]);
    expect(await mode(path.join(handoff, "dispatcher.sh"))).toBe(0o755);
    expect(await mode(path.join(handoff, "bin/handoff"))).toBe(0o755);
    expect(await mode(path.join(handoff, "state"))).toBe(0o700);
    for (const file of ["handoff.yaml", "README.md", "REVIEWER-AGENT-PROMPT.md"]) expect(await mode(path.join(handoff, file))).toBe(0o644);
  });

  it("returns the --json payload, the id defaulting to the folder's name", async () => {
    const result = await initWorkspace({ path: "my-project", cwd: tmp });
    expect(Object.keys(result).sort()).toEqual(["handoff", "next_steps", "queue_root", "status", "workspace_id", "workspace_root"]);
    expect(result).toMatchObject({
      status: "initialized",
      handoff: path.join(tmp, "my-project/handoff"),
      workspace_id: "my-project",
      workspace_root: "..",
      queue_root: "state",
    });
    expect(result.next_steps.length).toBeGreaterThan(0);
    expect(result.next_steps.every((step) => typeof step === "string")).toBe(true);
    expect(result.next_steps.join("\n")).toContain("bin/handoff");
  });

  it("defaults the path to cwd", async () => {
    const result = await initWorkspace({ cwd: tmp });
    expect(result.handoff).toBe(path.join(tmp, "handoff"));
    expect(result.workspace_id).toBe(path.basename(tmp));
  });

  it("writes workspace_id and queue_root lines verbatim, and the config loads back as given", async () => {
    const queue = path.join(tmp, "queues/main");
    const result = await initWorkspace({ path: path.join(tmp, "p"), workspaceId: "demo", workspaceRoot: "../..", queueRoot: queue });
    const text = await readFile(path.join(result.handoff, "handoff.yaml"), "utf8");
    expect(text.split("\n")).toContain("workspace_id: demo");
    expect(text.split("\n")).toContain(`queue_root: ${queue}`);
    expect(text.split("\n")).toContain("workspace_root: ../..");
    expect(result.queue_root).toBe(queue);
    const config = await loadEngineConfig(path.join(result.handoff, "handoff.yaml"));
    expect(config).toMatchObject({ workspace_id: "demo", workspace_root: tmp, queue_root: queue });
    expect(Object.keys(config.lanes)).toEqual(["default", "review"]);
    expect(config.lanes.review?.description).toBeTruthy();
    // A queue outside handoff/ is left for the store to create.
    expect(await readdir(result.handoff)).not.toContain("state");
  });

  it("the default config loads with workspace_root the project and queue_root handoff/state", async () => {
    const result = await initWorkspace({ path: path.join(tmp, "p") });
    const config = await loadEngineConfig(path.join(result.handoff, "handoff.yaml"));
    expect(config.workspace_root).toBe(path.join(tmp, "p"));
    expect(config.queue_root).toBe(path.join(tmp, "p/handoff/state"));
    expect(config.dispatch).toBeUndefined();
  });

  it("quotes an id or root that YAML would not read back as the same string", async () => {
    const result = await initWorkspace({ path: path.join(tmp, "p"), workspaceId: "007", queueRoot: "q #1" });
    const text = await readFile(path.join(result.handoff, "handoff.yaml"), "utf8");
    expect(text).toContain('workspace_id: "007"');
    const config = await loadEngineConfig(path.join(result.handoff, "handoff.yaml"));
    expect(config.workspace_id).toBe("007");
    expect(config.queue_root).toBe(path.join(result.handoff, "q #1"));
    expect(await mode(path.join(result.handoff, "q #1"))).toBe(0o700);
  });

  it("carries a commented-out dispatch: example that parses once uncommented", async () => {
    const result = await initWorkspace({ path: path.join(tmp, "p") });
    const lines = (await readFile(path.join(result.handoff, "handoff.yaml"), "utf8")).split("\n");
    const start = lines.indexOf("# dispatch:");
    expect(start).toBeGreaterThan(0);
    const block = lines.slice(start).filter((line) => line.startsWith("#")).map((line) => line.replace(/^# ?/, ""));
    const parsed = parseYaml(block.join("\n")) as { dispatch: { vendors: { claude: Record<string, unknown> } } };
    expect(parsed.dispatch.vendors.claude).toMatchObject({
      models: { opus: "claude-opus-4-7", sonnet: "claude-sonnet-4-6" },
      args: ["--permission-mode", "acceptEdits"],
      command: "claude",
    });
    // And the dispatch config parser takes it without a warning.
    const { vendors, warnings } = parseDispatchSection(parsed.dispatch, path.join(result.handoff, "handoff.yaml"));
    expect(warnings).toEqual([]);
    expect(vendors.claude).toMatchObject({ efforts: { high: "high" }, env: { DISABLE_AUTOUPDATER: "1" }, command: "claude" });
  });

  it("refuses when handoff/ exists, names it, and touches nothing", async () => {
    const project = path.join(tmp, "p");
    await mkdir(path.join(project, "handoff"), { recursive: true });
    await writeFile(path.join(project, "handoff/handoff.yaml"), "mine\n");
    const error = await rejection(initWorkspace({ path: project }));
    expect(error.message).toContain("already exists");
    expect(error.message).toContain(path.join(project, "handoff"));
    expect(await readFile(path.join(project, "handoff/handoff.yaml"), "utf8")).toBe("mine\n");
    expect(await readdir(path.join(project, "handoff"))).toEqual(["handoff.yaml"]);
    expect(await readdir(project)).toEqual(["handoff"]);
  });

  it("the reviewer prompt walks through wait --lane, claim, event, respond with a verdict and release", async () => {
    const result = await initWorkspace({ path: path.join(tmp, "p") });
    const prompt = await readFile(path.join(result.handoff, "REVIEWER-AGENT-PROMPT.md"), "utf8");
    for (const command of ["wait --lane review", "claim <task-id>", "event <task-id>", "respond <task-id>", "--verdict", "release <task-id>"]) {
      expect(prompt).toContain(command);
    }
  });

  describe("generated scripts", () => {
    it("bin/handoff passes --config and every argument intact, from a folder with quotes, spaces and $", async () => {
      const result = await initWorkspace({ path: path.join(tmp, NASTY) });
      const args = ["submit", "--task", "a b.yaml", `it's "q" $HOME`, ""];
      expect(await argvOf(path.join(result.handoff, "bin/handoff"), args, { AGENT_LANES_BIN: fakeCli })).toEqual([
        "--config",
        path.join(result.handoff, "handoff.yaml"),
        ...args,
      ]);
    });

    it("dispatcher.sh runs dispatch --vendor claude by default, or the vendor given, passing the rest on", async () => {
      const result = await initWorkspace({ path: path.join(tmp, NASTY) });
      const script = path.join(result.handoff, "dispatcher.sh");
      const config = path.join(result.handoff, "handoff.yaml");
      expect(await argvOf(script, [], { AGENT_LANES_BIN: fakeCli })).toEqual(["--config", config, "dispatch", "--vendor", "claude"]);
      expect(await argvOf(script, ["codex", "--x", "a b"], { AGENT_LANES_BIN: fakeCli })).toEqual([
        "--config",
        config,
        "dispatch",
        "--vendor",
        "codex",
        "--x",
        "a b",
      ]);
    });

    it("without AGENT_LANES_BIN they run the installation's CLI entry, even at a path that needs quoting", async () => {
      const result = await initWorkspace({ path: path.join(tmp, "p"), cliEntry: fakeCli });
      expect(await argvOf(path.join(result.handoff, "bin/handoff"), ["list"], {})).toEqual(["--config", path.join(result.handoff, "handoff.yaml"), "list"]);
    });

    it("fall back to agent-lanes on PATH when the CLI entry is missing", async () => {
      const binDir = path.join(tmp, "path-bin");
      await mkdir(binDir);
      await writeFile(path.join(binDir, "agent-lanes"), await readFile(fakeCli));
      await chmod(path.join(binDir, "agent-lanes"), 0o755);
      const result = await initWorkspace({ path: path.join(tmp, "p"), cliEntry: path.join(tmp, "missing/main.js") });
      const argv = await argvOf(path.join(result.handoff, "bin/handoff"), ["status", "--all"], { PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ""}` });
      expect(argv).toEqual(["--config", path.join(result.handoff, "handoff.yaml"), "status", "--all"]);
    });
  });
});

describe("initPool", () => {
  it("writes the queue folder and one wrapper per vendor, with their modes, and returns the payload", async () => {
    const pool = path.join(tmp, "pool");
    const result = await initPool({ path: pool });
    const queue = path.join(pool, ".agent-lanes-queue");
    const dispatchers = path.join(pool, "dispatchers");
    expect(result).toEqual({
      status: "initialized",
      workspace_id: "pool",
      queue,
      config: path.join(queue, "handoff.yaml"),
      store: path.join(queue, "state"),
      dispatchers: POOL_VENDORS.map((vendor) => ({ vendor, wrapper: path.join(dispatchers, `${vendor}.sh`) })),
      polling_prompt: path.join(dispatchers, "POLLING-CHAT-PROMPT.md"),
    });
    expect(POOL_VENDORS).toEqual(["claude", "codex", "gemini"]);
    expect((await readdir(queue)).sort()).toEqual(["README.md", "handoff.yaml", "state"]);
    expect((await readdir(dispatchers)).sort()).toEqual(["POLLING-CHAT-PROMPT.md", "README.md", "claude.sh", "codex.sh", "gemini.sh"]);
    expect(await mode(path.join(queue, "state"))).toBe(0o700);
    for (const vendor of POOL_VENDORS) expect(await mode(path.join(dispatchers, `${vendor}.sh`))).toBe(0o755);
    for (const file of [path.join(queue, "handoff.yaml"), path.join(queue, "README.md"), path.join(dispatchers, "README.md"), result.polling_prompt]) {
      expect(await mode(file)).toBe(0o644);
    }
  });

  it("its config has lane default, queue_root state, and loads with the pool folder as workspace_root", async () => {
    const result = await initPool({ path: "pool", cwd: tmp, workspaceId: "shared" });
    const text = await readFile(result.config, "utf8");
    expect(text.split("\n")).toContain("queue_root: state");
    expect(text.split("\n")).toContain("workspace_id: shared");
    const config = await loadEngineConfig(result.config);
    expect(config).toMatchObject({ workspace_id: "shared", workspace_root: path.join(tmp, "pool"), queue_root: result.store });
    expect(Object.keys(config.lanes)).toEqual(["default"]);
  });

  it("each wrapper runs dispatch for its vendor with the absolute config and store, quoting intact", async () => {
    const result = await initPool({ path: path.join(tmp, NASTY) });
    for (const { vendor, wrapper } of result.dispatchers) {
      expect(await argvOf(wrapper, ["--extra", "a 'b'"], { AGENT_LANES_BIN: fakeCli })).toEqual([
        "--config",
        result.config,
        "--store",
        result.store,
        "dispatch",
        "--vendor",
        vendor,
        "--extra",
        "a 'b'",
      ]);
    }
  });

  it("the polling prompt names the absolute config and store and asks for a short lease, events and release", async () => {
    const result = await initPool({ path: path.join(tmp, "pool") });
    const prompt = await readFile(result.polling_prompt, "utf8");
    expect(prompt).toContain(result.config);
    expect(prompt).toContain(result.store);
    expect(prompt).toContain("--lease-seconds");
    expect(prompt).toContain("event <task-id>");
    expect(prompt).toContain("release <task-id>");
  });

  it.each([".agent-lanes-queue", "dispatchers"])("refuses when %s exists and writes nothing at all", async (existing) => {
    const pool = path.join(tmp, "pool");
    await mkdir(path.join(pool, existing), { recursive: true });
    await writeFile(path.join(pool, existing, "keep.txt"), "untouched\n");
    const error = await rejection(initPool({ path: pool }));
    expect(error.message).toContain("already exists");
    expect(error.message).toContain(path.join(pool, existing));
    expect(await readdir(pool)).toEqual([existing]);
    expect(await readdir(path.join(pool, existing))).toEqual(["keep.txt"]);
    expect(await readFile(path.join(pool, existing, "keep.txt"), "utf8")).toBe("untouched\n");
  });
});

describe("templates", () => {
  it("finds the package root holding package.json and templates/, and the built CLI entry under it", async () => {
    const root = packageRoot();
    expect(JSON.parse(await readFile(path.join(root, "package.json"), "utf8")).name).toBe("agent-lanes");
    const pkg = JSON.parse(await readFile(path.join(root, "package.json"), "utf8")) as { bin: Record<string, string> };
    expect(cliEntryPath()).toBe(path.join(root, pkg.bin["agent-lanes"] as string));
  });

  it("renders in one pass, so values are never scanned for placeholders, and rejects unknown ones", () => {
    expect(renderTemplate("a {{X}} b {{Y}}", { X: "{{Y}}", Y: "y" })).toBe("a {{Y}} b y");
    expect(() => renderTemplate("{{MISSING}}", {}, "t.sh")).toThrow("t.sh uses {{MISSING}}");
  });

  it("shell-quotes values so sh reads back exactly the same string", async () => {
    for (const value of [NASTY, "", "plain/path", "~x", "a\nb", "*", "-n"]) {
      const { stdout } = await run("/bin/sh", ["-c", `printf '%s' ${shellQuote(value)}`]);
      expect(stdout).toBe(value);
    }
  });

  it("keeps safe YAML scalars verbatim and quotes the rest", async () => {
    expect(await yamlScalar("state")).toBe("state");
    expect(await yamlScalar("/srv/queue dir/x")).toBe("/srv/queue dir/x");
    expect(await yamlScalar("..")).toBe("..");
    for (const value of ["yes", "007", "a #b", "x: y", "", " lead", "null", "~", "a\nb"]) {
      const rendered = await yamlScalar(value);
      expect(rendered).not.toBe(value);
      expect(parseYaml(`k: ${rendered}`, { version: "1.1" }).k).toBe(value);
    }
  });
});
