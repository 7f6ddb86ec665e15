// fsyncFd (src/store/durability.ts): made in place while the disk is fast,
// on the thread pool after a slow one; either way a failure is a rejected
// promise, never a throw, so a transition's batch sees it where it waits.

import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fsyncFd } from "../../src/store/durability.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "agent-lanes-fsync-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("fsyncFd", () => {
  it("syncs an open file and resolves", async () => {
    const file = path.join(dir, "f");
    const fd = openSync(file, "w");
    writeSync(fd, "written\n");
    await expect(fsyncFd(fd)).resolves.toBeUndefined();
    closeSync(fd);
    expect(readFileSync(file, "utf8")).toBe("written\n");
  });

  it("reports a failure as a rejected promise (EBADF), not a throw", async () => {
    const fd = openSync(path.join(dir, "g"), "w");
    closeSync(fd);
    let promise: Promise<void> | undefined;
    expect(() => {
      promise = fsyncFd(fd);
    }).not.toThrow();
    await expect(promise).rejects.toMatchObject({ code: "EBADF" });
  });
});
