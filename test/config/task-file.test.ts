import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EngineConfig, SubmitFlags } from "../../src/config/index.js";
import { ConfigError, loadEngineConfig, loadTaskFile, parseKeyValueFlags, resolveSubmit } from "../../src/config/index.js";

let tmp: string;
/** The workspace root: <tmp>/ws, with handoff/handoff.yaml and tasks/. */
let ws: string;
/** A cwd that is not the workspace root, to tell the two resolutions apart. */
let cwd: string;
let engine: EngineConfig;

beforeEach(async () => {
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), "al-task-")));
  ws = path.join(tmp, "ws");
  cwd = path.join(ws, "sub");
  await mkdir(cwd, { recursive: true });
  await put("ws/handoff/handoff.yaml", "workspace_id: demo\nlanes:\n  default:\n");
  engine = await loadEngineConfig(path.join(ws, "handoff/handoff.yaml"));
});

afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

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

/** Load a task file written at ws/tasks/<name> and merge it with flags. */
async function submitWith(taskYaml: string | null, flags: SubmitFlags, name = "review.yaml") {
  const task = taskYaml === null ? null : await loadTaskFile(await put(`ws/tasks/${name}`, taskYaml));
  return resolveSubmit(engine, task, flags, cwd);
}

const REQUIRED: SubmitFlags = { lane: "default", requestFrom: "req.md", responseTo: "resp.md" };

describe("loadTaskFile", () => {
  it("reads every known field, flattening {path} supporting entries", async () => {
    const file = await put(
      "ws/tasks/t.yaml",
      [
        "lane: review",
        "metadata: {effort: high, tokens: 3}",
        "prompt: Check it",
        "prompt_file: p.md",
        "request_from: docs/plan.md",
        "response_to: out/review.md",
        "supporting_paths:",
        "  - a.md",
        "  - path: b.md",
        "worktree_path: wt",
        "branch: 2024",
        "",
      ].join("\n"),
    );
    const loaded = await loadTaskFile(file);
    expect(loaded.path).toBe(file);
    expect(loaded.warnings).toEqual([]);
    expect(loaded.definition).toEqual({
      lane: "review",
      metadata: { effort: "high", tokens: 3 },
      prompt: "Check it",
      prompt_file: "p.md",
      request_from: "docs/plan.md",
      response_to: "out/review.md",
      supporting_paths: ["a.md", "b.md"],
      worktree_path: "wt",
      branch: "2024",
    });
  });

  it("reads a relative task path against the given cwd; absent fields are null and metadata {}", async () => {
    await put("ws/sub/t.json", JSON.stringify({ lane: "x" }));
    const loaded = await loadTaskFile("t.json", cwd);
    expect(loaded.path).toBe(path.join(cwd, "t.json"));
    expect(loaded.definition).toMatchObject({ lane: "x", metadata: {}, prompt: null, prompt_file: null, supporting_paths: [] });
  });

  it("warns about unknown keys, naming them, and still loads", async () => {
    const file = await put("ws/tasks/t.yaml", "lane: x\nzeta: 1\nalpha: 2\n");
    const loaded = await loadTaskFile(file);
    expect(loaded.warnings).toHaveLength(1);
    expect(loaded.warnings[0]).toContain("unknown keys");
    expect(loaded.warnings[0]).toContain("alpha, zeta");
    expect(loaded.warnings[0]).toContain(file);
    expect(loaded.definition.lane).toBe("x");
  });

  it.each([
    ["a list", "metadata: [a, b]\n"],
    ["a string", "metadata: text\n"],
  ])("metadata that is %s is an error naming metadata", async (_label, text) => {
    const file = await put("ws/tasks/t.yaml", text);
    const error = await rejection(loadTaskFile(file));
    expect(error.message).toContain("metadata must be a mapping");
    expect(error.message).toContain(file);
    expect(error.key).toBe("metadata");
  });

  it("supporting_paths that is not a list, or holds a bad entry, is an error naming the key", async () => {
    const notList = await rejection(loadTaskFile(await put("ws/tasks/a.yaml", "supporting_paths: a.md\n")));
    expect(notList.key).toBe("supporting_paths");
    const badEntry = await rejection(loadTaskFile(await put("ws/tasks/b.yaml", "supporting_paths: [a.md, {other: 1}]\n")));
    expect(badEntry.key).toBe("supporting_paths[1]");
    expect(badEntry.message).toContain("supporting_paths[1]");
  });

  it("a list-valued string field is an error naming the key", async () => {
    const error = await rejection(loadTaskFile(await put("ws/tasks/t.yaml", "lane: [a, b]\n")));
    expect(error.key).toBe("lane");
  });

  it("a missing task file, broken YAML and a non-mapping are errors naming the file", async () => {
    const missing = await rejection(loadTaskFile(path.join(ws, "tasks/none.yaml")));
    expect(missing.message).toBe(`task file does not exist: ${path.join(ws, "tasks/none.yaml")}`);
    const brokenFile = await put("ws/tasks/broken.yaml", "lane: x\nmetadata: {a: 1\n");
    const broken = await rejection(loadTaskFile(brokenFile));
    expect(broken.message).toContain(brokenFile);
    expect(broken.message).toMatch(/line \d+/);
    const listFile = await put("ws/tasks/list.yaml", "- lane\n");
    expect((await rejection(loadTaskFile(listFile))).message).toContain(`task file ${listFile} must be a YAML mapping`);
  });
});

describe("resolveSubmit", () => {
  it("flags alone: paths against cwd, correlation id is the lane, defaults filled in", async () => {
    const { input, correlationId, promptFile } = await submitWith(null, REQUIRED);
    expect(correlationId).toBe("default");
    expect(promptFile).toBeNull();
    expect(input).toEqual({
      workspace_id: "demo",
      correlation_id: "default",
      lane: "default",
      workspace_root: ws,
      request_path: path.join(cwd, "req.md"),
      response_path: path.join(cwd, "resp.md"),
      source_agent: "orchestrator",
      worktree_path: null,
      expected_branch: null,
      prompt: "",
      supporting_paths: [],
      metadata: {},
    });
  });

  it("a task file alone: its paths against workspace_root, prompt_file against its folder, correlation id from its name", async () => {
    await put("ws/tasks/prompts/p.md", "Review carefully.\n");
    const yaml = [
      "lane: review",
      "prompt_file: prompts/p.md",
      "request_from: docs/plan.md",
      "response_to: out/r.md",
      "supporting_paths: [a.md, {path: b/c.md}]",
      "worktree_path: wt",
      "branch: feat",
      "metadata: {effort: high}",
      "",
    ].join("\n");
    const { input, correlationId, promptFile } = await submitWith(yaml, {}, "plan-review.task.yaml");
    expect(correlationId).toBe("plan-review.task");
    expect(promptFile).toBe(path.join(ws, "tasks/prompts/p.md"));
    expect(input).toMatchObject({
      lane: "review",
      prompt: "Review carefully.\n",
      request_path: path.join(ws, "docs/plan.md"),
      response_path: path.join(ws, "out/r.md"),
      supporting_paths: [path.join(ws, "a.md"), path.join(ws, "b/c.md")],
      worktree_path: path.join(ws, "wt"),
      expected_branch: "feat",
      metadata: { effort: "high" },
    });
  });

  it("flags override the task file field by field", async () => {
    const yaml = "lane: review\nrequest_from: a.md\nresponse_to: b.md\nworktree_path: wt\nbranch: feat\nprompt: from file\n";
    const { input } = await submitWith(yaml, {
      lane: "other",
      requestFrom: "x.md",
      responseTo: "y.md",
      worktreePath: "wt2",
      branch: "main",
      prompt: "from flag",
      sourceAgent: "planner",
    });
    expect(input).toMatchObject({
      lane: "other",
      request_path: path.join(cwd, "x.md"),
      response_path: path.join(cwd, "y.md"),
      worktree_path: path.join(cwd, "wt2"),
      expected_branch: "main",
      prompt: "from flag",
      source_agent: "planner",
    });
  });

  it("empty flags do not override the task file", async () => {
    const { input } = await submitWith("lane: review\nrequest_from: a.md\nresponse_to: b.md\n", { lane: "", requestFrom: "", responseTo: null });
    expect(input.lane).toBe("review");
    expect(input.request_path).toBe(path.join(ws, "a.md"));
  });

  it("--prompt drops the task file's prompt_file (which is then never read)", async () => {
    const yaml = "lane: r\nrequest_from: a.md\nresponse_to: b.md\nprompt_file: /etc/passwd\n";
    const result = await submitWith(yaml, { prompt: "inline" });
    expect(result.input.prompt).toBe("inline");
    expect(result.promptFile).toBeNull();
  });

  it("--prompt-file drops the task file's prompt and resolves against cwd", async () => {
    await put("ws/sub/p.md", "from the flag's file");
    const result = await submitWith("lane: r\nrequest_from: a.md\nresponse_to: b.md\nprompt: inline in file\n", { promptFile: "p.md" });
    expect(result.input.prompt).toBe("from the flag's file");
    expect(result.promptFile).toBe(path.join(cwd, "p.md"));
  });

  it("in a task file with both, the inline prompt wins", async () => {
    const result = await submitWith("lane: r\nrequest_from: a.md\nresponse_to: b.md\nprompt: inline\nprompt_file: missing.md\n", {});
    expect(result.input.prompt).toBe("inline");
  });

  it("--prompt together with --prompt-file is an error", async () => {
    const error = await rejection(submitWith(null, { ...REQUIRED, prompt: "a", promptFile: "p.md" }));
    expect(error.message).toContain("--prompt");
    expect(error.message).toContain("--prompt-file");
  });

  it("a prompt_file outside workspace_root is an error naming it, from a flag or a task file", async () => {
    const outside = await put("outside/p.md", "secret");
    const fromFlag = await rejection(submitWith(null, { ...REQUIRED, promptFile: outside }));
    expect(fromFlag.message).toContain("prompt_file is outside workspace_root");
    expect(fromFlag.message).toContain(outside);
    expect(fromFlag.key).toBe("--prompt-file");
    const flagOverFile = await rejection(submitWith("lane: r\nrequest_from: a.md\nresponse_to: b.md\n", { promptFile: outside }));
    expect(flagOverFile.message).not.toContain("from task file");
    const fromFile = await rejection(submitWith("lane: r\nrequest_from: a.md\nresponse_to: b.md\nprompt_file: ../../outside/p.md\n", {}));
    expect(fromFile.message).toContain("prompt_file is outside workspace_root");
    expect(fromFile.message).toContain(outside);
    expect(fromFile.key).toBe("prompt_file");
    expect(fromFile.message).toContain(`from task file ${path.join(ws, "tasks/review.yaml")}`);
  });

  it("a prompt_file that is a symlink inside the workspace pointing outside is refused", async () => {
    const outside = await put("outside/p.md", "secret");
    await symlink(outside, path.join(cwd, "link.md"));
    const error = await rejection(submitWith(null, { ...REQUIRED, promptFile: "link.md" }));
    expect(error.message).toContain("prompt_file is outside workspace_root");
    expect(error.message).toContain(outside);
  });

  it("a missing prompt_file is an error naming it", async () => {
    const error = await rejection(submitWith(null, { ...REQUIRED, promptFile: "nope.md" }));
    expect(error.message).toBe(`prompt_file does not exist: ${path.join(cwd, "nope.md")}`);
    expect(error.key).toBe("--prompt-file");
  });

  it("--metadata k=v merges over the file's metadata as strings, splitting at the first =", async () => {
    const { input } = await submitWith("lane: r\nrequest_from: a.md\nresponse_to: b.md\nmetadata: {a: 1, b: x}\n", {
      metadata: ["b=y", "c=k=v", " d =", "a=2"],
    });
    expect(input.metadata).toEqual({ a: "2", b: "y", c: "k=v", d: "" });
  });

  it("a --metadata entry without = is an error naming --metadata and the entry", async () => {
    const error = await rejection(submitWith(null, { ...REQUIRED, metadata: ["ok=1", "broken"] }));
    expect(error.message).toBe("--metadata expects KEY=VALUE, got: broken");
    expect(error.key).toBe("--metadata");
    expect(() => parseKeyValueFlags(["=v"], "--data")).toThrow("--data expects KEY=VALUE, got: =v");
  });

  it.each([
    ["--lane", { requestFrom: "a", responseTo: "b" }],
    ["--request-from", { lane: "l", responseTo: "b" }],
    ["--response-to", { lane: "l", requestFrom: "a" }],
  ] as const)("a missing %s after the merge is an error naming the flag", async (flag, flags) => {
    const error = await rejection(submitWith("metadata: {}\n", flags));
    expect(error.message).toContain(`submit requires ${flag}`);
    expect(error.key).toBe(flag);
  });

  it("worktree_path and branch fall back to the engine config's", async () => {
    await put("ws/handoff/handoff.yaml", "workspace_id: demo\nworktree_path: ../wt-legacy\nexpected_branch: legacy\n");
    engine = await loadEngineConfig(path.join(ws, "handoff/handoff.yaml"));
    const { input } = await submitWith(null, REQUIRED);
    expect(input.worktree_path).toBe(path.join(ws, "wt-legacy"));
    expect(input.expected_branch).toBe("legacy");
    const overridden = await submitWith("branch: file-branch\n", REQUIRED);
    expect(overridden.input.expected_branch).toBe("file-branch");
  });

  it("--task-id wins over the task file's name for the correlation id", async () => {
    const { correlationId, input } = await submitWith("lane: r\nrequest_from: a.md\nresponse_to: b.md\n", { taskId: "custom-id" });
    expect(correlationId).toBe("custom-id");
    expect(input.correlation_id).toBe("custom-id");
  });
});
