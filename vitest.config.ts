import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Suites with their own config: the kill storm (vitest.storm.config.ts,
    // minutes of SIGKILLs) and the real vendor CLIs (vitest.real-clis.config.ts).
    exclude: ["**/node_modules/**", "test/storm/**", "test/real-clis/**"],
    // Many suites spawn real processes and hold flock(2) on shared files; on a
    // 2-core machine a few forks at a time keeps timings honest.
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
