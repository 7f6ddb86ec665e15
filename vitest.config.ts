import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Suites with their own config: the kill storm (vitest.storm.config.ts,
    // minutes of SIGKILLs), the real vendor CLIs (vitest.real-clis.config.ts) and
    // the real browser (npm run test:browser, vitest.browser.config.ts), and
    // PostgreSQL (npm run test:postgres, vitest.postgres.config.ts).
    exclude: ["**/node_modules/**", "test/storm/**", "test/real-clis/**", "test/security/browser.test.ts", "test/dashboard/**", "test/postgres/**"],
    // Many suites spawn real processes and hold flock(2) on shared files; on a
    // 2-core machine a few forks at a time keeps timings honest.
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
