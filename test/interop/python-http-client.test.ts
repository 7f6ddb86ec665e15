// A Python client — python3's urllib, sending application/json and no token,
// as the Python tool's server tests do — drives our server through a whole
// task: create (with the legacy checkpoint_id too), next, claim, event,
// respond, response. The browser guard and the JSON-only rule must not get
// in its way.

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { startServer, type Harness } from "../server/helpers.js";

const run = promisify(execFile);
let h: Harness;
afterEach(async () => {
  await h?.stop();
});

const CLIENT = String.raw`
import json, sys, urllib.request, urllib.error
base, root, request = sys.argv[1], sys.argv[2], sys.argv[3]

def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, json.loads(res.read().decode("utf-8"))
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read().decode("utf-8"))

out = {}
task_body = {"workspace_id": "py", "lane": "review", "workspace_root": root, "request_path": request, "response_path": "out/py.md"}
out["create"] = call("POST", "/tasks", dict(task_body, correlation_id="py-1"))
out["legacy"] = call("POST", "/tasks", dict(task_body, checkpoint_id="py-legacy", response_path="out/legacy.md"))
tid = out["create"][1]["task"]["id"]
out["next"] = call("GET", "/tasks/next?lane=review&wait_seconds=1")
out["claim"] = call("POST", "/tasks/%s/claim" % tid, {"owner": "py-worker", "lease_seconds": 60})
token = out["claim"][1]["task"]["claim_token"]
out["event"] = call("POST", "/tasks/%s/events" % tid, {"type": "note", "message": "reading"})
out["respond"] = call("POST", "/tasks/%s/response" % tid, {"claim_token": token, "body": "LGTM\n", "verdict": "accept"})
out["response"] = call("GET", "/tasks/%s/response?wait_seconds=1" % tid)
out["missing"] = call("POST", "/tasks", {"lane": "review"})
print(json.dumps(out))
`;

describe("a Python urllib client (application/json, no token)", () => {
  it("runs a task end to end, the legacy checkpoint_id included", async () => {
    h = await startServer();
    const request = await h.ws.file("requests/py.md", "from python\n");
    const { stdout } = await run("python3", ["-c", CLIENT, h.url, h.ws.root, request]);
    const out = JSON.parse(stdout) as Record<string, [number, Record<string, unknown>]>;
    expect(out.create?.[0]).toBe(201);
    expect(out.legacy).toEqual([201, { task: expect.objectContaining({ correlation_id: "py-legacy" }) }]);
    expect(out.next?.[0]).toBe(200);
    expect(out.claim?.[1]).toMatchObject({ task: { state: "claimed", claim_owner: "py-worker" } });
    expect(out.event).toEqual([200, { ok: true }]);
    expect(out.respond?.[1]).toMatchObject({ response: { body: "LGTM\n", verdict: "accept" } });
    expect(out.response?.[1]).toMatchObject({ response: { status: "completed", body: "LGTM\n" } });
    expect(out.missing).toEqual([400, { error: "missing field: workspace_id" }]);
  });
});
