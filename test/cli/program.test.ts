// The program as a whole: --help and --version, global options on either side
// of the command, one-line errors (stack traces only on request), config
// hints, self-test, and what a one-shot command loads at start-up.

import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, REPO, keys, makeCliWorkspace, run, type CliWorkspace } from "./cli-helpers.js";

const CORE_COMMANDS = ["init", "init-pool", "submit", "wait", "next", "watch", "claim", "renew", "release", "event", "respond", "cancel", "list", "status", "self-test"];

let ws: CliWorkspace;

beforeAll(async () => {
  ws = await makeCliWorkspace("al-cli-program-");
});

afterAll(async () => {
  await ws.cleanup();
});

describe("help and version", () => {
  it("every command has --help with an example, exit 0", async () => {
    const results = await Promise.all(CORE_COMMANDS.map((name) => run([name, "--help"])));
    results.forEach((result, i) => {
      expect(result.exitCode, CORE_COMMANDS[i]).toBe(0);
      expect(result.stdout, CORE_COMMANDS[i]).toMatch(new RegExp(`^Usage: agent-lanes ${CORE_COMMANDS[i]} `));
      expect(result.stdout, CORE_COMMANDS[i]).toMatch(/\nExamples?:\n {2}\$ agent-lanes /);
    });
  });

  it("the top-level help lists every command and the exit codes; --version prints the package version", async () => {
    const help = await run(["--help"]);
    expect(help.exitCode).toBe(0);
    for (const name of CORE_COMMANDS) expect(help.stdout).toMatch(new RegExp(`^ {2}${name} `, "m"));
    expect(help.stdout).toContain("2 timeout of wait TASK_ID");
    const pkg = JSON.parse(await readFile(path.join(REPO, "package.json"), "utf8")) as { version: string };
    const version = await run(["--version"]);
    expect(version.stdout).toBe(`${pkg.version}\n`);
  });
});

describe("global options", () => {
  it("--json and --store work before and after the command name", async () => {
    const id = await ws.submit();
    const before = await ws.run(["--json", "status", id]);
    const after = await ws.run(["status", id, "--json"]);
    expect(before.json<{ task: { id: string } }>().task.id).toBe(id);
    expect(keys(after.json())).toEqual(keys(before.json()));

    const elsewhere = os.tmpdir();
    const listBefore = await run(["--store", ws.queue, "--json", "list"], { cwd: elsewhere });
    const listAfter = await run(["list", "--store", ws.queue, "--json"], { cwd: elsewhere });
    expect(listBefore.json<{ count: number }>().count).toBe(1);
    expect(listAfter.json()).toMatchObject({ count: 1, tasks: [expect.objectContaining({ id })] });

    const claimAfter = await ws.run(["claim", id, "--owner", "x", "--json"]);
    expect(keys(claimAfter.json())).toEqual(["claim_token", "status", "task", "task_id"]);
    const token = claimAfter.json<{ claim_token: string }>().claim_token;
    const releaseBefore = await ws.run(["--json", "release", id, "--claim-token", token]);
    expect(releaseBefore.json()).toMatchObject({ status: "released", task_id: id });
  });

  it("--config names the file to use; a missing default config says how to fix it", async () => {
    const nowhere = await run(["list"], { cwd: os.tmpdir() });
    expect(nowhere.exitCode).toBe(1);
    expect(nowhere.errLines).toEqual([expect.stringMatching(/^agent-lanes: config file does not exist: .*handoff\/handoff\.yaml \(run 'agent-lanes init'/)]);
    const given = await run(["--config", "/nope/handoff.yaml", "list"]);
    expect(given.errLines).toEqual(["agent-lanes: config file does not exist: /nope/handoff.yaml (check the --config path)"]);
    const fine = await run(["--config", ws.config, "list", "--json"], { cwd: os.tmpdir() });
    expect(fine.exitCode).toBe(0);
  });

  it("a checkpoints: key in handoff.yaml is refused with the migration hint", async () => {
    const config = path.join(ws.root, "legacy.yaml");
    await writeFile(config, "workspace_id: ws\ncheckpoints: {}\n");
    const result = await ws.run(["--config", config, "list"]);
    expect(result.exitCode).toBe(1);
    expect(result.errLines).toEqual([expect.stringMatching(/^agent-lanes: checkpoints in handoff.yaml are no longer supported .*--task <path>/)]);
  });
});

describe("errors", () => {
  it("usage errors are one line naming the option or command, exit 1", async () => {
    const option = await ws.run(["status", "--nope"]);
    expect(option.exitCode).toBe(1);
    expect(option.stdout).toBe("");
    expect(option.errLines).toEqual([expect.stringMatching(/^agent-lanes: unknown option '--nope'/)]);
    const command = await ws.run(["frobnicate"]);
    expect(command.exitCode).toBe(1);
    expect(command.errLines).toEqual([expect.stringMatching(/^agent-lanes: unknown command 'frobnicate'/)]);
    const missing = await ws.run(["claim"]);
    expect(missing.errLines).toEqual([expect.stringMatching(/^agent-lanes: missing required argument 'task-id'/)]);
  });

  it("a user error from the dispatcher, its vendors or the service installer is one line without a debug hint", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["dispatch", "--vendor", "nosuch"], /^agent-lanes: unknown vendor "nosuch"/],
      [["dispatch", "--vendor", "claude", "--lease-seconds", "1"], /^agent-lanes: Expected `--lease-seconds` to be a number >= 3/],
      [["dispatch", "--vendor", "command", "--command", "a | b"], /^agent-lanes: --command .* uses the shell operator "\|"/],
      [["service", "install", "--vendor", "claude", "--config", "nope.yaml", "--dry-run"], /^agent-lanes: config file does not exist: .*nope\.yaml/],
    ];
    for (const [args, message] of cases) {
      const result = await ws.run(args);
      expect(result.exitCode, args.join(" ")).toBe(1);
      expect(result.errLines, args.join(" ")).toEqual([expect.stringMatching(message)]);
      expect(result.stderr).not.toContain("--debug");
    }
  });

  it("no stack trace unless --debug or AGENT_LANES_DEBUG=1", async () => {
    const id = "20200101T000000000000Z-x-000000000000";
    const plain = await ws.run(["status", id]);
    expect(plain.errLines).toEqual([`agent-lanes: unknown task: ${id}`]);
    for (const result of [await ws.run(["status", id, "--debug"]), await ws.run(["status", id], { env: { AGENT_LANES_DEBUG: "1" } })]) {
      expect(result.exitCode).toBe(1);
      expect(result.errLines[0]).toBe(`agent-lanes: unknown task: ${id}`);
      expect(result.errLines.some((line) => /^\s+at /.test(line))).toBe(true);
    }
  });
});

describe("self-test", () => {
  it("runs the round trip and reports each step", async () => {
    const json = await run(["self-test", "--json"]);
    expect(json.exitCode).toBe(0);
    const payload = json.json<{ status: string; checks: Array<{ name: string; ok: boolean }> }>();
    expect(payload.status).toBe("ok");
    expect(payload.checks.map((c) => c.name)).toEqual(["create", "claim (flock)", "start watcher", "event", "respond", "wait wakes on the response", "write response_path"]);
    expect(payload.checks.every((c) => c.ok)).toBe(true);
    const text = await run(["self-test"]);
    expect(text.stdout.trimEnd().split("\n").at(-1)).toBe("self-test: ok");
  });
});

describe("start-up", () => {
  /** Run `args` recording every ES module the loader loads and every require() (koffi is one), with the code cache in `cacheDir`. */
  async function recordLoads(args: string[], cacheDir: string): Promise<{ exitCode: number; stdout: string; esm: string[]; cjs: string[] }> {
    const log = path.join(ws.root, `loads-${Date.now()}-${Math.random().toString(16).slice(2)}.txt`);
    const hooks = path.join(ws.root, "record-loads.mjs");
    await writeFile(
      hooks,
      `import { appendFileSync } from "node:fs";\nexport async function load(url, context, next) { appendFileSync(process.env.LOADS_LOG, "esm " + url + "\\n"); return next(url, context); }\n`,
    );
    const register = path.join(ws.root, "register.mjs");
    await writeFile(register, `import { register } from "node:module";\nregister(${JSON.stringify(`file://${hooks}`)});\n`);
    const requires = path.join(ws.root, "record-requires.cjs");
    await writeFile(
      requires,
      `const Module = require("node:module"); const { appendFileSync } = require("node:fs"); const load = Module._load;\n` +
        `Module._load = function (request, ...rest) { appendFileSync(process.env.LOADS_LOG, "cjs " + request + "\\n"); return load.call(this, request, ...rest); };\n`,
    );
    const { execa } = await import("execa");
    const result = await execa(process.execPath, ["--require", requires, "--import", register, CLI, ...args], {
      cwd: ws.root,
      reject: false,
      env: { LOADS_LOG: log, AGENT_LANES_COMPILE_CACHE: cacheDir },
    });
    const lines = (await readFile(log, "utf8")).split("\n");
    return {
      exitCode: result.exitCode ?? -1,
      stdout: String(result.stdout),
      esm: lines.filter((l) => l.startsWith("esm ")).map((l) => l.slice(4)),
      cjs: lines.filter((l) => l.startsWith("cjs ")).map((l) => l.slice(4)),
    };
  }

  /** The files of ours (in dist/) a run loaded, by name, each once. With loader hooks registered even a CommonJS entry goes through the ES module loader. */
  const ours = (loads: { esm: string[]; cjs: string[] }): string[] => [...new Set([...loads.esm, ...loads.cjs].filter((id) => id.includes("/dist/")).map((id) => path.basename(id)))];

  it("a one-shot status compiles one bundled script of ours, and loads neither the server, the supervisor, the service, execa nor koffi", async () => {
    const id = await ws.submit("startup");
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), "al-compile-cache-"));
    try {
      for (const round of ["compiles", "uses the cache"]) {
        const loads = await recordLoads(["status", id, "--json"], cacheDir);
        expect(loads.exitCode, round).toBe(0);
        expect(JSON.parse(loads.stdout).task.id, round).toBe(id);
        // The entry and nothing else of ours: the bundle is compiled by vm (with V8's code cache), not loaded as a module.
        expect(ours(loads), round).toEqual(["main.cjs"]);
        const heavy = [...loads.esm, ...loads.cjs].filter((id) => /execa|pino|koffi|fastify|node:child_process|\/dist\/src\/(server|supervisor|service)\//.test(id));
        expect(heavy, round).toEqual([]);
        // ... and its code cache entry is there, one per bundle.
        const entries = (await readdir(path.join(cacheDir, "agent-lanes"))).filter((name) => name.endsWith(".v8cache"));
        expect(entries, round).toHaveLength(1);
      }
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it("--version defines no command: nothing but the entry and the bundle loads, wherever the flag stands", async () => {
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), "al-compile-cache-"));
    const pkg = JSON.parse(await readFile(path.join(REPO, "package.json"), "utf8")) as { version: string };
    try {
      for (const args of [["--version"], ["-V"], ["serve", "--version"], ["submit", "--lane", "--version"]]) {
        const loads = await recordLoads(args, cacheDir);
        expect(loads.exitCode, args.join(" ")).toBe(0);
        expect(loads.stdout, args.join(" ")).toBe(pkg.version);
        expect(ours(loads), args.join(" ")).toEqual(["main.cjs"]);
        expect([...loads.esm, ...loads.cjs].filter((id) => /koffi|pino|execa/.test(id)), args.join(" ")).toEqual([]);
      }
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it("a writer loads koffi's native module for flock, without koffi's installer helpers; help loads nothing outside the bundle", async () => {
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), "al-compile-cache-"));
    try {
      const request = await ws.file("requests/loads.md");
      const submit = await recordLoads(["submit", "--lane", "default", "--request-from", request, "--response-to", "out/loads.md"], cacheDir);
      expect(submit.exitCode).toBe(0);
      const koffi = submit.cjs.filter((request) => request.includes("koffi"));
      expect(koffi.map((request) => path.relative(path.join(REPO, "node_modules"), request))).toEqual([
        path.join("koffi", "build", "koffi", `${process.platform}_${process.arch}`, "koffi.node"),
      ]);
      expect(submit.cjs).not.toContain("https");
      expect(ours(submit)).toEqual(["main.cjs"]);

      // The help, top-level or a command's, loads nothing outside the bundle; what a long-running command does loads when it runs.
      for (const args of [["--help"], ["serve", "--help"], ["service", "install", "--help"], ["claim", "--help"]]) {
        const help = await recordLoads(args, cacheDir);
        expect(help.exitCode, args.join(" ")).toBe(0);
        expect(help.stdout, args.join(" ")).toMatch(/^Usage: agent-lanes /);
        expect(ours(help), args.join(" ")).toEqual(["main.cjs"]);
      }
      const mcpConfig = await recordLoads(["mcp", "config", "--client", "codex"], cacheDir);
      expect(mcpConfig.exitCode).toBe(0);
      expect(mcpConfig.stdout).toContain("[mcp_servers.agent-lanes]");
      expect(ours(mcpConfig)).toContain("mcp-run.js");
      expect(ours(mcpConfig).filter((name) => /^(serve|dispatch|demo|service)-run\.js$/.test(name))).toEqual([]);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it("the code cache entry takes in each new kind of run once (the functions it compiled), and is left alone by a kind it holds", async () => {
    const id = await ws.submit("startup-kinds");
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), "al-compile-cache-"));
    const env = { AGENT_LANES_COMPILE_CACHE: cacheDir };
    const folder = path.join(cacheDir, "agent-lanes");
    /** The entry's kinds (its JSON header after "ALC1" and the header's length), its size and inode. */
    const entry = async () => {
      const [name, ...more] = (await readdir(folder)).filter((n) => n.endsWith(".v8cache"));
      expect(more).toEqual([]);
      const file = path.join(folder, name as string);
      const buf = await readFile(file);
      expect(buf.subarray(0, 4).toString()).toBe("ALC1");
      const header = JSON.parse(buf.subarray(8, 8 + buf.readUInt32LE(4)).toString()) as { kinds: string[] };
      return { kinds: header.kinds, size: buf.length, ino: (await stat(file)).ino };
    };
    try {
      expect((await ws.run(["status", id, "--json"], { env })).exitCode).toBe(0);
      const first = await entry();
      expect(first.kinds).toEqual(["status --json"]);
      expect((await ws.run(["list", "--json"], { env })).exitCode).toBe(0);
      const second = await entry();
      expect(second.kinds).toEqual(["status --json", "list --json"]);
      expect(second.size).toBeGreaterThan(first.size); // list's functions added to status's
      expect((await ws.run(["status", id, "--json"], { env })).json<{ task: { id: string } }>().task.id).toBe(id);
      expect(await entry()).toEqual(second); // not rewritten
      // A run that fails adds nothing.
      expect((await ws.run(["status", "20200101T000000000000Z-x-000000000000"], { env })).exitCode).toBe(1);
      expect(await entry()).toEqual(second);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it("a damaged code cache entry is rewritten, a cache folder others may write is never used, and `off` turns the cache off", async () => {
    const id = await ws.submit("startup-cache");
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), "al-compile-cache-"));
    try {
      const first = await ws.run(["status", id, "--json"], { env: { AGENT_LANES_COMPILE_CACHE: cacheDir } });
      expect(first.exitCode).toBe(0);
      const folder = path.join(cacheDir, "agent-lanes");
      const [entry] = await readdir(folder);
      const file = path.join(folder, entry as string);
      const good = await readFile(file);
      await writeFile(file, Buffer.from("not a V8 code cache"));
      const damaged = await ws.run(["status", id, "--json"], { env: { AGENT_LANES_COMPILE_CACHE: cacheDir } });
      expect(damaged.exitCode).toBe(0);
      expect(damaged.json<{ task: { id: string } }>().task.id).toBe(id);
      expect((await readFile(file)).length).toBeGreaterThan(1000); // rewritten from the compiled script
      expect((await readFile(file)).subarray(0, 19).toString()).not.toBe("not a V8 code cache");
      expect(good.length).toBeGreaterThan(1000);

      // A folder group- or world-writable: someone else could plant code in it.
      const open = await mkdtemp(path.join(os.tmpdir(), "al-compile-cache-open-"));
      try {
        await mkdir(path.join(open, "agent-lanes"), { mode: 0o777 });
        await chmod(path.join(open, "agent-lanes"), 0o777);
        const unsafe = await ws.run(["status", id, "--json"], { env: { AGENT_LANES_COMPILE_CACHE: open } });
        expect(unsafe.exitCode).toBe(0);
        expect(await readdir(path.join(open, "agent-lanes"))).toEqual([]);
      } finally {
        await rm(open, { recursive: true, force: true });
      }
      const off = await ws.run(["status", id, "--json"], { env: { AGENT_LANES_COMPILE_CACHE: "off", NODE_COMPILE_CACHE: undefined } });
      expect(off.exitCode).toBe(0);
      expect(off.json<{ task: { id: string } }>().task.id).toBe(id);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});
