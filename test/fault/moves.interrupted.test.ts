// A move out of staging cut short (kill -9 while --move-to copies a work order to another file system)
// and finished by the next run's recovery: every packed photo ends up whole in the target, nothing is
// left in staging (no empty folder that waits "pending" for ever, no photo packed again as a new
// submission), and a file the cut copy left short in the target is written again, never kept.
import { spawnSync } from "node:child_process";
import { mkdir, readFile, stat, truncate, writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { moveItem } from "../../src/commit/moves.js";
import type { FileStamp, MoveItem } from "../../src/core/types.js";
import { snapshot, tempDir } from "../helpers.js";

const FILES = [
  "a.jpg",
  "meter/b.jpg",
  "meter/deeper/c.jpg",
  "cabinet/d.png",
  "metadata.json",
  "parameters.json",
  ".DS_Store",
  ".ready",
];
const isJunk = (f: string) => path.basename(f).startsWith(".");

let root: string;
let otherDisk: string | undefined;
beforeAll(async () => {
  root = await tempDir("wopack-moves-cut-");
  const disk = path.join(root, "other-disk");
  await mkdir(disk);
  if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", disk]).status === 0) otherDisk = disk;
});
afterAll(() => {
  if (otherDisk) spawnSync("umount", [otherDisk]);
});

async function stampOf(folder: string, rel: string): Promise<FileStamp> {
  const st = await stat(path.join(folder, rel));
  return { rel, size: st.size, mtimeMs: st.mtimeMs };
}

describe("finishing a move that was cut short", () => {
  for (const where of ["the same file system", "another file system"] as const) {
    it(`to ${where}: the target gets every file whole, staging keeps nothing but what came after packing`, async (ctx) => {
      if (where === "another file system" && !otherDisk) return ctx.skip();
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(fc.constantFrom(...FILES), { minLength: 1, maxLength: FILES.length }),
          // what the cut copy had written of each file: nothing, part of it, or all of it
          fc.array(fc.constantFrom("none", "short", "whole"), { minLength: FILES.length, maxLength: FILES.length }),
          fc.boolean(), // a photo added to the folder after it was packed
          async (files, copied, added) => {
            const dir = path.join(root, `${where === "another file system" ? "x" : "s"}${run++}`);
            const from = path.join(dir, "staging", "WO_1");
            const to = path.join(where === "another file system" ? otherDisk! : dir, `r${run}`, "processed", "WO_1");
            for (const f of files) {
              await mkdir(path.dirname(path.join(from, f)), { recursive: true });
              await writeFile(path.join(from, f), `the bytes of ${f} `.repeat(200));
            }
            const packed = await Promise.all(files.filter((f) => !isJunk(f)).map((f) => stampOf(from, f)));
            const alongside = await Promise.all(files.filter(isJunk).map((f) => stampOf(from, f)));
            const item: MoveItem = { from, to, packed, alongside };
            const before = await snapshot(from);
            // the interrupted copy: the target folder made, some files in it, some cut short
            await mkdir(to, { recursive: true });
            for (const [i, f] of files.entries()) {
              if (copied[i] === "none") continue;
              await mkdir(path.dirname(path.join(to, f)), { recursive: true });
              await writeFile(path.join(to, f), await readFile(path.join(from, f)));
              if (copied[i] === "short") await truncate(path.join(to, f), 7);
            }
            if (added) {
              await mkdir(path.join(from, "meter"), { recursive: true });
              await writeFile(path.join(from, "meter", "late.jpg"), "came after");
            }

            const left = await moveItem(item);
            const target = await snapshot(to);
            const content = (s: Record<string, string>, rel: string) => s[rel]?.split("@")[0];
            // every packed file is whole in the target
            for (const p of packed) expect(content(target, p.rel), `${p.rel} whole in the target`).toBe(content(before, p.rel));
            const rest = await snapshot(from).catch((): Record<string, string> => ({}));
            if (!added) {
              // nothing stays: no file, no empty folder; the junk and marker went with the photos
              expect(rest, "staging keeps nothing").toEqual({});
              expect(left).toEqual([]);
              for (const j of alongside) expect(content(target, j.rel)).toBe(content(before, j.rel));
            } else {
              expect(left).toEqual([path.join(from, "meter", "late.jpg")]);
              expect(
                Object.keys(rest).filter((r) => !r.endsWith("/") && !isJunk(r) && !/^(metadata|parameters)\.json$/.test(r)),
              ).toEqual(["meter/late.jpg"]);
            }
            // and recovery may run again: nothing changes
            expect(await moveItem(item)).toEqual(left);
            expect(await snapshot(to)).toEqual(target);
          },
        ),
        { numRuns: 40 },
      );
    });
  }
});
