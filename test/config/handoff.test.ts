import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigError, loadEngineConfig } from "../../src/config/index.js";
import { laneLimitsOf } from "../../src/config/handoff.js";

let tmp: string;

beforeEach(async () => {
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), "al-handoff-")));
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(tmp, { recursive: true, force: true });
});

/** Write `<tmp>/<rel>` (parents created) and return its absolute path. */
async function put(rel: string, text: string): Promise<string> {
  const file = path.join(tmp, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  return file;
}

async function rejection(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe("loadEngineConfig", () => {
  it("applies the defaults: workspace_root .. and queue_root state, relative to the config folder", async () => {
    const file = await put("proj/handoff/handoff.yaml", "workspace_id: demo\n");
    const config = await loadEngineConfig(file, { cwd: "/" });
    expect(config).toMatchObject({
      path: file,
      dir: path.join(tmp, "proj/handoff"),
      workspace_id: "demo",
      workspace_root: path.join(tmp, "proj"),
      queue_root: path.join(tmp, "proj/handoff/state"),
      lanes: {},
      worktree_path: null,
      expected_branch: null,
    });
    expect(config.dispatch).toBeUndefined();
    expect(config.raw).toEqual({ workspace_id: "demo" });
  });

  it("resolves a relative config path against cwd, and the keys against the config folder, not cwd", async () => {
    await put("proj/handoff/handoff.yaml", "workspace_id: demo\nworkspace_root: ../src\nqueue_root: q/state\nworktree_path: ../wt\n");
    const config = await loadEngineConfig("proj/handoff/handoff.yaml", { cwd: tmp });
    expect(config.path).toBe(path.join(tmp, "proj/handoff/handoff.yaml"));
    expect(config.workspace_root).toBe(path.join(tmp, "proj/src"));
    expect(config.queue_root).toBe(path.join(tmp, "proj/handoff/q/state"));
    expect(config.worktree_path).toBe(path.join(tmp, "proj/wt"));
  });

  it("keeps absolute paths and expands ~ in workspace_root and queue_root", async () => {
    vi.stubEnv("HOME", path.join(tmp, "home"));
    const file = await put("c/handoff.yaml", `workspace_id: w\nworkspace_root: ~/code\nqueue_root: ${path.join(tmp, "abs-queue")}\n`);
    const config = await loadEngineConfig(file);
    expect(config.workspace_root).toBe(path.join(tmp, "home/code"));
    expect(config.queue_root).toBe(path.join(tmp, "abs-queue"));
  });

  it("lets --store override queue_root, resolved against cwd rather than the config folder", async () => {
    vi.stubEnv("HOME", path.join(tmp, "home"));
    const file = await put("c/handoff.yaml", "workspace_id: w\nqueue_root: state\n");
    expect((await loadEngineConfig(file, { storeOverride: "elsewhere", cwd: path.join(tmp, "run") })).queue_root).toBe(path.join(tmp, "run/elsewhere"));
    expect((await loadEngineConfig(file, { storeOverride: "~/q" })).queue_root).toBe(path.join(tmp, "home/q"));
    expect((await loadEngineConfig(file, { storeOverride: null })).queue_root).toBe(path.join(tmp, "c/state"));
  });

  it("resolves symlinks in the workspace root, as Python's Path.resolve does", async () => {
    await mkdir(path.join(tmp, "real-root"));
    await symlink(path.join(tmp, "real-root"), path.join(tmp, "link-root"));
    const file = await put("c/handoff.yaml", "workspace_id: w\nworkspace_root: ../link-root\n");
    expect((await loadEngineConfig(file)).workspace_root).toBe(path.join(tmp, "real-root"));
  });

  it("reads lanes as bare descriptions, null, or mappings with a description", async () => {
    const file = await put(
      "c/handoff.yaml",
      ["workspace_id: w", "lanes:", "  default: General work", "  review:", "  docs:", "    description: Writes docs", "  misc: {}", "  numbered: 42", ""].join("\n"),
    );
    expect((await loadEngineConfig(file)).lanes).toEqual({
      default: { description: "General work", max_running: null },
      review: { description: null, max_running: null },
      docs: { description: "Writes docs", max_running: null },
      misc: { description: null, max_running: null },
      numbered: { description: "42", max_running: null },
    });
  });

  it("reads lanes.<name>.max_running as the lane's WIP limit and refuses anything but a whole number >= 1", async () => {
    const file = await put("c/handoff.yaml", "workspace_id: w\nlanes:\n  build:\n    description: Builds\n    max_running: 2\n  review: x\n");
    const config = await loadEngineConfig(file);
    expect(config.lanes.build).toEqual({ description: "Builds", max_running: 2 });
    expect(laneLimitsOf(config)).toEqual({ build: 2 });
    for (const bad of ["0", "1.5", "two", "[1]"]) {
      const badFile = await put("c/handoff.yaml", `workspace_id: w\nlanes:\n  build:\n    max_running: ${bad}\n`);
      await expect(loadEngineConfig(badFile)).rejects.toThrow(/lanes\.build\.max_running must be a whole number >= 1/);
    }
  });

  it("accepts a JSON file", async () => {
    const file = await put("c/handoff.json", JSON.stringify({ workspace_id: "j", lanes: { a: "x" }, expected_branch: "main" }));
    const config = await loadEngineConfig(file);
    expect(config.workspace_id).toBe("j");
    expect(config.lanes).toEqual({ a: { description: "x", max_running: null } });
    expect(config.expected_branch).toBe("main");
  });

  it("passes the dispatch section through untouched and keeps the raw mapping", async () => {
    const file = await put(
      "c/handoff.yaml",
      "workspace_id: w\nextra_key: 1\ndispatch:\n  vendors:\n    claude:\n      models: {opus: claude-opus-4-7}\n      args: [--permission-mode, acceptEdits]\n",
    );
    const config = await loadEngineConfig(file);
    expect(config.dispatch).toEqual({ vendors: { claude: { models: { opus: "claude-opus-4-7" }, args: ["--permission-mode", "acceptEdits"] } } });
    expect(config.raw.extra_key).toBe(1);
    expect(config.raw.dispatch).toBe(config.dispatch);
  });

  it("reads a numeric expected_branch as its text and trims workspace_id", async () => {
    const file = await put("c/handoff.yaml", "workspace_id: '  spaced  '\nexpected_branch: 2024\n");
    const config = await loadEngineConfig(file);
    expect(config.workspace_id).toBe("spaced");
    expect(config.expected_branch).toBe("2024");
  });

  it("lets a repeated key's last value win, as PyYAML does", async () => {
    const file = await put("c/handoff.yaml", "workspace_id: first\nworkspace_id: second\n");
    expect((await loadEngineConfig(file)).workspace_id).toBe("second");
  });
});

describe("loadEngineConfig errors", () => {
  it("a missing file: config file does not exist: <path>", async () => {
    const error = await rejection(loadEngineConfig("nope/handoff.yaml", { cwd: tmp }));
    expect(error.message).toBe(`config file does not exist: ${path.join(tmp, "nope/handoff.yaml")}`);
    expect(error.file).toBe(path.join(tmp, "nope/handoff.yaml"));
  });

  it.each([
    ["a list", "- a\n- b\n", "a list"],
    ["a scalar", "just text\n", "a string"],
    ["an empty file", "", "nothing"],
  ])("a file that is %s is not a mapping", async (_label, text, kind) => {
    const file = await put("c/handoff.yaml", text);
    const error = await rejection(loadEngineConfig(file));
    expect(error.message).toContain(file);
    expect(error.message).toContain("must be a YAML mapping");
    expect(error.message).toContain(kind);
  });

  it("broken YAML names the file and the line", async () => {
    const file = await put("c/handoff.yaml", "workspace_id: w\nlanes: [a, b\nqueue_root: x\n");
    const error = await rejection(loadEngineConfig(file));
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/line 3/);
    expect(error.file).toBe(file);
  });

  it("checkpoints: is rejected with the migration hint", async () => {
    const file = await put("c/handoff.yaml", "workspace_id: w\ncheckpoints:\n  a:\n    lane: x\n");
    const error = await rejection(loadEngineConfig(file));
    expect(error.message.startsWith("checkpoints in handoff.yaml are no longer supported")).toBe(true);
    expect(error.message).toContain("tasks/<id>.yaml");
    expect(error.message).toContain("--task <path>");
    expect(error.message).toContain(file);
    expect(error.key).toBe("checkpoints");
  });

  it.each([
    ["missing", "lanes: {}\n", "workspace_id is required"],
    ["empty", "workspace_id: ''\n", "workspace_id is required"],
    ["blank", "workspace_id: '   '\n", "workspace_id is required"],
    ["null", "workspace_id:\n", "workspace_id is required"],
    ["a number", "workspace_id: 123\n", "workspace_id must be a string"],
    ["a list", "workspace_id: [a]\n", "workspace_id must be a string"],
  ])("workspace_id %s is an error naming the file and key", async (_label, text, message) => {
    const file = await put("c/handoff.yaml", text);
    const error = await rejection(loadEngineConfig(file));
    expect(error.message).toContain(message);
    expect(error.message).toContain(file);
    expect(error.key).toBe("workspace_id");
  });

  it("lanes that is not a mapping is an error naming lanes", async () => {
    const file = await put("c/handoff.yaml", "workspace_id: w\nlanes: [default, review]\n");
    const error = await rejection(loadEngineConfig(file));
    expect(error.message).toContain(`${file}: lanes must be a mapping`);
    expect(error.key).toBe("lanes");
  });

  it("a lane whose value is a list is an error naming that lane", async () => {
    const file = await put("c/handoff.yaml", "workspace_id: w\nlanes:\n  review: [x]\n");
    const error = await rejection(loadEngineConfig(file));
    expect(error.message).toContain("lanes.review");
    expect(error.key).toBe("lanes.review");
  });

  it("a lane description that is a mapping is an error naming the key", async () => {
    const file = await put("c/handoff.yaml", "workspace_id: w\nlanes:\n  review:\n    description: {a: 1}\n");
    expect((await rejection(loadEngineConfig(file))).key).toBe("lanes.review.description");
  });

  it.each(["workspace_root", "queue_root", "worktree_path"])("a non-string %s is an error naming the key", async (key) => {
    const file = await put("c/handoff.yaml", `workspace_id: w\n${key}: [a]\n`);
    const error = await rejection(loadEngineConfig(file));
    expect(error.message).toContain(`${file}: ${key} must be a path string`);
    expect(error.key).toBe(key);
  });

  it("a folder given as the config is an error naming it", async () => {
    await mkdir(path.join(tmp, "dir.yaml"));
    const error = await rejection(loadEngineConfig(path.join(tmp, "dir.yaml")));
    expect(error.message).toContain(`is a folder, not a file: ${path.join(tmp, "dir.yaml")}`);
  });
});
