// commit/files.ts copyFileWhole (every cross-disk move of an archive or a photo) writes a hidden partial name
// beside the target first: that name must fit where the target's own name fits, up to the file system's
// 255 bytes, or a photo whose name is near that limit could no longer be moved to --move-to on another disk.
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { copyFileWhole, partialName } from "../../src/commit/files.js";
import { tempDir } from "../helpers.js";

describe("copyFileWhole", () => {
  it("copies a file whose name is 255 bytes long, leaving nothing partial", async () => {
    const dir = await tempDir("wopack-copy-whole-");
    const name = `${"p".repeat(251)}.jpg`;
    expect(Buffer.byteLength(name)).toBe(255);
    await writeFile(path.join(dir, "from.jpg"), "photo bytes");
    await copyFileWhole(path.join(dir, "from.jpg"), path.join(dir, name));
    expect(await readFile(path.join(dir, name), "utf8")).toBe("photo bytes");
    expect((await readdir(dir)).sort()).toEqual(["from.jpg", name].sort());
  });

  it("keeps the readable partial name of a short name, and gives a long one a partial name that fits", () => {
    expect(partialName("/d/batch-1.zip")).toBe("/d/.batch-1.zip.partial");
    const long = partialName(`/d/${"é".repeat(127)}.j`);
    expect(path.dirname(long)).toBe("/d");
    expect(Buffer.byteLength(path.basename(long))).toBeLessThanOrEqual(255);
    expect(long).not.toBe(partialName(`/d/${"é".repeat(127)}.k`));
  });
});
