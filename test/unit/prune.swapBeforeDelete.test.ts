// prune sorts a processed folder (what the ledger recorded may go), then deletes: a folder on the way to a
// recorded file that is swapped for a link in between (to a copy made with the same sizes and times) must not
// be deleted through. Every folder depth and both link kinds; the copy behind the link always survives.

import { existsSync } from "node:fs";
import { cp, lstat, mkdir, rename, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { FileStamp } from "../../src/core/types.js";
import { deleteRecorded, sortFolder } from "../../src/run/pruneSources.js";
import { tempDir } from "../helpers.js";

const DEPTHS = [["meter"], ["meter", "close"], ["a", "b", "c"]];

describe("prune: a folder swapped for a link between sorting and deleting", () => {
  it.for(
    DEPTHS.flatMap((d) => d.map((_, level) => [d.join("/"), level, d.length] as const)).flatMap((r) =>
      [true, false].map((rel) => [...r, rel] as const),
    ),
  )(
    "%s, the folder at depth %i of %i swapped (relative link: %s): kept, the copy behind it whole",
    async ([sub, level, _depth, relative]) => {
      const dir = path.join(await tempDir(), "WO_1");
      const rel = `${sub}/p.jpg`;
      const file = path.join(dir, rel);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, "photo bytes");
      const st = await lstat(file);
      const stamps = new Map<string, FileStamp[]>([[rel, [{ rel, size: st.size, mtimeMs: st.mtimeMs }]]]);
      const sorted = await sortFolder(dir, stamps);
      expect(sorted.recorded.map((f) => f.file)).toEqual([file]);
      // the swap: the folder at `level` is moved away, a copy with its times made, and a link to it put in place
      const swapped = path.join(dir, ...sub.split("/").slice(0, level + 1));
      const copy = `${path.dirname(dir)}/copy-${level}`;
      await cp(swapped, copy, { recursive: true, preserveTimestamps: true });
      await rename(swapped, `${swapped}.moved`);
      await symlink(relative ? path.relative(path.dirname(swapped), copy) : copy, swapped);
      const failed = await deleteRecorded(dir, sorted.recorded, true);
      expect(failed.map((f) => f.reason)).toContainEqual(expect.stringMatching(/link/));
      expect(existsSync(path.join(copy, ...sub.split("/").slice(level + 1), "p.jpg")), "the copy behind the link").toBe(true);
    },
  );
});
