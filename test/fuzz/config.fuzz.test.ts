// Fuzz: handoff.yaml, task files, vendor config files and submit merging.
// Whatever the file holds, a loader returns a valid config or throws a
// ConfigError whose one-line message names the file; a prompt file that is
// accepted always lies inside workspace_root, symlinks followed.

import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  ConfigError,
  loadEngineConfig,
  loadTaskFile,
  loadVendorConfigFile,
  parseDispatchSection,
  resolveSubmit,
  type EngineConfig,
} from "../../src/config/index.js";
import { anyValue, garbageText, hostilePath, serialise, yamlishText } from "./support/arbitraries.js";
import { createFigures, runs } from "./support/figures.js";

const figures = createFigures("fuzz-config");
const RUNS = 250;

let tmp: string;
let ws: string;
let outside: string;
let engine: EngineConfig;
let fileNo = 0;

beforeAll(async () => {
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), "al-fuzz-config-")));
  ws = path.join(tmp, "ws");
  outside = path.join(tmp, "outside");
  for (const dir of ["handoff", "prompts", "sub", "tasks"]) await mkdir(path.join(ws, dir), { recursive: true });
  await mkdir(outside, { recursive: true });
  await writeFile(path.join(ws, "prompts", "p.md"), "prompt inside\n");
  await writeFile(path.join(ws, "p.md"), "prompt at the root\n");
  await writeFile(path.join(ws, "sub", "req.md"), "request\n");
  await writeFile(path.join(outside, "p.md"), "prompt outside\n");
  await writeFile(path.join(outside, "secret.md"), "secret\n");
  await symlink(outside, path.join(ws, "link-out"));
  await symlink(path.join(ws, "sub"), path.join(ws, "link-in"));
  await symlink("loop", path.join(ws, "loop"));
  await writeFile(path.join(ws, "handoff", "base.yaml"), "workspace_id: fuzz\nlanes:\n  default: work\n");
  engine = await loadEngineConfig(path.join(ws, "handoff", "base.yaml"));
});

afterAll(async () => {
  figures.write();
  await rm(tmp, { recursive: true, force: true });
});

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The loader's failure contract: a ConfigError, one line, naming `file`. */
function expectConfigError(error: unknown, file: string): void {
  if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError for ${file}, got ${String((error as Error)?.stack ?? error)}`);
  expect(error.message).toContain(file);
  expect(error.message, "one line").not.toMatch(/[\r\n]/);
}

const roots = () => ({ inside: ws, outside });

/** Whole documents: garbage, token soup, or a structure of our keys with values of any type. */
function documentOf(structure: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.oneof(
    garbageText,
    yamlishText,
    fc.tuple(structure, fc.constantFrom("yaml" as const, "json" as const)).map(([value, as]) => serialise(value, as)),
    anyValue.map((value) => serialise(value, "yaml")),
  );
}

const engineStructure = fc.record(
  {
    workspace_id: fc.oneof(fc.string({ maxLength: 12 }), anyValue),
    workspace_root: fc.oneof(hostilePath(roots()), anyValue),
    queue_root: fc.oneof(hostilePath(roots()), anyValue),
    worktree_path: fc.oneof(hostilePath(roots()), anyValue),
    expected_branch: anyValue,
    lanes: fc.oneof(
      fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string(), fc.constant(null), fc.record({ description: anyValue }), anyValue)),
      anyValue,
    ),
    checkpoints: anyValue,
    dispatch: fc.oneof(
      fc.record({ vendors: fc.dictionary(fc.constantFrom("claude", "codex", "gemini", "mine"), fc.dictionary(fc.constantFrom("command", "models", "efforts", "args", "env", "effort_flag", "max_cost_usd", "other"), anyValue)) }),
      anyValue,
    ),
  },
  { requiredKeys: [] },
);

const taskStructure = fc.record(
  {
    lane: anyValue,
    metadata: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), anyValue), anyValue),
    prompt: anyValue,
    prompt_file: fc.oneof(hostilePath(roots()), anyValue),
    request_from: fc.oneof(hostilePath(roots()), anyValue),
    response_to: fc.oneof(hostilePath(roots()), anyValue),
    supporting_paths: fc.oneof(fc.array(fc.oneof(hostilePath(roots()), fc.record({ path: anyValue }), anyValue), { maxLength: 3 }), anyValue),
    worktree_path: anyValue,
    branch: anyValue,
    surprise: anyValue,
  },
  { requiredKeys: [] },
);

describe("fuzz: config loaders", () => {
  it("handoff.yaml of any content loads to a valid config or fails with a ConfigError naming the file", async () => {
    const property = fc.asyncProperty(documentOf(engineStructure), fc.option(hostilePath(roots())), async (text, store) => {
      const file = path.join(ws, "handoff", `h${++fileNo}.yaml`);
      await writeFile(file, text);
      const result = await settle(loadEngineConfig(file, { storeOverride: store, cwd: ws }));
      if (!result.ok) return expectConfigError(result.error, file);
      const config = result.value;
      expect(config.path).toBe(file);
      expect(typeof config.workspace_id).toBe("string");
      expect(config.workspace_id.trim()).not.toBe("");
      for (const p of [config.workspace_root, config.queue_root]) expect(path.isAbsolute(p)).toBe(true);
      for (const lane of Object.values(config.lanes)) expect(lane.description === null || typeof lane.description === "string").toBe(true);
      // The dispatch: section goes through its own validator: same contract.
      const dispatch = await settle(Promise.resolve().then(() => parseDispatchSection(config.dispatch, file)));
      if (!dispatch.ok) expectConfigError(dispatch.error, file);
    });
    await figures.check("handoff.yaml", property, { numRuns: runs(RUNS) });
  });

  it("a task file of any content loads to a valid definition or fails with a ConfigError naming the file", async () => {
    const property = fc.asyncProperty(documentOf(taskStructure), async (text) => {
      const file = path.join(ws, "tasks", `t${++fileNo}.yaml`);
      await writeFile(file, text);
      const result = await settle(loadTaskFile(file, ws));
      if (!result.ok) return expectConfigError(result.error, file);
      const { definition, warnings } = result.value;
      for (const key of ["lane", "prompt", "prompt_file", "request_from", "response_to", "worktree_path", "branch"] as const) {
        expect(definition[key] === null || typeof definition[key] === "string").toBe(true);
      }
      expect(typeof definition.metadata === "object" && definition.metadata !== null && !Array.isArray(definition.metadata)).toBe(true);
      for (const p of definition.supporting_paths) expect(typeof p).toBe("string");
      for (const warning of warnings) {
        expect(warning.startsWith(`agent-lanes: warning: task file ${file}`), warning).toBe(true);
        expect(warning).not.toMatch(/[\r\n]/);
      }
    });
    await figures.check("task file", property, { numRuns: runs(RUNS) });
  });

  it("a --vendor-config file of any content loads or fails with a ConfigError naming the file", async () => {
    const vendorStructure = fc.oneof(
      fc.record({ vendors: fc.dictionary(fc.constantFrom("claude", "codex", "x"), fc.dictionary(fc.constantFrom("command", "args", "env", "models", "max_cost_usd", "effort_flag"), anyValue)) }),
      fc.record({ dispatch: fc.record({ vendors: anyValue }) }),
    );
    const property = fc.asyncProperty(documentOf(vendorStructure), async (text) => {
      const file = path.join(ws, "handoff", `v${++fileNo}.yaml`);
      await writeFile(file, text);
      const result = await settle(loadVendorConfigFile(file));
      if (!result.ok) return expectConfigError(result.error, file);
      for (const warning of result.value.warnings) expect(warning).not.toMatch(/[\r\n]/);
    });
    await figures.check("vendor config file", property, { numRuns: runs(RUNS) });
  });

  it("submit merging never accepts a prompt file outside workspace_root, whatever the task file and flags say", async () => {
    const flags = fc.record(
      {
        lane: fc.option(fc.string({ maxLength: 6 })),
        requestFrom: fc.option(hostilePath(roots())),
        responseTo: fc.option(hostilePath(roots())),
        prompt: fc.option(fc.string({ maxLength: 6 })),
        promptFile: fc.option(hostilePath(roots())),
        worktreePath: fc.option(hostilePath(roots())),
        branch: fc.option(fc.string({ maxLength: 6 })),
        metadata: fc.option(fc.array(fc.oneof(fc.string({ maxLength: 10 }), fc.constant("k=v"), fc.constant("=v")), { maxLength: 3 })),
        sourceAgent: fc.option(fc.string({ maxLength: 6 })),
        taskId: fc.option(fc.string({ maxLength: 10 })),
      },
      { requiredKeys: [] },
    );
    const property = fc.asyncProperty(
      fc.option(taskStructure),
      flags,
      fc.constantFrom(ws, path.join(ws, "sub"), outside),
      async (structure, submitFlags, cwd) => {
        let taskFile = null;
        if (structure !== null) {
          const file = path.join(ws, "tasks", `s${++fileNo}.yaml`);
          await writeFile(file, serialise(structure, "yaml"));
          const loaded = await settle(loadTaskFile(file, ws));
          if (!loaded.ok) return expectConfigError(loaded.error, file);
          taskFile = loaded.value;
        }
        const result = await settle(resolveSubmit(engine, taskFile, submitFlags, cwd));
        if (!result.ok) {
          if (!(result.error instanceof ConfigError)) throw result.error;
          expect(result.error.message).not.toMatch(/[\r\n]/);
          return;
        }
        const { input, promptFile } = result.value;
        expect(input.workspace_root).toBe(ws);
        for (const p of [input.request_path, input.response_path, ...(input.supporting_paths as string[])]) expect(path.isAbsolute(p)).toBe(true);
        expect(typeof input.prompt).toBe("string");
        if (promptFile !== null) {
          const real = await realpath(promptFile);
          expect(path.relative(ws, real).startsWith("..")).toBe(false);
          expect(path.isAbsolute(path.relative(ws, real))).toBe(false);
        }
      },
    );
    await figures.check("submit merge", property, { numRuns: runs(RUNS) });
  });

  it("regression: an undefined or excessive YAML alias is a ConfigError, not a ReferenceError", async () => {
    const aliasBomb = `a: &a [x,x,x,x,x,x,x,x,x,x]\n${["b", "c", "d", "e", "f"].map((k, i) => `${k}: &${k} [${Array(10).fill(`*${"abcde"[i]}`).join(",")}]`).join("\n")}\n`;
    for (const [name, text] of [
      ["h-alias.yaml", "workspace_id: *nope\n"],
      ["h-bomb.yaml", `workspace_id: x\n${aliasBomb}`],
    ] as const) {
      const file = path.join(ws, "handoff", name);
      await writeFile(file, text);
      const handoff = await settle(loadEngineConfig(file));
      expect(handoff.ok).toBe(false);
      if (!handoff.ok) expectConfigError(handoff.error, file);
      const task = await settle(loadTaskFile(file));
      expect(task.ok).toBe(false);
      if (!task.ok) expectConfigError(task.error, file);
    }
    figures.add({ cases: 4 });
  });

  it("regression: an unknown YAML tag is a one-line loader warning, not a multi-line Node process warning", async () => {
    const emitted = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    try {
      const taskFile = path.join(ws, "tasks", "tagged.yaml");
      await writeFile(taskFile, 'lane: default\nprompt: !!js/function "x"\nmetadata: {a: !foo bar}\n');
      const loaded = await loadTaskFile(taskFile);
      expect(loaded.definition.prompt).toBe("x");
      expect(loaded.warnings).toHaveLength(2);
      for (const warning of loaded.warnings) {
        expect(warning).toMatch(/^agent-lanes: warning: task file .*tagged\.yaml: Unresolved tag: .* at line \d+, column \d+$/);
      }
      const handoff = path.join(ws, "handoff", "tagged.yaml");
      await writeFile(handoff, "workspace_id: !!js/undefined x\n");
      expect((await loadEngineConfig(handoff)).workspace_id).toBe("x");
      const vendorFile = path.join(ws, "handoff", "tagged-vendors.yaml");
      await writeFile(vendorFile, "vendors:\n  claude:\n    command: !weird claude\n");
      expect((await loadVendorConfigFile(vendorFile)).warnings).toEqual([expect.stringMatching(/tagged-vendors\.yaml: Unresolved tag: !weird/)]);
      expect(emitted).not.toHaveBeenCalled();
    } finally {
      emitted.mockRestore();
    }
    figures.add({ cases: 3 });
  });

  it("regression: a key holding a newline is quoted in warnings and errors, which stay one line", async () => {
    const taskFile = path.join(ws, "tasks", "newline-key.yaml");
    await writeFile(taskFile, '"odd\\nkey": 1\nlane: default\n');
    const loaded = await loadTaskFile(taskFile);
    expect(loaded.warnings).toEqual([`agent-lanes: warning: task file ${taskFile} has unknown keys (ignored): "odd\\nkey"`]);
    const handoff = path.join(ws, "handoff", "newline-lane.yaml");
    await writeFile(handoff, 'workspace_id: x\nlanes:\n  "a\\nb": [1]\n');
    const result = await settle(loadEngineConfig(handoff));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expectConfigError(result.error, handoff);
      expect((result.error as ConfigError).message).toContain('lanes."a\\nb" must be');
    }
    figures.add({ cases: 2 });
  });
});
