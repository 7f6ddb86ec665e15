// Class 10 of issue 11 (CLI side): what a user causes and can fix prints one
// line naming the path, without the "run with --debug" hint meant for bugs:
// a folder where a file belongs, a permission denied (the CLI runs as an
// ordinary user), a name too long, a full disk (a real ENOSPC from /dev/full).

import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { describeFileSystemError } from "../../src/cli/errors.js";
import { withPath } from "../../src/store/atomic.js";
import { handOver, eachCliWorkspace, runUnprivileged, type CliWorkspace } from "./support.js";

let ws: CliWorkspace;
eachCliWorkspace("al-sec-usererr-", (w) => (ws = w));

describe("file-system errors", () => {
  it("a queue the user may not write: one line naming the lock file, no bug hint", async () => {
    const id = await ws.submit("review");
    await handOver(ws);
    await chmod(ws.queue, 0o500);
    await chmod(path.join(ws.queue, "lock"), 0o400);
    const r = await runUnprivileged(ws, ["claim", id, "--owner", "r"]);
    expect(r.exitCode).toBe(1);
    expect(r.errLines).toEqual([`agent-lanes: cannot open ${path.join(ws.queue, "lock")}: permission denied`]);
  });

  it("a --store whose name is too long, and a response_path that is a folder", async () => {
    const long = path.join(ws.root, "q".repeat(300));
    await ws.file("requests/a.md");
    const r = await ws.run(["--store", long, "submit", "--lane", "review", "--request-from", "requests/a.md", "--response-to", "out/a.md"]);
    expect(r.exitCode).toBe(1);
    expect(r.errLines).toEqual([`agent-lanes: cannot mkdir ${long}: the name is too long`]);

    const id = await ws.submit("review");
    expect((await ws.run(["respond", id, "--body", "b"])).exitCode).toBe(0);
    const responsePath = (await ws.run(["status", id, "--json"])).json<{ task: { response_path: string } }>().task.response_path;
    await mkdir(responsePath, { recursive: true });
    await writeFile(path.join(responsePath, "keep.txt"), "x");
    const wait = await ws.run(["wait", id, "--timeout", "0"]);
    expect(wait.errLines).toEqual([`agent-lanes: response_path is a folder, not a file: ${responsePath}`]);
  });

  it("a full disk (ENOSPC from /dev/full) is described, not hinted at as a bug", async () => {
    const { writeFile: write } = await import("node:fs/promises");
    const error = await write("/dev/full", "x").then(() => null, (e: unknown) => e);
    expect((error as NodeJS.ErrnoException).code).toBe("ENOSPC");
    expect(describeFileSystemError(error)).toBe("cannot write: no space left on the device");
    expect(describeFileSystemError(withPath(error, "/q/tasks/x/task.json"))).toBe("cannot write /q/tasks/x/task.json: no space left on the device");
    expect(describeFileSystemError(new Error("plain"))).toBeNull();
  });
});
