// The dashboard in a real headless Chromium (issue 15): `agent-lanes serve`
// runs as a real process with a token over a workspace made by `init`; tasks
// are submitted, claimed and answered with the real CLI; the page must show
// each change live (no reload, no polling), render the answer's Markdown
// safely, draw its charts, and run an action only with the token.
// Screenshots land in .tmp/dashboard-shots/ (board.png, task.png).
// Runs in the browser suite (npm run test:browser).

import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCliWorkspace, REPO, type CliWorkspace } from "../cli/cli-helpers.js";
import { launchBrowser, type TestBrowser } from "../helpers/browser.js";
import { listPauses, setPause } from "../../src/supervisor/pauses.js";

const TOKEN = "dash-token-3f9c";
const SHOTS = path.join(REPO, ".tmp", "dashboard-shots");

let ws: CliWorkspace;
let serve: ReturnType<CliWorkspace["start"]>;
let url: string;
let browser: TestBrowser;
let page: Page;
let stderr = "";

/** Run the CLI in the workspace; fail loudly on a non-zero exit. */
async function cli(args: string[]): Promise<Record<string, unknown>> {
  const result = await ws.run([...args, "--json"]);
  if (result.exitCode !== 0) throw new Error(`agent-lanes ${args.join(" ")} failed: ${result.stderr}`);
  return result.json();
}

async function submit(name: string, lane = "default"): Promise<string> {
  const request = await ws.file(`requests/${name}.md`, `# ${name}\n\nPlease look at this.\n`);
  const out = await cli(["submit", "--lane", lane, "--request-from", request, "--response-to", `responses/${name}.md`, "--task-id", name, "--metadata", "vendor=claude", "--metadata", "effort=high"]);
  return out.task_id as string;
}

const card = (id: string, column?: string): string => `${column ? `[data-column="${column}"] ` : ""}.card[data-task-id="${id}"]`;

beforeAll(async () => {
  await mkdir(SHOTS, { recursive: true });
  ws = await makeCliWorkspace("al-dash-");
  serve = ws.start(["serve", "--port", "0", "--token", TOKEN], { timeoutMs: 600_000 });
  url = await new Promise<string>((resolve, reject) => {
    serve.stderr?.setEncoding("utf8");
    serve.stderr?.on("data", (chunk: string) => {
      stderr += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match?.[1]) resolve(match[1]);
    });
    void serve.then(() => reject(new Error(`serve exited: ${stderr}`)));
  });
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.on("dialog", (dialog) => void dialog.accept());
  page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
});

afterAll(async () => {
  await browser?.close();
  serve?.kill("SIGTERM");
  await serve?.catch(() => undefined);
  await ws?.cleanup();
});

describe("the dashboard, live", () => {
  it("shows a task submitted with the CLI within 1 s, then claimed and completed, without a reload", async () => {
    await page.goto(`${url}/#token=${TOKEN}`);
    // The token moved from the address bar into this tab's storage.
    await page.waitForSelector('[data-testid="stream"]:text("live")', { timeout: 20_000 });
    expect(page.url()).not.toContain(TOKEN);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

    const id = await submit("live-review");
    const submittedAt = Date.now();
    await page.waitForSelector(card(id, "queued"), { timeout: 1000 });
    const seenAfterMs = Date.now() - submittedAt;
    expect(seenAfterMs).toBeLessThan(1000);
    await expect.poll(() => page.textContent('tr[data-lane="default"] td[data-state="queued"]')).toBe("1");

    const claimed = await cli(["claim", id, "--owner", "reviewer-bot"]);
    await page.waitForSelector(card(id, "claimed"), { timeout: 5000 });
    await page.waitForSelector(`[data-testid="runs"] >> text=reviewer-bot`, { timeout: 5000 });

    const answer = ["# Review of live-review", "", "- **blocking**: none", "- `code` stays code", "", "<script>window.pwned = 1</script>", '<img src="x" onerror="window.pwned = 2">', "", "| a | b |", "|---|---|", "| 1 | 2 |"].join("\n");
    await cli(["respond", id, "--claim-token", String((claimed.task as { claim_token: string }).claim_token), "--body", answer, "--verdict", "accept"]);
    await page.waitForSelector(card(id, "finished"), { timeout: 5000 });
    expect(await page.$(card(id, "claimed"))).toBeNull();
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);

    // More on the board for the screenshot: a queued task, a running one on another lane, a vendor pause.
    await submit("docs-pass", "docs");
    const running = await submit("api-audit", "build");
    await cli(["claim", running, "--owner", "codex-dispatcher"]);
    await setPause(ws.queue, "codex", { until: new Date(Date.now() + 42 * 60_000), reason: "usage limit reached (5-hour window)", kind: "usage-limit", owner: "codex-dispatcher", jitter: false });
    await page.waitForSelector('.pauses li[data-vendor="codex"] .countdown', { timeout: 10_000 });
    await page.waitForSelector(card(running, "claimed"), { timeout: 5000 });
    await page.screenshot({ path: path.join(SHOTS, "board.png"), fullPage: true });
    console.log(`dashboard: task visible ${seenAfterMs} ms after submit returned`);
  });

  it("the task page renders the Markdown answer, sanitised, with the timeline and the verdict", async () => {
    const id = (await page.getAttribute(".card[data-state=completed]", "data-task-id")) as string;
    await page.click(card(id));
    await page.waitForSelector('[data-testid="response"] h1');
    expect(await page.textContent('[data-testid="response"] h1')).toBe("Review of live-review");
    expect(await page.textContent('[data-testid="response"] strong')).toBe("blocking");
    expect(await page.$$eval('[data-testid="response"] td', (cells) => cells.map((c) => c.textContent))).toEqual(["1", "2"]);
    // Sanitised: the script never ran, the handler is gone.
    expect(await page.$('[data-testid="response"] script')).toBeNull();
    expect(await page.$eval('[data-testid="response"]', (el) => el.innerHTML)).not.toContain("onerror");
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.$$eval('[data-testid="timeline"] li', (items) => items.map((li) => li.getAttribute("data-type")))).toEqual(["created", "claimed", "response"]);
    expect(await page.textContent('[data-testid="verdict"]')).toContain("accept");
    expect(await page.textContent('[data-testid="task-state"]')).toBe("completed");
    // The file paths are links to the files: opening the request shows its text, fetched with the token.
    expect(await page.getAttribute('a.file-link[data-file="request"]', "href")).toBe(`/api/tasks/${encodeURIComponent(id)}/files/request`);
    await page.click('a.file-link[data-file="request"]');
    await page.waitForSelector('[data-testid="file-content"]');
    expect(await page.textContent('[data-testid="file-content"]')).toBe("# live-review\n\nPlease look at this.\n");
    expect(page.url()).toContain(`#/task/`); // shown in the page, not navigated away
    await page.screenshot({ path: path.join(SHOTS, "task.png"), fullPage: true });
  });

  it("the charts draw what the queue holds: tasks per hour and cost per day by vendor, wait and run times", async () => {
    // A task answered the way the dispatcher answers (HTTP, numbers in metadata): codex, $0.42.
    const id = await submit("costly-review");
    const claimed = await cli(["claim", id, "--owner", "codex-dispatcher"]);
    const reply = await fetch(`${url}/tasks/${id}/response`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ body: "fine", claim_token: (claimed.task as { claim_token: string }).claim_token, metadata: { vendor: "codex", cost_usd: 0.42 } }),
    });
    expect(reply.status).toBe(200);
    await page.goto(`${url}/#/`);
    await page.waitForSelector('[data-chart="cost-per-day"][data-total="0.42"] canvas', { timeout: 10_000 });
    const charts = await page.$$eval("[data-chart]", (els) => Object.fromEntries(els.map((el) => [el.getAttribute("data-chart"), { series: el.getAttribute("data-series"), total: Number(el.getAttribute("data-total")) }])));
    // Finished so far: live-review (claude, no cost) and costly-review (codex, $0.42); claimed at some point: those two and api-audit.
    expect(charts["tasks-per-hour"]).toEqual({ series: "claude,codex", total: 2 });
    expect(charts["cost-per-day"]).toEqual({ series: "claude,codex", total: 0.42 });
    expect(charts["wait-times"]?.total).toBe(3);
    expect(charts["run-times"]?.total).toBe(2);
    // Each chart painted its data, not only axes and grid: hiding the series that holds the data
    // (a click on its legend entry, as a person would) changes the canvas, and showing it again restores it.
    const holder = { "tasks-per-hour": "codex", "cost-per-day": "codex", "wait-times": "tasks", "run-times": "tasks" } as const;
    for (const [chart, series] of Object.entries(holder)) {
      const canvas = `[data-chart="${chart}"] canvas`;
      const picture = (): Promise<string> => page.$eval(canvas, (c) => (c as HTMLCanvasElement).toDataURL());
      const legend = page.locator(`[data-chart="${chart}"] .u-legend tr.u-series`, { hasText: series }).locator("th");
      const shown = await picture();
      await legend.click();
      await expect.poll(picture, { message: `${chart}: hiding ${series} changes the drawing` }).not.toBe(shown);
      await legend.click();
      await expect.poll(picture, { message: `${chart}: showing ${series} again restores it` }).toBe(shown);
    }
    await page.screenshot({ path: path.join(SHOTS, "charts.png"), fullPage: true });
  });

  it("'resume now' clears a vendor pause from the page", async () => {
    await page.goto(`${url}/#/`);
    await page.click('.pauses li[data-vendor="codex"] button[data-action="resume now"]');
    await page.waitForSelector('.pauses li[data-vendor="codex"]', { state: "detached", timeout: 5000 });
    expect((await listPauses(ws.queue)).pauses).toEqual([]);
  });

  it("an action works with the token and is refused without it", async () => {
    const id = await submit("to-cancel");
    // Without the token (a fresh tab has none): refused, nothing changes.
    const stranger = await browser.context.newPage();
    await stranger.goto(`${url}/`);
    const refused = await stranger.evaluate(async (taskId) => {
      const res = await fetch(`/api/tasks/${taskId}/cancel`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      return { status: res.status, body: await res.json() };
    }, id);
    expect(refused.status).toBe(401);
    await stranger.waitForSelector("text=The server wants its token");
    await stranger.close();
    expect(((await cli(["status", id])) as { task: { state: string } }).task.state).toBe("queued");

    // With the token, through the page's own button.
    await page.goto(`${url}/#/task/${id}`);
    await page.click('button[data-action="cancel"]');
    await page.waitForSelector('[data-testid="task-state"]:text("failed")', { timeout: 5000 });
    // A failed answer is shown verbatim (it quotes stderr), not as Markdown.
    expect(await page.textContent('pre.failure[data-testid="response"]')).toMatch(/^cancelled by \S+/);
    const status = (await cli(["status", id])) as { task: { state: string; failure_reason: string } };
    expect(status.task.state).toBe("failed");
    expect(status.task.failure_reason).toMatch(/^cancelled by \S+/);
  });
});
