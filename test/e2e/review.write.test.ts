// The review page as written to disk: the very text the renderer streams, gathered into a few large writes
// (one a photo cost ~0.2 s at the end of a 1,000-photo pack), renamed into place only when whole.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type Review, renderReview, type ThumbSource } from "../../src/review/render.js";
import { writeReview } from "../../src/review/writeReview.js";
import { tempDir } from "../helpers.js";

function review(photos: number): Review {
  return {
    archive: "batch-20261206T000000Z-1.zip",
    sha256: "ab".repeat(32),
    bytes: 123_456_789,
    workOrders: [
      {
        id: "WO_1",
        photos: Array.from({ length: photos }, (_, i) => ({
          entry: `WO_1/meter-${i}.jpg`,
          bytes: 1000 + i,
          width: 1024,
          height: 768,
        })),
        warnings: [],
      },
    ],
    refused: [],
    warnings: [],
    fields: {},
    generator: "wopack test",
  };
}

// a distinct "thumbnail" a photo (so that a chunk written twice or dropped shows), 60 KB: a page of megabytes
const thumbOf: ThumbSource = async (photo) => ({ jpeg: Buffer.alloc(60_000, photo.entry) });

async function rendered(r: Review): Promise<string> {
  let text = "";
  for await (const chunk of renderReview(r, thumbOf)) text += chunk;
  return text;
}

describe("writing a review page", () => {
  for (const photos of [0, 1, 17, 40, 120])
    it(`writes exactly the rendered page (${photos} photos), whatever its size against the writes' size`, async () => {
      const dir = await tempDir("wopack-review-write-");
      const file = path.join(dir, "page.html");
      await writeReview(file, review(photos), thumbOf, dir);
      const written = await readFile(file, "utf8");
      expect(written.length).toBe((await rendered(review(photos))).length);
      expect(written === (await rendered(review(photos)))).toBe(true);
      expect(await readdir(dir)).toEqual(["page.html"]);
    });

  it("leaves neither the page nor its partial file when rendering fails after the first writes", async () => {
    const dir = await tempDir("wopack-review-write-");
    const file = path.join(dir, "page.html");
    const failing: ThumbSource = async (photo) => {
      if (photo.entry === "WO_1/meter-100.jpg") throw new Error("thumbnail gone");
      return thumbOf(photo, "WO_1");
    };
    await expect(writeReview(file, review(120), failing, dir)).rejects.toThrow("thumbnail gone");
    expect(await readdir(dir)).toEqual([]);
  });
});
