import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Files that replace modules (vi.mock), change process.env or the timers run each in a fresh process. The rest
 * share their worker's loaded modules from one file to the next (isolate: false): starting a worker and loading
 * sharp, the test helpers and src/ again for every file cost about as much CPU as a short test file. The list
 * is read from the files themselves, so a new test that mocks is isolated without anyone remembering to.
 */
const LEAKS = /\bvi\.(mock|doMock|stubEnv|stubGlobal|useFakeTimers)\(|process\.env(\.\w+|\[[^\]]+\])\s*=[^=]|delete process\.env/;
const ISOLATED = readdirSync(path.join(import.meta.dirname, "test"), { recursive: true, encoding: "utf8" })
  .filter((f) => f.endsWith(".test.ts"))
  .map((f) => path.join("test", f))
  .filter((f) => LEAKS.test(readFileSync(path.join(import.meta.dirname, f), "utf8")))
  .sort();

/**
 * The files that take longest start first, so that both workers end together: the unit files (a second or two
 * each) fill the end. Before a run has timed them (a fresh clone, as in CI), the larger file of a lane goes first.
 * vitest's own order runs each project as a block (the isolated files first): one slow file started last there
 * kept a worker busy for minutes after the other had finished.
 */
class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const { cache } = this.ctx;
    const key = (f: TestSpecification) => `${f.project.name}:${path.relative(this.ctx.config.root, f.moduleId)}`;
    const lane = (f: TestSpecification) => (f.moduleId.includes(`${path.sep}test${path.sep}unit${path.sep}`) ? 1 : 0);
    const timed = files.every((f) => cache.getFileTestResults(key(f)));
    const cost = (f: TestSpecification) =>
      timed ? (cache.getFileTestResults(key(f))?.duration ?? 0) : (cache.getFileStats(key(f))?.size ?? 0);
    return [...files].sort((a, b) => (timed ? 0 : lane(a) - lane(b)) || cost(b) - cost(a));
  }
}

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // e2e tests spawn the CLI and convert images: two at once fit this 2-core machine
    maxWorkers: 2,
    sequence: { sequencer: SlowestFirst },
    // expect.poll gives up after 1 s by default: a page that takes longer under load is not a failure
    // (a condition that never comes still fails, after 15 s)
    expect: { poll: { timeout: 15_000 } },
    globalSetup: ["./test/global-setup.ts"],
    // (WOPACK_TEST_CPU=<file>: each test file's CPU, its own and its children's, for finding where the time goes)
    setupFiles: process.env.WOPACK_TEST_CPU ? ["./test/cpu-setup.ts"] : [],
    reporters: ["default", "./test/summary-reporter.ts"],
    projects: [
      { extends: true, test: { name: "isolated", include: ISOLATED } },
      { extends: true, test: { name: "shared", include: ["test/**/*.test.ts"], exclude: ISOLATED, isolate: false } },
    ],
  },
});
