// The parsed-YAML cache (src/config/yaml-cache.ts): an entry serves only the
// exact text it was made from; what JSON cannot carry is never kept; no
// folder handed over, nothing written. Then through the bin: an edit of
// handoff.yaml that keeps its size and mtime second is seen at once.

import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseYamlText } from "../../src/config/handoff.js";
import { parseYamlCached } from "../../src/config/yaml-cache.js";
import { CLI, makeCliWorkspace } from "../cli/cli-helpers.js";
import { execa } from "execa";

const MARK = Symbol.for("agent-lanes.cache-dir");
const marked = globalThis as unknown as Record<symbol, string | undefined>;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "al-yaml-cache-"));
});

afterEach(async () => {
  delete marked[MARK];
  await rm(dir, { recursive: true, force: true });
});

/** parseYamlText, counting its calls. */
function countingParser(): { parse: typeof parseYamlText; calls: () => number } {
  let calls = 0;
  return {
    parse: (text, onWarning) => {
      calls += 1;
      return parseYamlText(text, onWarning);
    },
    calls: () => calls,
  };
}

describe("parseYamlCached", () => {
  it("serves the same text from its entry, warnings included, and parses changed text again", async () => {
    marked[MARK] = dir;
    const file = path.join(dir, "handoff.yaml");
    const { parse, calls } = countingParser();
    const text = "%FOO bar\n---\nlanes:\n  a: {description: x}\n  a: {description: y}\nworkspace_id: w\n";
    const first: string[] = [];
    expect(await parseYamlCached(file, text, parse, (w) => first.push(w))).toEqual({ lanes: { a: { description: "y" } }, workspace_id: "w" });
    expect(calls()).toBe(1);
    expect(first).toEqual(["Unknown directive %FOO at line 1, column 1"]);
    expect((await readdir(dir)).filter((n) => n.startsWith("yaml-"))).toHaveLength(1);

    const second: string[] = [];
    expect(await parseYamlCached(file, text, parse, (w) => second.push(w))).toEqual({ lanes: { a: { description: "y" } }, workspace_id: "w" });
    expect(calls()).toBe(1);
    expect(second).toEqual(first);

    // Same length, one letter changed: parsed again.
    expect(await parseYamlCached(file, text.replace("workspace_id: w", "workspace_id: v"), parse)).toMatchObject({ workspace_id: "v" });
    expect(calls()).toBe(2);
  });

  it("keeps nothing JSON would change, and survives a damaged entry", async () => {
    marked[MARK] = dir;
    const file = path.join(dir, "t.yaml");
    const { parse, calls } = countingParser();
    expect(await parseYamlCached(file, "x: .inf\n", parse)).toEqual({ x: Infinity });
    expect(await parseYamlCached(file, "x: .inf\n", parse)).toEqual({ x: Infinity });
    expect(calls()).toBe(2);
    expect((await readdir(dir)).filter((n) => n.startsWith("yaml-"))).toEqual([]);

    await parseYamlCached(file, "y: 1\n", parse);
    const [entry] = (await readdir(dir)).filter((n) => n.startsWith("yaml-"));
    await writeFile(path.join(dir, entry as string), "{ not json");
    expect(await parseYamlCached(file, "y: 1\n", parse)).toEqual({ y: 1 });
    expect(calls()).toBe(4);
    expect(JSON.parse(await readFile(path.join(dir, entry as string), "utf8"))).toMatchObject({ v: 1, text: "y: 1\n", data: { y: 1 } });
  });

  it("writes nothing when no folder was handed over (library use)", async () => {
    const { parse, calls } = countingParser();
    await parseYamlCached(path.join(dir, "a.yaml"), "a: 1\n", parse);
    await parseYamlCached(path.join(dir, "a.yaml"), "a: 1\n", parse);
    expect(calls()).toBe(2);
    expect(await readdir(dir)).toEqual([]);
  });

  it("through the bin: an edit that keeps the file's size is seen by the next command", async () => {
    const ws = await makeCliWorkspace("al-yaml-cache-ws-");
    try {
      const env = { AGENT_LANES_COMPILE_CACHE: dir };
      const config = await readFile(ws.config, "utf8");
      expect(config).toContain("workspace_id: ws");
      const submit = async (): Promise<string> => {
        await ws.file("requests/y.md", "y\n");
        const result = await execa(CLI, ["--config", ws.config, "submit", "--lane", "default", "--request-from", "requests/y.md", "--response-to", "responses/y.md", "--json"], { cwd: ws.root, env, reject: false });
        expect(result.stderr).toBe("");
        return (JSON.parse(result.stdout) as { task: { workspace_id: string } }).task.workspace_id;
      };
      expect(await submit()).toBe("ws");
      expect((await readdir(path.join(dir, "agent-lanes"))).some((n) => n.startsWith("yaml-"))).toBe(true);
      await writeFile(ws.config, config.replace("workspace_id: ws", "workspace_id: wz"));
      expect(await submit()).toBe("wz");
    } finally {
      await ws.cleanup();
    }
  });
});
