import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // e2e tests spawn the CLI and convert images: two at once fit this 2-core machine
    maxWorkers: 2,
    // expect.poll gives up after 1 s by default: a page that takes longer under load is not a failure
    // (a condition that never comes still fails, after 15 s)
    expect: { poll: { timeout: 15_000 } },
    globalSetup: ["./test/global-setup.ts"],
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
