// validate and review of a zip whose central directory lists more entries than an archive may hold (SPEC §8):
// refused before one entry is listed, so neither memory nor time grows with what the zip claims or holds.
import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, tempDir, wopack } from "../helpers.js";
import { manyEntries } from "../zipCraft.js";

const LIMIT = 100_000;

/** validate or review in a process of its own: the problems' codes and its peak memory (VmHWM, kB). */
function measured(command: "validate" | "review", file: string): { codes: string[]; peakKb: number } {
  const script = `
    const { parseConfig } = await import(${JSON.stringify(path.join(ROOT, "dist/config/load.js"))});
    const config = parseConfig({});
    const r = ${
      command === "validate"
        ? `await (await import(${JSON.stringify(path.join(ROOT, "dist/run/validate.js"))})).validate(${JSON.stringify(file)}, { config })`
        : `await (await import(${JSON.stringify(path.join(ROOT, "dist/run/review.js"))})).review([${JSON.stringify(file)}], config)`
    };
    const { readFileSync } = await import("node:fs");
    const peak = Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))[1]);
    console.log(JSON.stringify({ codes: [...new Set(r.problems.map((p) => p.code))], peakKb: peak }));`;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as { codes: string[]; peakKb: number };
}

describe("an archive listing more entries than an archive may hold", () => {
  // (100,000 entries held as yauzl lists them took 184 MB and 37 s; refused, the process peaks near its 72 MB start)
  it.each([
    ["each with its own data", false],
    ["all pointing at the same data (each one an overlap problem)", true],
  ])(
    "%s: validate and review refuse it with E_ZIP_TOO_MANY_ENTRIES, in under 120 MB",
    async (_, shared) => {
      const dir = await tempDir("wopack-many-");
      const file = path.join(dir, "many.zip");
      await writeFile(file, manyEntries(LIMIT + 1, shared));
      for (const command of ["validate", "review"] as const) {
        const run = measured(command, file);
        expect(run.codes, command).toEqual(["E_ZIP_TOO_MANY_ENTRIES"]);
        expect(run.peakKb, command).toBeLessThan(120_000);
      }
      const cli = await wopack(["validate", file]);
      expect(cli.code).toBe(1);
      expect(cli.stdout).toMatch(
        /E_ZIP_TOO_MANY_ENTRIES .*many\.zip: its central directory lists 100001 entries, more than the 100000 an archive may hold/,
      );
    },
    240_000,
  );

  it("a count field claiming two million entries over a directory of three: refused by the count, nothing listed", async () => {
    const dir = await tempDir("wopack-many-");
    const file = path.join(dir, "claims.zip");
    const zip = manyEntries(3);
    // (the zip64 end record's two counts, 56 + 20 + 22 bytes from the end)
    const rec = zip.length - 98;
    zip.writeBigUInt64LE(2_000_000n, rec + 24);
    zip.writeBigUInt64LE(2_000_000n, rec + 32);
    await writeFile(file, zip);
    expect(measured("validate", file).codes).toEqual(["E_ZIP_TOO_MANY_ENTRIES"]);
  });
});
