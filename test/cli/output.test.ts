// The CLI writes its output with write(2) on descriptors 1 and 2 (output.ts),
// not through Node's streams: every byte must arrive, in order, whatever the
// descriptor is: a pipe read slowly (a payload far over the pipe's 64 KiB),
// a pipe its owner left non-blocking (EAGAIN hands the rest to Node's
// stream), a reader that goes away early (EPIPE ends the command quietly).

import { execFileSync, spawnSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";
import { CLI, makeCliWorkspace, type CliWorkspace } from "./cli-helpers.js";

let ws: CliWorkspace;
/** What `list --json` prints, read whole by a plain blocking pipe. */
let expected: string;

beforeAll(async () => {
  ws = await makeCliWorkspace("al-output-");
  const store = openStore(ws.queue);
  const request = path.join(ws.root, await ws.file("requests/big.md", "a request\n"));
  for (let i = 0; i < 200; i++) {
    await store.create({ workspace_id: "ws", correlation_id: `out-${i}`, lane: "default", workspace_root: ws.root, request_path: request, response_path: path.join(ws.root, "responses", `out-${i}.md`) });
  }
  await store.close();
  expected = execFileSync(process.execPath, [CLI, "--config", ws.config, "list", "--json"], { cwd: ws.root, encoding: "utf8", maxBuffer: 1 << 26 });
}, 120_000);

afterAll(async () => {
  await ws?.cleanup();
});

/** The output with its ages (seconds since an event, which move between runs) blanked. */
const steady = (text: string): string => text.replace(/("[a-z_]*age_seconds": )[\d.]+/g, "$1N");

/** Python runs the CLI with its stdout on a pipe it set up, then reads it after a pause; prints what it read. */
function throughPython(nonBlocking: boolean): { stdout: string; status: number | null; childStatus: string } {
  const script = [
    "import fcntl, os, subprocess, sys, time",
    "r, w = os.pipe()",
    `if ${nonBlocking ? "True" : "False"}: fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)`,
    "p = subprocess.Popen(sys.argv[1:], stdout=w, stderr=subprocess.PIPE)",
    "os.close(w)",
    "time.sleep(0.3)",
    "out = b''",
    "while True:",
    "    chunk = os.read(r, 1 << 16)",
    "    if not chunk: break",
    "    out += chunk",
    "err = p.stderr.read()",
    "code = p.wait()",
    "sys.stdout.buffer.write(out)",
    "sys.stderr.write(f'exit={code} stderr={err!r}')",
  ].join("\n");
  const result = spawnSync("python3", ["-c", script, process.execPath, CLI, "--config", ws.config, "list", "--json"], { cwd: ws.root, encoding: "utf8", maxBuffer: 1 << 26 });
  return { stdout: result.stdout, status: result.status, childStatus: result.stderr };
}

describe("CLI output through write(2)", () => {
  it("a payload of several pipe-fulls read after a pause arrives whole", () => {
    expect(expected.length).toBeGreaterThan(200_000);
    expect(JSON.parse(expected)).toMatchObject({ status: "ok", count: 200 });
    const result = throughPython(false);
    expect(result.childStatus).toBe("exit=0 stderr=b''");
    expect(steady(result.stdout)).toBe(steady(expected));
  });

  it("a non-blocking stdout: the rest goes through Node's stream, whole and in order", () => {
    const result = throughPython(true);
    expect(result.childStatus).toBe("exit=0 stderr=b''");
    expect(steady(result.stdout)).toBe(steady(expected));
  });

  it("a reader that stops after the first bytes: exit 0, nothing on stderr", () => {
    const result = spawnSync("bash", ["-c", `set -o pipefail; "$0" "$1" --config "$2" list --json 2>"$3" | head -c 100 >/dev/null; echo "exit=\${PIPESTATUS[0]}"; cat "$3"`, process.execPath, CLI, ws.config, path.join(ws.root, "stderr.txt")], { cwd: ws.root, encoding: "utf8" });
    expect(result.stdout).toBe("exit=0\n");
  });
});
