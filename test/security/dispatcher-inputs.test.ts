// Classes 11 and 12 of issue 11, with the real dispatcher process:
// - its start-up sweep removes task folders a crash left without task.json
//   once they are an hour old (a young one may be a create in progress);
// - it refuses a handoff.yaml (or --vendor-config) that sets a vendor's
//   command, args or env while group or others may write it.

import { chmod, mkdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { eachCliWorkspace, type CliWorkspace } from "./support.js";

let ws: CliWorkspace;
eachCliWorkspace("al-sec-dispatch-", (w) => (ws = w));

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

/** Start `dispatch` on the workspace, wait for its start-up line, stop it with SIGTERM. */
async function runDispatcherOnce(extra: readonly string[] = []): Promise<{ exitCode: number; stderr: string }> {
  const child = ws.start(["dispatch", "--vendor", "command", "--command", "true", "--poll-seconds", "0.2", "--log-format", "json", ...extra]);
  let stderr = "";
  await new Promise<void>((resolve) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes("dispatcher started")) resolve();
    });
    void child.then(() => resolve(), () => resolve());
  });
  child.kill("SIGTERM");
  const result = await child;
  return { exitCode: result.exitCode ?? -1, stderr: stderr + String(result.stderr ?? "") };
}

describe("start-up sweep", () => {
  it("removes task folders without task.json older than an hour, keeps young ones and real tasks", async () => {
    const live = await ws.submit("review");
    const tasks = path.join(ws.queue, "tasks");
    const old = path.join(tasks, "20260101T000000000000Z-crashed-aaaaaaaaaaaa");
    const young = path.join(tasks, "20260101T000000000001Z-creating-bbbbbbbbbbbb");
    await mkdir(old);
    await writeFile(path.join(old, ".task.json.0123456789abcdef.tmp"), "{");
    await mkdir(young);
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(path.join(old, ".task.json.0123456789abcdef.tmp"), twoHoursAgo, twoHoursAgo);
    await utimes(old, twoHoursAgo, twoHoursAgo);
    const r = await runDispatcherOnce(["--lane", "nothing-here"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await exists(old)).toBe(false);
    expect(await exists(young)).toBe(true);
    expect(await exists(path.join(tasks, live, "task.json"))).toBe(true);
  });
});

describe("a writable handoff.yaml that sets what runs", () => {
  it("is refused with one line when group- or world-writable; accepted once chmod go-w", async () => {
    const original = await readFile(ws.config, "utf8");
    await writeFile(ws.config, `${original}dispatch:\n  vendors:\n    command:\n      args: ["--flag"]\n`);
    for (const mode of [0o664, 0o646]) {
      await chmod(ws.config, mode);
      const r = await ws.run(["dispatch", "--vendor", "command", "--command", "true"], { timeoutMs: 15_000 });
      expect(r.exitCode).toBe(1);
      expect(r.errLines).toEqual([
        `agent-lanes: ${ws.config} sets dispatch.vendors.command.args but is group- or world-writable (mode 0${mode.toString(8)}): anyone who can write it runs commands as you; run chmod go-w ${ws.config}`,
      ]);
    }
    await chmod(ws.config, 0o644);
    const ok = await runDispatcherOnce(["--lane", "nothing-here"]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    // A writable file that sets nothing that runs is fine (models only).
    await writeFile(ws.config, `${original}dispatch:\n  vendors:\n    claude:\n      models: {fast: x}\n`);
    await chmod(ws.config, 0o666);
    const models = await runDispatcherOnce(["--lane", "nothing-here"]);
    expect(models.exitCode, models.stderr).toBe(0);
  });

  it("the same rule holds for --vendor-config", async () => {
    const file = path.join(ws.root, "vendors.yaml");
    await writeFile(file, "vendors:\n  command:\n    env: {X: y}\n");
    await chmod(file, 0o620);
    const r = await ws.run(["dispatch", "--vendor", "command", "--command", "true", "--vendor-config", file], { timeoutMs: 15_000 });
    expect(r.errLines).toEqual([
      `agent-lanes: ${file} sets vendors.command.env but is group- or world-writable (mode 0620): anyone who can write it runs commands as you; run chmod go-w ${file}`,
    ]);
  });
});
