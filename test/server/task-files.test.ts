// GET /api/tasks/:id/files/:which: the task page's links to a task's files.
// Only the task's own request, response and supporting files, inside its
// workspace and the server's allowed roots; never through a symlink that
// leads out, never a FIFO or device, never more than the cap; always inert
// text; always behind the token. Real server, real files.

import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rename, rm, symlink, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { toJsonFile } from "../../src/store/json.js";
import type { Task } from "../../src/store/types.js";
import { startServer, type Harness } from "./helpers.js";

let h: Harness;
const extra: string[] = [];
afterEach(async () => {
  await h?.stop();
  for (const dir of extra.splice(0)) await rm(dir, { recursive: true, force: true });
});

const auth = { authorization: "Bearer s3cret" };

async function get(id: string, which: string, headers: Record<string, string> = auth): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`${h.url}/api/tasks/${id}/files/${which}`, { headers });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** Rewrite a task.json as another writer (or a hand edit) would: the server must not trust what it names. */
async function edit(task: Task, changes: Partial<Task>): Promise<void> {
  const file = path.join(h.ws.queue, "tasks", task.id, "task.json");
  const current = JSON.parse(await readFile(file, "utf8")) as Task;
  await writeFile(`${file}.tmp`, toJsonFile({ ...current, ...changes }));
  await rename(`${file}.tmp`, file);
}

async function outsideDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "agent-lanes-outside-"));
  extra.push(dir);
  await writeFile(path.join(dir, "secret.txt"), "the secret\n");
  return dir;
}

describe("GET /api/tasks/:id/files/:which", () => {
  it("serves the request, response and supporting files as inert plain text", async () => {
    h = await startServer({ token: "s3cret" });
    const support = await h.ws.file("docs/spec.md", "<script>alert(1)</script>\n");
    const task = await h.ws.submit({ content: "# Request\n\nplease\n", supporting_paths: [support] });
    const request = await get(task.id, "request");
    expect(request.status).toBe(200);
    expect(request.text).toBe("# Request\n\nplease\n");
    expect(request.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(request.headers.get("x-content-type-options")).toBe("nosniff");
    expect(request.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(request.headers.get("content-security-policy")).toContain("sandbox");
    expect(request.headers.get("x-truncated")).toBe("false");
    const supporting = await get(task.id, "supporting-0");
    expect(supporting.status).toBe(200);
    expect(supporting.text).toBe("<script>alert(1)</script>\n");
    expect(supporting.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    // No response file yet: a 404 naming it; once written, served.
    await mkdir(path.dirname(task.response_path), { recursive: true });
    const missing = await get(task.id, "response");
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text).error).toContain(task.response_path);
    await writeFile(task.response_path, "the answer\n");
    expect((await get(task.id, "response")).text).toBe("the answer\n");
  });

  it("needs the token, and names only the task's own files (no path from the request)", async () => {
    h = await startServer({ token: "s3cret" });
    const task = await h.ws.submit();
    expect((await get(task.id, "request", {})).status).toBe(401);
    expect((await get(task.id, "request", { authorization: "Bearer wrong" })).status).toBe(401);
    for (const which of ["supporting-0", "supporting-99", "nope", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd"]) {
      const reply = await get(task.id, which);
      expect(reply.status, `${which}: ${reply.text}`).toBe(404);
      expect(reply.text, which).not.toContain("root:");
    }
    const unknown = task.id.replace(/.$/, (c) => (c === "0" ? "1" : "0"));
    // An unknown task is a 400 naming it, as on every Python-compatible route.
    const reply = await get(unknown, "request");
    expect(reply.status).toBe(400);
    expect(reply.text).toContain(unknown);
    expect((await get("..%2F..%2Fetc", "request")).status).toBeGreaterThanOrEqual(400);
  });

  it("refuses a file outside the workspace: a path that climbs out, a symlink that leads out, a root the server does not allow", async () => {
    h = await startServer({ token: "s3cret" });
    const outside = await outsideDir();
    const task = await h.ws.submit();
    // A path that climbs out of the workspace (the store never writes one; another writer might).
    await edit(task, { request_path: path.join(h.ws.root, "..", path.basename(outside), "secret.txt") });
    let reply = await get(task.id, "request");
    expect(reply.status).toBe(403);
    expect(reply.text).not.toContain("the secret");
    // The task page's request text is confined the same way.
    const detail = await fetch(`${h.url}/api/tasks/${task.id}`, { headers: auth });
    const body = (await detail.json()) as { request: { text: string | null; error?: string } };
    expect(detail.status).toBe(200);
    expect(body.request.text).toBeNull();
    expect(body.request.error).toContain("outside its workspace_root");
    // The request file replaced by a symlink to a file outside.
    await edit(task, { request_path: task.request_path });
    await unlink(task.request_path);
    await symlink(path.join(outside, "secret.txt"), task.request_path);
    reply = await get(task.id, "request");
    expect(reply.status).toBe(403);
    expect(reply.text).not.toContain("the secret");
    // A folder inside the workspace that is a symlink to one outside.
    await symlink(outside, path.join(h.ws.root, "linked"));
    await edit(task, { request_path: path.join(h.ws.root, "linked", "secret.txt") });
    reply = await get(task.id, "request");
    expect(reply.status).toBe(403);
    // A workspace_root the server does not allow.
    await edit(task, { workspace_root: outside, request_path: path.join(outside, "secret.txt") });
    reply = await get(task.id, "request");
    expect(reply.status).toBe(403);
    expect(JSON.parse(reply.text).error).toContain("outside the roots this server shows");
    // A symlink that stays inside the workspace is fine.
    const inside = await h.ws.file("notes/real.md", "inside\n");
    await symlink(inside, path.join(h.ws.root, "alias.md"));
    await edit(task, { workspace_root: task.workspace_root, request_path: path.join(h.ws.root, "alias.md") });
    reply = await get(task.id, "request");
    expect(reply.status).toBe(200);
    expect(reply.text).toBe("inside\n");
  });

  it("refuses a FIFO and a folder without blocking, and cuts a huge file with a notice", async () => {
    h = await startServer({ token: "s3cret" });
    const task = await h.ws.submit();
    await mkdir(path.dirname(task.response_path), { recursive: true });
    // Nothing ever writes to this FIFO: an open or read that blocked would hang the request.
    execFileSync("mkfifo", [task.response_path]);
    let reply = await get(task.id, "response");
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.text).error).toMatch(/FIFO|not a regular file/);
    await unlink(task.response_path);
    await edit(task, { response_path: path.join(h.ws.root, "requests") });
    reply = await get(task.id, "response");
    expect(reply.status).toBe(400);
    await edit(task, { response_path: task.response_path });
    const huge = "x".repeat(1024 * 1024 + 4096);
    await writeFile(task.response_path, huge);
    reply = await get(task.id, "response");
    expect(reply.status).toBe(200);
    expect(reply.headers.get("x-truncated")).toBe("true");
    expect(reply.headers.get("x-file-size")).toBe(String(huge.length));
    expect(reply.text.startsWith("x".repeat(1024 * 1024))).toBe(true);
    expect(reply.text).toContain(`[truncated by agent-lanes: the first ${1024 * 1024} of ${huge.length} bytes are shown]`);
    expect(reply.text.length).toBeLessThan(huge.length);
  });
});
