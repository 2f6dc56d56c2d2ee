// A work order's folder moved to another file system (a tmpfs here) is copied, then the original removed:
// only what was copied goes, each file checked again first. What came or changed while the copy ran stays
// in staging (given back to the caller), and a FIFO is neither opened (that waits for ever) nor removed.
import { spawnSync } from "node:child_process";
import { appendFileSync, writeFileSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { moveWhole } from "../../src/commit/moves.js";
import { tempDir } from "../helpers.js";

let during: ((src: string) => void) | undefined;
vi.mock("node:fs/promises", async (original) => {
  const fs = await original<typeof import("node:fs/promises")>();
  const copyFile = async (...a: Parameters<typeof fs.copyFile>) => {
    const r = await fs.copyFile(...a);
    const act = during;
    during = undefined;
    act?.(String(a[0]));
    return r;
  };
  const wrapped = { ...fs, copyFile };
  return { ...wrapped, default: wrapped };
});

let root: string;
let disk: string | undefined;
beforeAll(async () => {
  root = await tempDir("wopack-moves-during-");
  await mkdir(path.join(root, "disk"));
  if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", path.join(root, "disk")]).status === 0)
    disk = path.join(root, "disk");
});
afterAll(() => {
  if (disk) spawnSync("umount", [disk]);
});

async function filesUnder(dir: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const d of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (d.isFile())
      found.set(path.relative(dir, path.join(d.parentPath, d.name)), await readFile(path.join(d.parentPath, d.name), "utf8"));
  }
  return found;
}

describe.skipIf(spawnSync("id", ["-u"]).stdout.toString().trim() !== "0")("moving a folder to another disk", () => {
  it("(table) a photo added, one changed, during the copy; a FIFO: nothing is lost, what came or changed stays", async () => {
    const table = [
      {
        what: "a photo added beside the first one copied",
        act: (src: string) => writeFileSync(path.join(path.dirname(src), "late.jpg"), "late"),
      },
      { what: "the first photo copied changed after it", act: (src: string) => appendFileSync(src, "+more") },
      { what: "a FIFO in the folder", fifo: true },
    ];
    for (const [i, row] of table.entries()) {
      const from = path.join(root, `staging-${i}`, "WO_1");
      const to = path.join(disk!, `processed-${i}`, "WO_1");
      for (const rel of ["meter/a.jpg", "meter/b.jpg", "cabinet/c.jpg"]) {
        await mkdir(path.dirname(path.join(from, rel)), { recursive: true });
        await writeFile(path.join(from, rel), `photo ${rel}`);
      }
      if (row.fifo) spawnSync("mkfifo", [path.join(from, "meter", "pipe")]);
      during = row.act;
      const left = await moveWhole(from, to);
      during = undefined;
      const [stayed, moved] = [await filesUnder(from), await filesUnder(to)];
      const everywhere = new Map([...moved, ...stayed]);
      for (const rel of ["meter/a.jpg", "meter/b.jpg", "cabinet/c.jpg"])
        expect(everywhere.has(rel), `${row.what}: ${rel}`).toBe(true);
      if (row.what.startsWith("a photo added")) {
        // (listed by the copy or not: moved with the rest, or left in staging and given back)
        expect([...everywhere.entries()].find(([k]) => k.endsWith("late.jpg"))?.[1], row.what).toBe("late");
      }
      if (row.what.startsWith("the first photo copied changed")) {
        const changed = [...stayed.entries()].find(([, v]) => v.endsWith("+more"));
        expect(changed, `${row.what}: the changed photo stays in staging`).toBeDefined();
        expect(left, row.what).toContain(path.join(from, changed![0]));
      }
      if (row.fifo) {
        expect(left, row.what).toEqual([path.join(from, "meter", "pipe")]);
        expect((await stat(path.join(from, "meter", "pipe"))).isFIFO(), row.what).toBe(true);
        expect(stayed.size, row.what).toBe(0);
      }
      for (const l of left ?? [])
        expect(stayed.has(path.relative(from, l)) || l.endsWith("pipe"), `${row.what}: ${l} given back and there`).toBe(true);
    }
  });
});
