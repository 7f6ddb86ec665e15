import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The real vendor CLIs have their own suite: vitest.real-clis.config.ts.
    exclude: ["**/node_modules/**", "test/real-clis/**"],
    // Many suites spawn real processes and hold flock(2) on shared files; on a
    // 2-core machine a few forks at a time keeps timings honest.
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
