// Issue 26 item 4: where a re-used photo's earlier picture comes from on the review page, on real zips in
// a real outbox: the earlier archive in the outbox, where its upload moved it, or gone (said in words);
// at most MAX_EARLIER_DECODES decodes a page, each earlier picture decoded once; an archive name that is
// not a plain file name is never looked for.
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { earlierSource, MAX_EARLIER_DECODES } from "../../src/review/earlier.js";
import type { Earlier, EarlierPicture } from "../../src/review/findings.js";
import { execFileP, put, tempDir } from "../helpers.js";

const ARCHIVE = "batch-20261201T000000Z-1.zip";
const PHOTOS = MAX_EARLIER_DECODES + 6;
let dir: string;
let out: string;

beforeAll(async () => {
  dir = await tempDir("wopack-earlier-");
  out = path.join(dir, "out");
  const staging = path.join(dir, "zip");
  for (let i = 1; i <= PHOTOS; i++) {
    const jpeg = sharp({ create: { width: 96, height: 64, channels: 3, background: { r: i * 8, g: 100, b: 200 - i * 4 } } })
      .jpeg()
      .toBuffer();
    await put(staging, `WO_OLD/meter-${i}.jpg`, jpeg);
  }
  await mkdir(out);
  await execFileP("zip", ["-qr", path.join(out, ARCHIVE), "WO_OLD"], { cwd: staging });
});

function source(outbox = out) {
  let calls = 0;
  const earlierOf = earlierSource({
    out: outbox,
    archive: "batch-20261202T000000Z-1.zip",
    sameArchive: async () => {
      calls++;
      return Buffer.from("same archive");
    },
    maxImageSize: 50 * 1024 * 1024,
    maxPixels: 100_000_000,
  });
  return { earlierOf, sameCalls: () => calls };
}

const earlier = (entry: string, archive = ARCHIVE): Earlier => ({
  workOrder: "WO_OLD",
  entry,
  archive,
  distance: 0,
  exact: true,
});
const shown = (p: EarlierPicture) => ("jpeg" in p ? "jpeg" : p.missing);

describe("the earlier picture of a re-used photo", () => {
  it(`decodes at most ${MAX_EARLIER_DECODES} a page, each once, then says why the rest are not shown`, async () => {
    const { earlierOf } = source();
    const got: EarlierPicture[] = [];
    for (let i = 1; i <= PHOTOS; i++) got.push(await earlierOf(earlier(`WO_OLD/meter-${i}.jpg`)));
    expect(got.slice(0, MAX_EARLIER_DECODES).map(shown)).toEqual(Array(MAX_EARLIER_DECODES).fill("jpeg"));
    expect(got.slice(MAX_EARLIER_DECODES).map(shown)).toEqual(
      Array(PHOTOS - MAX_EARLIER_DECODES).fill(`Not shown: a page shows at most ${MAX_EARLIER_DECODES} earlier photos.`),
    );
    // a real thumbnail of the entry, linked to nothing (no review page beside the archive)
    const first = got[0] as { jpeg: Buffer; page?: string };
    expect((await sharp(first.jpeg).metadata()).width).toBe(96);
    expect(first.page).toBeUndefined();
    // the same earlier picture again (another re-used photo of it): the first answer, no decode counted
    expect(shown(await earlierOf(earlier("WO_OLD/meter-1.jpg")))).toBe("jpeg");
    // one in this very archive counts too (its thumbnail again is page size all the same)
    expect(shown(await earlierOf(earlier("WO_OLD/x-1.jpg", "batch-20261202T000000Z-1.zip")))).toBe(
      `Not shown: a page shows at most ${MAX_EARLIER_DECODES} earlier photos.`,
    );
  });

  it("takes the entry's name alone as well as its path, and says when the archive has no such entry", async () => {
    const { earlierOf } = source();
    expect(shown(await earlierOf(earlier("meter-2.jpg")))).toBe("jpeg");
    expect(shown(await earlierOf(earlier("WO_OLD/meter-999.jpg")))).toBe(`${ARCHIVE} has no entry WO_OLD/meter-999.jpg.`);
  });

  it("asks the page's own source for an earlier picture in the same archive", async () => {
    const { earlierOf, sameCalls } = source();
    const same = await earlierOf(earlier("WO_OLD/meter-1.jpg", "batch-20261202T000000Z-1.zip"));
    expect("jpeg" in same && same.jpeg.toString()).toBe("same archive");
    expect(sameCalls()).toBe(1);
  });

  it("never looks for an archive whose name is not a plain file name (a report is someone else's too)", async () => {
    const { earlierOf } = source();
    const names = ["../out/x.zip", "a/b.zip", "..\\x.zip", `/etc/${ARCHIVE}`, "x.zip/..", "notazip"];
    for (const name of names)
      expect(shown(await earlierOf(earlier("WO_OLD/meter-1.jpg", name)))).toBe(
        `${name} is not an archive's name: the earlier photo is not looked for.`,
      );
    expect(shown(await earlierOf(earlier("WO_OLD/meter-1.jpg", "")))).toBe(
      "The earlier photo is not in a committed archive (a dry run).",
    );
  });

  it("follows an archive its upload moved (--uploaded-to), and says so once it is gone from there too", async () => {
    const moved = await tempDir("wopack-earlier-moved-");
    const outbox = path.join(moved, "out");
    const uploaded = path.join(moved, "uploaded");
    await mkdir(path.join(outbox, ".wopack"), { recursive: true });
    await mkdir(uploaded);
    await execFileP("cp", [path.join(out, ARCHIVE), path.join(uploaded, ARCHIVE)]);
    const at = new Date().toISOString();
    await writeFile(
      path.join(outbox, ".wopack", "uploads.jsonl"),
      [
        { type: "uploaded", archive: ARCHIVE, sha256: "00", batchId: "b-1", at },
        { type: "moved", archive: ARCHIVE, to: uploaded, at },
      ]
        .map((r) => JSON.stringify(r))
        .join("\n") + "\n",
    );
    expect(shown(await source(outbox).earlierOf(earlier("WO_OLD/meter-3.jpg")))).toBe("jpeg");
    await rename(path.join(uploaded, ARCHIVE), path.join(moved, "elsewhere.zip"));
    expect(shown(await source(outbox).earlierOf(earlier("WO_OLD/meter-3.jpg")))).toBe(
      `${ARCHIVE} was uploaded and moved to ${uploaded}, and is no longer there.`,
    );
  });
});
