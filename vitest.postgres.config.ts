// The PostgreSQL store's suites (test/postgres): each file starts its own
// embedded PostgreSQL (test/helpers/postgres.ts), so they are kept out of the
// default suite. Run by `npm run test:postgres` and by .ci/run, which passes
// a JSON reporter writing .tmp/vitest-postgres.json.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/postgres/**/*.test.ts"],
    pool: "forks",
    // One server per file: two at a time on a 2-core machine.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
