import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultInstanceName, projectSlug } from "../../src/service/paths.js";
import { resolveServiceSpec, servicePath, type InstallOptions } from "../../src/service/spec.js";
import { createSandbox, type Sandbox } from "./helpers.js";

let box: Sandbox;
beforeEach(() => {
  box = createSandbox("My Project");
});
afterEach(() => box.cleanup());

const resolve = (options: InstallOptions) => resolveServiceSpec({ cliPath: box.cli, ...options }, { cwd: box.project, env: box.env, platform: "systemd" });

describe("resolveServiceSpec", () => {
  it("makes the default config absolute against the cwd and names the instance <vendor>-<project>", () => {
    const spec = resolve({ vendor: "claude" });
    expect(spec.config).toBe(box.config);
    expect(spec.name).toBe("claude-my-project");
    expect(spec.node).toBe(process.execPath);
    expect(spec.store).toBeNull();
    expect(spec.stopTimeoutSeconds).toBe(45);
  });

  it("resolves a relative --store against the cwd and passes --grace-seconds through to the stop timeout", () => {
    const spec = resolve({ vendor: "codex", store: "q/state", graceSeconds: "90", concurrency: 4 });
    expect(spec.store).toBe(path.join(box.project, "q", "state"));
    expect(spec.graceSeconds).toBe(90);
    expect(spec.stopTimeoutSeconds).toBe(105);
    expect(spec.concurrency).toBe(4);
  });

  it("names a missing config file and the fix in one line", () => {
    expect(() => resolve({ vendor: "claude", config: "nope/handoff.yaml" })).toThrow(
      `config file does not exist: ${path.join(box.project, "nope", "handoff.yaml")}; pass --config with the path of your handoff.yaml`,
    );
  });

  it("rejects a missing or malformed vendor, name, concurrency and grace with the flag named", () => {
    expect(() => resolve({})).toThrow(/^missing --vendor; pass the vendor/);
    expect(() => resolve({ vendor: "../x" })).toThrow(/^Expected `--vendor` to be a vendor name/);
    expect(() => resolve({ vendor: "claude", name: "a/b" })).toThrow(/^Expected `--name` to be letters/);
    expect(() => resolve({ vendor: "claude", concurrency: "0" })).toThrow("Expected `--concurrency` to be an integer >= 1, got `0` (string)");
    expect(() => resolve({ vendor: "claude", concurrency: "2x" })).toThrow(/--concurrency/);
    expect(() => resolve({ vendor: "claude", graceSeconds: "-1" })).toThrow(/--grace-seconds/);
  });

  it("refuses a missing node binary and a dispatcher entry that was never built", () => {
    expect(() => resolve({ vendor: "claude", node: "/no/such/node" })).toThrow(/^node binary does not exist: \/no\/such\/node; pass --node/);
    expect(() => resolve({ vendor: "claude", cliPath: "/no/dist/src/cli/main.js" })).toThrow(/^dispatcher entry does not exist: .*npm run build/);
  });

  it("warns when the vendor's CLI is not on the service PATH, and not once it is", () => {
    const bin = path.join(box.root, "agents");
    mkdirSync(bin);
    expect(resolve({ vendor: "claude", path: bin }).warnings).toEqual([expect.stringMatching(/^claude is not on the service PATH/)]);
    writeFileSync(path.join(bin, "claude"), "#!/bin/sh\n");
    chmodSync(path.join(bin, "claude"), 0o755);
    expect(resolve({ vendor: "claude", path: `${bin}:/usr/bin` }).warnings).toEqual([]);
  });
});

describe("servicePath", () => {
  it("keeps the shell's absolute entries in order, drops relative ones and adds node's folder", () => {
    expect(servicePath(undefined, { PATH: "/a:.:bin::/b:/a" }, "/opt/node/bin/node")).toBe("/a:/b:/opt/node/bin");
  });

  it("takes --path verbatim but refuses relative entries", () => {
    expect(servicePath("/x:/y", { PATH: "/a" }, "/opt/node")).toBe("/x:/y");
    expect(() => servicePath("/x:bin", {}, "/opt/node")).toThrow('--path entry "bin" is not an absolute folder');
  });
});

describe("instance names", () => {
  it("names init and init-pool queues after the folder that holds them", () => {
    expect(projectSlug("/home/u/Web App/handoff/handoff.yaml")).toBe("web-app");
    expect(projectSlug("/home/u/pool/.agent-lanes-queue/handoff.yaml")).toBe("pool");
    expect(projectSlug("/srv/queues/a.yaml")).toBe("queues");
    expect(projectSlug("/handoff/handoff.yaml")).toBe("queue");
    expect(defaultInstanceName("codex", "/home/u/pool/.agent-lanes-queue/handoff.yaml")).toBe("codex-pool");
  });
});
