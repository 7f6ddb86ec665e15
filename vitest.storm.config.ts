// The kill storm (test/storm): minutes of SIGKILLs, so not in the default
// suite. Run by `npm run test:reliability` and by .ci/run, which passes a
// JSON reporter writing .tmp/vitest-reliability.json.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/storm/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 1,
    testTimeout: 300_000,
    hookTimeout: 30_000,
  },
});
