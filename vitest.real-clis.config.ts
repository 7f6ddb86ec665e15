import { defineConfig } from "vitest/config";

// The real-CLI contract suite (npm run test:real-clis): the pinned vendor CLIs
// (test/real-clis/versions.json, installed into a cache by the global setup)
// driven through `agent-lanes dispatch` against stand-in model servers on
// 127.0.0.1. Not part of `npm test`; .ci/run runs it.
export default defineConfig({
  test: {
    include: ["test/real-clis/**/*.test.ts"],
    globalSetup: ["test/real-clis/global-setup.ts"],
    pool: "forks",
    // One vendor file per worker; the CLIs are heavy (gemini is a Node app of its own).
    maxWorkers: 2,
    testTimeout: 180_000,
    hookTimeout: 300_000,
  },
});
