// Class 3 of issue 11: request, supporting, prompt and task files must be
// regular files of bounded size. Real FIFOs (mkfifo), real kernel and device
// files, a sparse 700 MB file, the built CLI: nothing hangs, nothing is read
// whole, and the queue lock is never held while waiting on a special file.

import { mkdir, readFile, truncate, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { hashRegularFile, readRegularFile } from "../../src/store/safe-file.js";
import { eachCliWorkspace, type CliWorkspace } from "./support.js";

let ws: CliWorkspace;
eachCliWorkspace("al-sec-special-", (w) => (ws = w));

async function fifo(relative: string): Promise<string> {
  const file = path.join(ws.root, relative);
  await mkdir(path.dirname(file), { recursive: true });
  await execa("mkfifo", [file]);
  return file;
}

describe("submit", () => {
  it("a FIFO as request, supporting path, --prompt-file or --task is refused with one line, at once", async () => {
    const pipe = await fifo("requests/pipe.md");
    await ws.file("requests/ok.md");
    const cases: Array<[string[], RegExp]> = [
      [["--request-from", "requests/pipe.md"], /^agent-lanes: request_path must be a regular file: .*pipe\.md is a FIFO \(named pipe\)$/],
      [["--request-from", "requests/ok.md", "--prompt-file", "requests/pipe.md"], /^agent-lanes: --prompt-file must be a regular file: .*pipe\.md is a FIFO \(named pipe\)$/],
      [["--request-from", "requests/ok.md", "--task", "requests/pipe.md"], /^agent-lanes: task file must be a regular file: .*pipe\.md is a FIFO \(named pipe\)$/],
    ];
    for (const [extra, message] of cases) {
      const r = await ws.run(["submit", "--lane", "review", "--response-to", "out/a.md", ...extra], { timeoutMs: 10_000 });
      expect(r.exitCode, extra.join(" ")).toBe(1);
      expect(r.errLines, extra.join(" ")).toHaveLength(1);
      expect(r.errLines[0]).toMatch(message);
    }
    await writeFile(path.join(ws.root, "tasks.yaml"), `lane: review\nrequest_from: requests/ok.md\nresponse_to: out/b.md\nsupporting_paths: [${pipe}]\n`);
    const supporting = await ws.run(["submit", "--task", "tasks.yaml"], { timeoutMs: 10_000 });
    expect(supporting.errLines).toEqual([expect.stringMatching(/^agent-lanes: supporting_paths must be a regular file: .*pipe\.md is a FIFO \(named pipe\)$/)]);
    expect((await ws.run(["list"])).stdout).toBe("");
  });

  it("a request over request_max_bytes is refused, a sparse 700 MB one without being read", async () => {
    await writeFile(ws.config, `${await readFile(ws.config, "utf8")}request_max_bytes: 1024\n`);
    await ws.file("requests/big.md", "x".repeat(1025));
    const big = await ws.run(["submit", "--lane", "review", "--request-from", "requests/big.md", "--response-to", "out/a.md"]);
    expect(big.errLines).toEqual([
      `agent-lanes: request_path is larger than 1024 bytes (request_max_bytes in handoff.yaml): ${path.join(ws.root, "requests/big.md")} has 1025 bytes`,
    ]);
    await ws.file("requests/fits.md", "x".repeat(1024));
    expect((await ws.run(["submit", "--lane", "review", "--request-from", "requests/fits.md", "--response-to", "out/b.md"])).exitCode).toBe(0);

    await writeFile(ws.config, (await readFile(ws.config, "utf8")).replace("request_max_bytes: 1024\n", ""));
    const sparse = path.join(ws.root, "requests/sparse.md");
    await writeFile(sparse, "");
    await truncate(sparse, 700 * 1024 * 1024);
    const r = await ws.run(["submit", "--lane", "review", "--request-from", "requests/sparse.md", "--response-to", "out/c.md"]);
    expect(r.errLines).toEqual([
      `agent-lanes: request_path is larger than 8388608 bytes (request_max_bytes in handoff.yaml): ${sparse} has ${700 * 1024 * 1024} bytes`,
    ]);
  });

  it("request_max_bytes must be a whole number > 0", async () => {
    await writeFile(ws.config, `${await readFile(ws.config, "utf8")}request_max_bytes: 8MB\n`);
    await ws.file("requests/a.md");
    const r = await ws.run(["submit", "--lane", "review", "--request-from", "requests/a.md", "--response-to", "out/a.md"]);
    expect(r.errLines).toEqual([`agent-lanes: ${ws.config}: request_max_bytes must be a whole number of bytes > 0, got a string ("8MB")`]);
  });
});

describe("a request swapped for a FIFO after submit", () => {
  it("claim fails at once with one line and the lock is free: other tasks are claimed meanwhile", async () => {
    const id = await ws.submit("review");
    const other = await ws.submit("review");
    const status = await ws.run(["status", id, "--json"]);
    const request = status.json<{ task: { request_path: string } }>().task.request_path;
    await unlink(request);
    await execa("mkfifo", [request]);
    const claim = await ws.run(["claim", id, "--owner", "r", "--lock-timeout", "5"], { timeoutMs: 15_000 });
    expect(claim.exitCode).toBe(1);
    expect(claim.errLines).toEqual([`agent-lanes: request_path must be a regular file: ${request} is a FIFO (named pipe)`]);
    const second = await ws.run(["claim", other, "--owner", "r", "--lock-timeout", "5", "--json"]);
    expect(second.exitCode, second.stderr).toBe(0);
    // A failure can still be recorded for the task whose request became a FIFO.
    const failed = await ws.run(["respond", id, "--status", "failed", "--body", "request replaced", "--lock-timeout", "5"]);
    expect(failed.exitCode, failed.stderr).toBe(0);
    const completed = await ws.run(["respond", other, "--claim-token", second.json<{ claim_token: string }>().claim_token, "--body", "ok"]);
    expect(completed.exitCode, completed.stderr).toBe(0);
  });
});

describe("the bounded reader itself, on real kernel and device files", () => {
  it("refuses /proc, /sys and /dev files and reads at most maxBytes", async () => {
    await expect(readRegularFile("/proc/self/status", { label: "request_path" })).rejects.toThrow(
      /request_path must be a regular file: \/proc\/self\/status lies under \/proc/,
    );
    await expect(hashRegularFile("/dev/zero", { label: "request_path" })).rejects.toThrow(/\/dev\/zero is a character device/);
    await expect(readRegularFile("/dev/null", { label: "prompt_file" })).rejects.toThrow(/is a character device/);
    await expect(readRegularFile("/sys/kernel/uevent_seqnum", { label: "x" })).rejects.toThrow(/lies under \/sys/);
    const file = path.join(ws.root, "grows.md");
    await writeFile(file, "y".repeat(100));
    await expect(readRegularFile(file, { label: "request_path", maxBytes: 99 })).rejects.toThrow(/larger than 99 bytes/);
    expect((await readRegularFile(file, { label: "request_path", maxBytes: 100 })).length).toBe(100);
  });
});
