import { openSync, closeSync, readFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/supervisor/log.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function logFile(): { fd: number; read(): string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "log-"));
  dirs.push(dir);
  const file = path.join(dir, "out.log");
  const fd = openSync(file, "w");
  return {
    fd,
    read() {
      closeSync(fd);
      return readFileSync(file, "utf8");
    },
  };
}

describe("createLogger", () => {
  it("writes one JSON object a line with an ISO time and the base fields", async () => {
    const out = logFile();
    const log = await createLogger({ level: "info", format: "json", fd: out.fd, base: { vendor: "claude" } });
    log.info({ task_id: "t1", duration_ms: 5 }, "task completed");
    log.debug("not at info");
    const lines = out.read().trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, vendor: "claude", task_id: "t1", duration_ms: 5, msg: "task completed" });
    expect(String(lines[0]?.time)).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
  });

  it("pretty-prints with --log-format pretty, and auto picks pretty only on a TTY", async () => {
    const pretty = logFile();
    const log = await createLogger({ level: "info", format: "pretty", fd: pretty.fd, isTTY: false });
    log.warn({ task_id: "t2" }, "task released");
    const text = pretty.read();
    expect(text).toMatch(/WARN.*task released/);
    expect(text.trim().startsWith("{")).toBe(false);

    const auto = logFile();
    const plain = await createLogger({ level: "info", format: "auto", fd: auto.fd, isTTY: false });
    plain.info("hello");
    expect(JSON.parse(auto.read().trim())).toMatchObject({ msg: "hello" });
  });
});
