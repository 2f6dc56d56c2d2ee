// A photo written from the bytes read for its checks fails its archive when its file changed or went away
// since (SourceChangedError: the work order is left for later, the archive written again without it). The
// writer checks those files in batches (archive/sourceChecks.ts) on the native binding's threads, or by
// node:fs without it: either way, whichever photo of a batch changed, and however it changed, the archive
// is refused and removed, naming that photo.
import { existsSync, mkdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { writeZip } from "../../src/archive/write.js";
import { SourceChangedError } from "../../src/archive/zip.js";
import { nativeStatMany, type StatMany } from "../../src/core/native.js";
import { readZip, tempDir } from "../helpers.js";

const PHOTOS = 150; // (over two batches of 64)

/** Photos read into memory, as the copy path holds them, each in a folder of its own (which can become a file). */
function photos(dir: string) {
  return Array.from({ length: PHOTOS }, (_, i) => {
    const file = path.join(dir, `d${i}`, `p${i}.jpg`);
    const data = Buffer.alloc(1000 + i, i % 251);
    mkdirSync(path.dirname(file));
    writeFileSync(file, data);
    const { size, mtimeMs } = statSync(file);
    return {
      name: `WO_${Math.floor(i / 10)}/p-${i}.jpg`,
      file,
      data,
      store: true,
      crc32: crc32(data),
      size,
      unchangedSince: { size, mtimeMs },
    };
  });
}

const CHANGES: [string, (file: string) => void, boolean][] = [
  ["grown", (f) => writeFileSync(f, Buffer.alloc(5000, 1)), false],
  ["touched", (f) => utimesSync(f, new Date(), new Date(Date.now() + 5000)), false],
  ["removed", (f) => rmSync(f), true],
  [
    "under a file where its folder was",
    (f) => {
      rmSync(path.dirname(f), { recursive: true });
      writeFileSync(path.dirname(f), "x");
    },
    true,
  ],
];

const STATS: [string, StatMany | undefined][] = [["node:fs", undefined]];
const native = nativeStatMany();
if (native) STATS.push(["the native binding", native]);

describe.each(STATS)("the writer's check of photos written from memory, by %s", (_, statMany) => {
  it("writes every photo when none changed", async () => {
    const dir = await tempDir();
    const list = photos(dir);
    const zip = path.join(dir, "a.zip");
    await writeZip(zip, list, undefined, undefined, statMany);
    expect((await readZip(zip)).map((e) => e.name)).toEqual(list.map((p) => p.name));
  });

  for (const at of [0, 63, 64, 100, PHOTOS - 1]) {
    it.each(CHANGES)(`refuses the archive when photo ${at} was %s`, async (_, change, vanished) => {
      const dir = await tempDir();
      // (each photo in a folder of its own: the folder can become a file)
      const list = photos(dir);
      change(list[at]!.file);
      const zip = path.join(dir, "a.zip");
      const err = await writeZip(zip, list, undefined, undefined, statMany).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SourceChangedError);
      expect(err).toMatchObject({ entry: list[at]!.name, file: list[at]!.file, vanished });
      expect(existsSync(zip)).toBe(false);
    });
  }
});
