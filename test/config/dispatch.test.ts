import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { loadVendorConfigFile, mergeVendorConfig, parseDispatchSection, resolveVendorConfig } from "../../src/config/dispatch.js";
import { ConfigError } from "../../src/config/errors.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "agent-lanes-dispatch-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const HANDOFF = "/ws/handoff/handoff.yaml";

function section(yaml: string): unknown {
  return (parseYaml(yaml) as { dispatch?: unknown }).dispatch;
}

describe("resolveVendorConfig", () => {
  it("gives the built-in tables when nothing is configured", async () => {
    expect(await resolveVendorConfig("codex")).toEqual({
      command: "codex",
      models: {
        any: "gpt-6.1-sol",
        sol: "gpt-6.1-sol",
        terra: "gpt-6.1-terra",
        luna: "gpt-6-luna",
        astra: "gpt-6-astra",
        "gpt-5-3": "gpt-6.1-sol",
        "gpt-5-3-spark": "gpt-6-luna",
      },
      efforts: { low: "low", medium: "medium", high: "high", xhigh: "xhigh", max: "max", ultra: "ultra" },
    });
    expect(await resolveVendorConfig("my-plugin")).toEqual({});
  });

  it("layers defaults <- handoff.yaml dispatch: <- --vendor-config: maps by key, lists and scalars replaced", async () => {
    const dispatchSection = section(`
dispatch:
  vendors:
    claude:
      command: ./bin/claude
      models: { opus: claude-opus-4-7, any: opus }
      efforts: { high: high }
      args: [--permission-mode, acceptEdits]
      env: { A: "1", B: 2 }
      effort_flag: false
      max_cost_usd: 2.5
`);
    const vendorConfigPath = path.join(dir, "vendors.yaml");
    await writeFile(vendorConfigPath, "vendors:\n  claude:\n    models: { sonnet: claude-sonnet-4-6 }\n    args: [--verbose]\n    env: { B: three }\n    max_cost_usd: 1\n");
    const config = await resolveVendorConfig("claude", { dispatchSection, dispatchFile: HANDOFF, vendorConfigPath });
    expect(config).toEqual({
      command: "/ws/handoff/bin/claude",
      models: { any: "opus", opus: "claude-opus-4-7", sonnet: "claude-sonnet-4-6", haiku: "haiku" },
      efforts: { low: "low", medium: "medium", high: "high", xhigh: "xhigh", max: "max" },
      args: ["--verbose"],
      env: { A: "1", B: "three" },
      effortFlag: false,
      maxCostUsd: 1,
    });
  });

  it("keeps a command line with arguments as written, resolving only a lone executable path", async () => {
    const dispatchSection = section(`
dispatch:
  vendors:
    command:
      command: node ./agent.js --x
    claude:
      command: ./bin/claude
`);
    expect((await resolveVendorConfig("command", { dispatchSection, dispatchFile: HANDOFF })).command).toBe("node ./agent.js --x");
    expect((await resolveVendorConfig("claude", { dispatchSection, dispatchFile: HANDOFF })).command).toBe("/ws/handoff/bin/claude");
  });

  it("reads a JSON --vendor-config relative to the cwd and keeps plugin keys", async () => {
    await writeFile(path.join(dir, "v.json"), JSON.stringify({ vendors: { echo: { command: ["node", "agent.mjs"], shout: true } } }));
    const warnings: string[] = [];
    const config = await resolveVendorConfig("echo", { vendorConfigPath: "v.json", cwd: dir, onWarning: (w) => warnings.push(w) });
    expect(config).toEqual({ command: ["node", "agent.mjs"], shout: true });
    expect(warnings).toEqual([]);
  });

  it("reads prices per model id, cached_input defaulting to input", async () => {
    const config = await resolveVendorConfig("codex", { dispatchSection: { vendors: { codex: { prices: { "gpt-5": { input: 1.25, output: 10 } } } } }, dispatchFile: HANDOFF });
    expect(config.prices).toEqual({ "gpt-5": { input: 1.25, cached_input: 1.25, output: 10 } });
  });

  it("warns about keys a built-in vendor does not know", async () => {
    const warnings: string[] = [];
    await resolveVendorConfig("codex", { dispatchSection: { vendors: { codex: { sandbox: "x" } } }, dispatchFile: HANDOFF, onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([`${HANDOFF}: dispatch.vendors.codex: unknown keys sandbox (known: command, models, efforts, args, env, effort_flag, max_cost_usd, prices)`]);
  });
});

describe("validation errors name the file and the key path", () => {
  const cases: Array<[yaml: string, message: string]> = [
    ["dispatch: [1]", "dispatch must be a mapping, got a list"],
    ["dispatch: { vendors: 3 }", "dispatch.vendors must be a mapping of vendor names to settings, got a number (3)"],
    ["dispatch: { vendors: { claude: yes } }", "dispatch.vendors.claude must be a mapping"],
    ["dispatch: { vendors: { claude: { args: --verbose } } }", "dispatch.vendors.claude.args must be a list of strings"],
    ["dispatch: { vendors: { claude: { args: [{a: 1}] } } }", "dispatch.vendors.claude.args must be a list of strings"],
    ["dispatch: { vendors: { claude: { models: { opus: [x] } } } }", "dispatch.vendors.claude.models.opus must be a string"],
    ["dispatch: { vendors: { codex: { prices: 3 } } }", "dispatch.vendors.codex.prices must be a mapping of model ids to {input, cached_input, output}"],
    ["dispatch: { vendors: { codex: { prices: { gpt-5: { input: 1 } } } } }", "dispatch.vendors.codex.prices.gpt-5.output must be a number of US dollars per million tokens >= 0"],
    ["dispatch: { vendors: { claude: { command: [] } } }", "dispatch.vendors.claude.command must be an executable"],
    ["dispatch: { vendors: { claude: { effort_flag: maybe } } }", "dispatch.vendors.claude.effort_flag must be true or false"],
    ["dispatch: { vendors: { claude: { max_cost_usd: -1 } } }", "dispatch.vendors.claude.max_cost_usd must be a number of US dollars > 0"],
    ["dispatch: { vendors: { claude: { env: { A: [1] } } } }", "dispatch.vendors.claude.env.A must be a string"],
  ];
  it.each(cases)("%s", (yaml, message) => {
    let error: unknown;
    try {
      parseDispatchSection(section(yaml), "handoff.yaml");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`handoff.yaml: ${message}`);
    expect((error as ConfigError).file).toBe("handoff.yaml");
  });

  it("reports problems of a --vendor-config file with its path", async () => {
    const file = path.join(dir, "bad.yaml");
    await writeFile(file, "vendors:\n  gemini:\n    args: 5\n");
    await expect(loadVendorConfigFile(file)).rejects.toThrow(`${file}: vendors.gemini.args must be a list of strings`);
    await expect(loadVendorConfigFile(path.join(dir, "nope.yaml"))).rejects.toThrow(/vendor config file does not exist: .*nope\.yaml \(--vendor-config\)/);
    await writeFile(file, "vendors: [\n");
    await expect(loadVendorConfigFile(file)).rejects.toThrow(`invalid YAML in vendor config file ${file}`);
  });

  it("an absent dispatch: section is no error", () => {
    expect(parseDispatchSection(undefined, "h.yaml")).toEqual({ vendors: {}, warnings: [] });
    expect(parseDispatchSection({ lanes: ["a"] }, "h.yaml")).toEqual({ vendors: {}, warnings: [] });
  });
});

describe("mergeVendorConfig", () => {
  it("does not share lists or maps with its inputs", () => {
    const base = { args: ["a"], env: { X: "1" } };
    const merged = mergeVendorConfig(base, { args: ["b"], env: { Y: "2" } });
    (merged.args as string[]).push("c");
    (merged.env as Record<string, string>).Z = "3";
    expect(base).toEqual({ args: ["a"], env: { X: "1" } });
  });
});
