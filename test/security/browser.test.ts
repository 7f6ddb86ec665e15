// Issue 11, item 1, in a real browser: a page from another origin (a second
// local server on another port) tries everything a page can do without the
// user's help — a text/plain form POST, fetch with mode no-cors, and a DNS
// rebinding (the page's own name resolving to 127.0.0.1, so its requests carry
// a foreign Host and are same-origin to the browser). No task is created, and
// the server's log proves every attempt reached it and was refused.
// Runs in the browser suite (npm run test:browser): real Chromium at /usr/bin/chromium.

import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, type TestBrowser } from "../helpers/browser.js";
import { startServer, type Harness } from "../server/helpers.js";

let h: Harness;
let browser: TestBrowser;
let attacker: http.Server;
let attackerUrl: string;
let body: string;

/** Requests the API logged (method, url, status), in order. */
const logged = (): Array<{ method: unknown; url: unknown; status: unknown }> =>
  h.logs.filter((line) => line.msg === "request").map(({ method, url, status }) => ({ method, url, status }));

function attackPage(api: string): string {
  // The form's one field name and value join into a JSON-looking text/plain body: {"...":"...","x":"="}
  const [head, tail] = [body.slice(0, -1) + ',"x":"', '"}'];
  return `<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="f" method="POST" action="${api}/tasks" enctype="text/plain" target="sink">
  <input type="hidden" name='${head.replace(/'/g, "&#39;")}' value='${tail}'>
</form>
<script>
  window.results = {};
  (async () => {
    document.getElementById("f").submit();
    for (const [name, type] of [["noCorsText", "text/plain"], ["noCorsJson", "application/json"]]) {
      try {
        const r = await fetch(${JSON.stringify(api)} + "/tasks", { method: "POST", mode: "no-cors", headers: { "content-type": type }, body: ${JSON.stringify(body)} });
        window.results[name] = r.type;
      } catch (e) { window.results[name] = "error: " + e.message; }
    }
    window.results.done = true;
  })();
</script></body></html>`;
}

beforeAll(async () => {
  h = await startServer();
  const request = await h.ws.file("requests/r.md", "please review\n");
  body = JSON.stringify({ workspace_id: "ws", correlation_id: "from-a-page", lane: "default", workspace_root: h.ws.root, request_path: request, response_path: "out/r.md" });
  attacker = http.createServer((req, res) => {
    res.setHeader("content-type", "text/html");
    res.end(attackPage(h.url));
  });
  await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
  attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
  // Chromium's own guard for pages calling loopback (Local/Private Network Access) is turned off:
  // other browsers lack it, and the point is that the server refuses on its own.
  browser = await launchBrowser([
    "--host-resolver-rules=MAP rebind.attacker.test 127.0.0.1",
    "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults",
  ]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => attacker?.close(resolve));
  await h?.stop();
});

describe("a page from another origin cannot reach the store", () => {
  it("the same body the page sends creates a task when a real client sends it (the attempts below are not malformed)", async () => {
    const probe = await startServer();
    try {
      const request = await probe.ws.file("requests/r.md", "please review\n");
      const reply = await probe.api("POST", "/tasks", { ...(JSON.parse(body) as object), workspace_root: probe.ws.root, request_path: request });
      expect(reply.status).toBe(201);
    } finally {
      await probe.stop();
    }
  });

  it("a text/plain form POST and no-cors fetches from http://127.0.0.1:<other port> create nothing", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${attackerUrl}/`);
    await page.waitForFunction(() => (window as unknown as { results: { done?: boolean } }).results?.done === true, undefined, { timeout: 20_000 });
    // The form's navigation lands in the iframe; wait until all three POSTs reached the server.
    await expect.poll(() => logged().filter((l) => l.method === "POST").length, { timeout: 10_000 }).toBe(3);
    const results = await page.evaluate(() => (window as unknown as { results: Record<string, unknown> }).results);
    expect(results).toMatchObject({ noCorsText: "opaque", noCorsJson: "opaque" });
    for (const line of logged().filter((l) => l.method === "POST")) expect(line.status).toBe(403);
    expect(await h.ws.store.list()).toEqual([]);
    await page.close();
  });

  it("a rebinding page (its own name now resolving to 127.0.0.1) can neither create nor read tasks", async () => {
    const seeded = await h.ws.submit();
    const before = logged().length;
    const origin = `http://rebind.attacker.test:${new URL(h.url).port}`;
    const page = await browser.context.newPage();
    // The page itself came from the attacker before the name was rebound: serve it from here,
    // every later request goes to the network, i.e. to our server under the attacker's name.
    await page.route(`${origin}/attack`, (route) => route.fulfill({ contentType: "text/html", body: "<!doctype html><title>attack</title>" }));
    await page.goto(`${origin}/attack`);
    const outcome = await page.evaluate(
      async ({ json, id }) => {
        const created = await fetch("/tasks", { method: "POST", headers: { "content-type": "application/json" }, body: json });
        const read = await fetch(`/tasks/${id}`);
        const listed = await fetch("/tasks?lane=default");
        return { created: created.status, read: read.status, readBody: await read.text(), listed: listed.status };
      },
      { json: body, id: seeded.id },
    );
    expect(outcome).toMatchObject({ created: 403, read: 403, listed: 403 });
    expect(outcome.readBody).not.toContain(seeded.id);
    expect(outcome.readBody).toContain("is not this server's address");
    expect(logged().slice(before).map((l) => l.status)).toEqual([403, 403, 403]);
    expect((await h.ws.store.list()).map((t) => t.id)).toEqual([seeded.id]);
    await page.close();
  });
});
