// A real headless Chromium (Debian's `chromium` package) driven by
// playwright-core, with a fresh profile each time, for the browser suites.
// Set AGENT_LANES_CHROMIUM to use another binary.

import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export const CHROMIUM = process.env.AGENT_LANES_CHROMIUM ?? "/usr/bin/chromium";

/** The flags every run uses: no sandbox (containers), no network chatter of the browser's own. */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launch Chromium with a fresh user-data-dir; `extraArgs` e.g. host-resolver rules. */
export async function launchBrowser(extraArgs: string[] = []): Promise<TestBrowser> {
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), "al-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS, ...extraArgs],
    viewport: { width: 1400, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}
