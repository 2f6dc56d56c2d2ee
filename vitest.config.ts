import { defineConfig } from "vitest/config";

/**
 * Files that replace modules (vi.mock) or change process.env run each in a fresh process. The rest share
 * their worker's loaded modules from one file to the next (isolate: false): starting a worker and loading
 * sharp, the test helpers and src/ again for every file cost about as much CPU as a short test file.
 */
const ISOLATED = [
  "test/e2e/pack.vanishedStep.test.ts",
  "test/e2e/pixels.test.ts",
  "test/fault/moves.duringCopy.test.ts",
  "test/unit/cli.quick.test.ts",
  "test/unit/convert.optimise.test.ts",
  "test/unit/measures.native.test.ts",
  "test/unit/pixels.gray.test.ts",
  "test/unit/pixels.stale.test.ts",
  "test/unit/readiness.test.ts",
  "test/unit/serve.reviewPages.test.ts",
  "test/unit/upload.hashAhead.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // e2e tests spawn the CLI and convert images: two at once fit this 2-core machine
    maxWorkers: 2,
    // expect.poll gives up after 1 s by default: a page that takes longer under load is not a failure
    // (a condition that never comes still fails, after 15 s)
    expect: { poll: { timeout: 15_000 } },
    globalSetup: ["./test/global-setup.ts"],
    reporters: ["default", "./test/summary-reporter.ts"],
    projects: [
      { extends: true, test: { name: "isolated", include: ISOLATED } },
      { extends: true, test: { name: "shared", include: ["test/**/*.test.ts"], exclude: ISOLATED, isolate: false } },
    ],
  },
});
