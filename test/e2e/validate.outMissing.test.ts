// validate <staging> --out <dir> checks the ids that outbox's ledger holds (a case twin packed before). An
// --out that is not there was silently checked against nothing; it is a usage error naming the folder.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { noiseJpeg, put, wopack, workspace } from "../helpers.js";

describe("validate <staging> --out <not a folder>", () => {
  const CASES = [
    ["does not exist", (dir: string) => Promise.resolve(path.join(dir, "no-such-out"))],
    ["is under a folder that does not exist", (dir: string) => Promise.resolve(path.join(dir, "gone", "out"))],
    [
      "is a file",
      async (dir: string) => {
        await writeFile(path.join(dir, "a-file"), "x");
        return path.join(dir, "a-file");
      },
    ],
  ] as const;
  for (const [what, make] of CASES)
    it(`an --out that ${what}: E_OUT_MISSING naming it, exit 2`, async () => {
      const ws = await workspace();
      await put(ws.staging, "WO_1/meter/a.jpg", noiseJpeg(64, 48, 1));
      const out = await make(ws.dir);
      const run = await wopack(["validate", ws.staging, "--out", out]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain("E_OUT_MISSING");
      expect(run.stderr).toContain(out);
      expect(run.stdout).toBe("");
    }, 30_000);
});
