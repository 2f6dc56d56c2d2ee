// An invalid config is exit 2 with every problem on a line of its own, as "path: message" (SPEC §10);
// a line break or escape sequence inside a key name is still written as an escape, never as a line.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { wopack, workspace } from "../helpers.js";

const CASES: { config: unknown; lines: string[] }[] = [
  { config: { images: { quality: 500 } }, lines: ["images.quality: must be at most 100"] },
  {
    config: { imagse: {}, images: { qualty: 80 }, archive: { maxSiz: "2GiB" } },
    lines: [
      '(root): Unrecognized key: "imagse" (did you mean "images"?)',
      'images: Unrecognized key: "qualty" (did you mean "quality"?)',
      'archive: Unrecognized key: "maxSiz" (did you mean "maxSize"?)',
    ],
  },
  {
    config: { watch: { settle: 30 }, upload: { maxElapsed: "30" } },
    lines: ["watch.settle: a duration needs a unit; did you mean 30s?", "upload.maxElapsed: a duration needs a unit"],
  },
  {
    config: { images: { "x\nerror E_FORGED: \u001b[31mred": 1 } },
    lines: ['images: Unrecognized key: "x\\nerror E_FORGED: \\u001b[31mred"'],
  },
];

describe("config errors on the terminal", () => {
  for (const c of CASES) {
    it(`${JSON.stringify(c.config)}: exit 2, the problems one a line`, async () => {
      const ws = await workspace();
      const file = path.join(ws.dir, "wopack.config.json");
      await writeFile(file, JSON.stringify(c.config));
      const run = await wopack(["pack", ws.staging, "--out", ws.out], { cwd: ws.dir });
      expect(run.code, run.stderr).toBe(2);
      const lines = run.stderr.split("\n");
      expect(lines[0]).toBe(`error E_CONFIG_INVALID: config ${file} is invalid:`);
      for (const want of c.lines)
        expect(
          lines.some((l) => l.startsWith(`  ${want}`)),
          `${want} in\n${run.stderr}`,
        ).toBe(true);
      expect(lines.filter((l) => /^ {2}\S/.test(l) && !l.startsWith("  hint:"))).toHaveLength(c.lines.length);
      expect(lines.at(-2)).toMatch(/^ {2}hint: fix every line above/);
      // nothing a key holds starts a line, or reaches the terminal raw
      expect(run.stderr).not.toMatch(/^error E_FORGED/m);
      expect(run.stderr).not.toContain("\u001b");
    });
  }
});
