// `wopack init <dir>` into a folder that is not there (missing, a missing parent, a file in the way, a path
// through a file): a usage error (exit 2, E_INIT_FOLDER_MISSING, the path named, a hint), dry run or not,
// and nothing written anywhere; never exit 3 blaming the disk. An existing folder is the neighbour: written.
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { snapshot, tempDir, wopack } from "../helpers.js";

const TARGETS: [string, (root: string) => Promise<string>][] = [
  ["a missing folder", async (root) => path.join(root, "missing")],
  ["a missing parent", async (root) => path.join(root, "missing", "deeper")],
  ["a file", async (root) => writeFile(path.join(root, "a-file"), "x").then(() => path.join(root, "a-file"))],
  ["a path through a file", async (root) => writeFile(path.join(root, "f"), "x").then(() => path.join(root, "f", "sub"))],
];

describe("wopack init <dir> where that folder is not", () => {
  for (const [what, make] of TARGETS) {
    for (const flags of [[], ["--dry-run"], ["--force"], ["--json"]]) {
      it(`${what}${flags.length ? ` (${flags[0]})` : ""}: exit 2, E_INIT_FOLDER_MISSING naming it, nothing written`, async () => {
        const root = await tempDir("wopack-init-");
        const dir = await make(root);
        const before = await snapshot(root);
        const r = await wopack(["init", dir, ...flags], { cwd: root });
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toContain("E_INIT_FOLDER_MISSING");
        expect(r.stderr).toContain(dir);
        expect(r.stderr).toMatch(/hint|"hint"/);
        expect(r.stderr).not.toMatch(/disk|I\/O/i);
        expect(await snapshot(root)).toEqual(before);
      });
    }
  }

  it("an existing folder (the neighbour): written, exit 0", async () => {
    const root = await tempDir("wopack-init-");
    const r = await wopack(["init", root]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(path.join(root, "wopack.config.json"))).toBe(true);
  });
});
