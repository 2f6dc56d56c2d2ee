// Opt-in (WOPACK_TEST_CPU=<file>): appends each test file's CPU seconds to <file>, its worker's own and that of
// the processes it started and waited for (the CLI, exiftool, Chromium), read from /proc/self/stat.
import { appendFileSync, readFileSync } from "node:fs";
import { afterAll, expect } from "vitest";

function cpu(): { self: number; children: number } {
  const f = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
  // (fields 14-17 of stat(5), counted from 1; [0] here is field 3)
  const t = (i: number) => Number(f[i - 3]) / 100;
  return { self: t(14) + t(15), children: t(16) + t(17) };
}

// (taken as the file starts loading, its imports included: a setup file runs again before each test file)
const start = cpu();
const began = Date.now();
afterAll(() => {
  const end = cpu();
  const file = expect.getState().testPath ?? "?";
  const row = { file, self: end.self - start.self, children: end.children - start.children, wall: (Date.now() - began) / 1000 };
  appendFileSync(process.env.WOPACK_TEST_CPU!, `${JSON.stringify(row)}\n`);
});
