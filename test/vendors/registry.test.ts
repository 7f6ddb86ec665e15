import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { builtinAdapterNames, loadAdapter, validateAdapter, VendorModuleError } from "../../vendors/registry.js";
import { makeContext, makeTask, makeTempDir, type TempDir } from "./harness.js";

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

const ADAPTER_SOURCE = `
  name: "tiny",
  accepts: () => true,
  invocation: (task, ctx) => ({ file: "true", args: [], input: ctx.input, cwd: ctx.cwd }),
  settle: () => ({ kind: "completed", body: "ok", metadata: {} }),
`;

describe("built-in adapters", () => {
  it.each(["claude", "codex", "gemini"])("loads %s by name with its config", async (name) => {
    const adapter = await loadAdapter(name, { config: { command: `/opt/${name}` } });
    expect(adapter.name).toBe(name);
    expect(adapter.invocation(makeTask(), makeContext({ command: `/opt/${name}` })).file).toBe(`/opt/${name}`);
  });

  it("passes effort_flag: false through to claude", async () => {
    expect((await loadAdapter("claude", { config: { effortFlag: false } })).supportsEffort).toBe(false);
  });

  it("refuses an unknown name and lists the built-ins", async () => {
    await expect(loadAdapter("nope", { config: {} })).rejects.toThrow(/unknown vendor "nope"; built-in vendors are claude, codex, gemini, agy, command, demo/);
    expect(builtinAdapterNames).toEqual(expect.arrayContaining(["claude", "codex", "gemini", "agy", "command", "demo"]));
  });

  it.each([
    ["command", { command: "my-agent --print" }],
    ["demo", {}],
  ])("loads %s lazily from the supervisor side's module", async (name, config) => {
    expect((await loadAdapter(name, { config })).name).toBe(name);
  });
});

describe("plugin modules", () => {
  it("accepts a createAdapter export, a default factory (also async) and a default object", async () => {
    const variants = {
      "named.mjs": `export function createAdapter({ config }) { return { ${ADAPTER_SOURCE} config }; }`,
      "default-factory.mjs": `export default async ({ config }) => ({ ${ADAPTER_SOURCE} config });`,
      "default-object.mjs": `export default { ${ADAPTER_SOURCE} };`,
    };
    for (const [file, source] of Object.entries(variants)) {
      await writeFile(path.join(tmp.dir, file), source);
      const adapter = await loadAdapter("tiny", { config: { args: ["x"] }, modulePath: file, cwd: tmp.dir });
      expect(adapter.name).toBe("tiny");
      if (file !== "default-object.mjs") expect((adapter as unknown as { config: unknown }).config).toEqual({ args: ["x"] });
    }
  });

  it("loads an installed package by name, resolved from the cwd", async () => {
    const pkg = path.join(tmp.dir, "node_modules", "agent-lanes-vendor-tiny");
    await mkdir(pkg, { recursive: true });
    await writeFile(path.join(pkg, "package.json"), JSON.stringify({ name: "agent-lanes-vendor-tiny", type: "module", main: "index.js" }));
    await writeFile(path.join(pkg, "index.js"), `export const createAdapter = () => ({ ${ADAPTER_SOURCE} });`);
    expect((await loadAdapter("tiny", { config: {}, modulePath: "agent-lanes-vendor-tiny", cwd: tmp.dir })).name).toBe("tiny");
  });

  it("names the module and every missing piece of a malformed adapter", async () => {
    await writeFile(path.join(tmp.dir, "bad.mjs"), `export default { name: "bad", accepts() { return true; } };`);
    const error = await loadAdapter("bad", { config: {}, modulePath: "./bad.mjs", cwd: tmp.dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VendorModuleError);
    expect((error as Error).message).toBe("vendor module ./bad.mjs: not a vendor adapter; missing invocation() (a function), settle() (a function)");
  });

  it("explains a module that cannot be loaded and a factory that throws", async () => {
    await expect(loadAdapter("x", { config: {}, modulePath: "./missing.mjs", cwd: tmp.dir })).rejects.toThrow(/^vendor module \.\/missing\.mjs: cannot be loaded/);
    await writeFile(path.join(tmp.dir, "throws.mjs"), `export function createAdapter() { throw new Error("no API key"); }`);
    await expect(loadAdapter("x", { config: {}, modulePath: "./throws.mjs", cwd: tmp.dir })).rejects.toThrow("vendor module ./throws.mjs: its adapter factory threw: no API key");
  });

  it("validateAdapter rejects non-objects and a bad supportsEffort", () => {
    expect(() => validateAdapter(null, "m")).toThrow("m: expected an adapter object or a factory returning one");
    expect(() => validateAdapter({ name: "", accepts() {}, invocation() {}, settle() {}, supportsEffort: "yes" }, "m")).toThrow(
      "m: not a vendor adapter; missing name (a non-empty string), supportsEffort as a boolean",
    );
  });
});
