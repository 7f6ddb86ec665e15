// The browser suite (npm run test:browser): real headless Chromium driving the
// browser guard and the dashboard. Kept out of the default suite, which stays fast.
import { defineConfig } from "vitest/config";

export const BROWSER_TESTS = ["test/security/browser.test.ts", "test/dashboard/**/*.test.ts"];

export default defineConfig({
  test: {
    include: BROWSER_TESTS,
    pool: "forks",
    // One browser at a time on a small machine.
    maxWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
