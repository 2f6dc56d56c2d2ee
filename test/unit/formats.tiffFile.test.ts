// A TIFF is converted from its open file (prepare does not read a 40-130 MB scan whole: libvips reads it
// from its path, wopack reads its directories where they are, src/convert/tiffFile.ts FileBytes). Every
// verdict must be the one its bytes in memory give: the same JPEG, or the same refusal.
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import exifr from "exifr";
import fc from "fast-check";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HeicDecoder } from "../../src/convert/heicTypes.js";
import type { ImageSettings } from "../../src/convert/imageSettings.js";
import { normalizeImage } from "../../src/convert/normalize.js";
import { exifOfTiffFile } from "../../src/convert/sourceExif.js";
import { FileBytes, tiffLayout } from "../../src/convert/tiffFile.js";
import { plausibleExifDate, readFileFacts } from "../../src/scan/scan.js";
import { handTiff, type Tag } from "../tiff-writer.js";

const SETTINGS: ImageSettings = { quality: 90, maxImageSize: 5e6, maxPixels: 1e8, stripGps: false, verify: "pixels" };
const NO_HEIC = { name: "none", decode: () => Promise.reject(new Error("not a HEIC")) } as unknown as HeicDecoder;
const [W, H] = [96, 64];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "wopack-tifffile-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function busy(seed = 0): Buffer {
  const raw = Buffer.alloc(W * H * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (Math.imul(i + seed, 2654435761) >>> 24) & 255;
  return raw;
}
const image = (seed = 0) => sharp(busy(seed), { raw: { width: W, height: H, channels: 3 } });

const EXIF_TAGS: Tag[] = [
  { tag: 0x010f, ascii: "DJI" },
  { tag: 0x0110, ascii: "FC6310" },
  { tag: 0x0112, short: [6] },
  { tag: 0x8769, ifd: [{ tag: 0x9003, ascii: "2026:12:05 10:00:00" }] },
  { tag: 0x8825, ifd: [{ tag: 0x0001, ascii: "N" }] },
];

/** TIFF variants: libvips' own, hand-written ones (BigTIFF, big-endian, EXIF, old-style JPEG, camera raw). */
async function variants(): Promise<[string, Buffer][]> {
  const jpeg = await image(3).jpeg({ quality: 95 }).toBuffer();
  const oldJpeg = (interchange: boolean) =>
    handTiff({
      width: W,
      height: H,
      rgb: jpeg,
      tags: [
        { tag: 259, short: [6] },
        { tag: 262, short: [6] },
        { tag: 279, long: [jpeg.length] },
        ...(interchange ? [{ tag: 513, long: [8] } as Tag, { tag: 514, long: [jpeg.length] } as Tag] : []),
      ],
    });
  const lzw = await image(1).tiff({ compression: "lzw" }).toBuffer();
  return [
    ["LZW", lzw],
    ["uncompressed", await image(2).tiff({ compression: "none" }).toBuffer()],
    ["deflate, tiled", await image(4).tiff({ compression: "deflate", tile: true, tileWidth: 16, tileHeight: 16 }).toBuffer()],
    ["JPEG-compressed", await image(5).tiff({ compression: "jpeg" }).toBuffer()],
    [
      "with alpha",
      await sharp(busy(6).subarray(0, (W / 2) * (H / 2) * 4), { raw: { width: W / 2, height: H / 2, channels: 4 } })
        .tiff()
        .toBuffer(),
    ],
    [
      "two pages",
      await sharp(Buffer.concat([busy(7), busy(8)]), { raw: { width: W, height: H * 2, channels: 3, pageHeight: H } })
        .tiff({ compression: "lzw" })
        .toBuffer(),
    ],
    ["hand-written, EXIF", handTiff({ width: W, height: H, rgb: busy(9), tags: EXIF_TAGS })],
    ["BigTIFF, big-endian, EXIF", handTiff({ big: true, le: false, width: W, height: H, rgb: busy(10), tags: EXIF_TAGS })],
    ["old-style JPEG", oldJpeg(true)],
    ["old-style JPEG without its stream", oldJpeg(false)],
    ["camera raw (DNGVersion)", handTiff({ width: W, height: H, rgb: busy(11), tags: [{ tag: 50706, short: [1, 4, 0, 0] }] })],
    ["cut short", lzw.subarray(0, lzw.length >> 1)],
    ["trailing bytes", Buffer.concat([lzw, Buffer.from("trailing")])],
    ["header only", lzw.subarray(0, 8)],
  ];
}

let files = 0;
/** The conversion from the bytes in memory and from the open file: the JPEG, or the refusal. */
async function bothWays(tiff: Buffer, settings = SETTINGS) {
  const file = path.join(dir, `t${files++}.tif`);
  await writeFile(file, tiff);
  // (sharp says "Input buffer ..." or "Input file ...": the one difference allowed)
  const verdict = (n: Awaited<ReturnType<typeof normalizeImage>>) =>
    "problem" in n
      ? { code: n.problem.code, message: n.problem.message.replace(/Input (buffer|file)/, "Input"), hint: n.problem.hint }
      : { data: n.data.toString("base64"), conversion: n.conversion, warnings: n.warnings.map((w) => `${w.code}: ${w.message}`) };
  const input = { source: "WO_1/scan.tif", file, type: "tiff" as const, captureDate: "2026-12-05T10:00:00" };
  const inMemory = verdict(await normalizeImage({ ...input, bytes: tiff }, settings, NO_HEIC));
  const fh = await open(file, "r");
  try {
    const fromFile = verdict(await normalizeImage({ ...input, bytes: new FileBytes(fh.fd, tiff.length) }, settings, NO_HEIC));
    return { inMemory, fromFile };
  } finally {
    await fh.close();
  }
}

describe("a TIFF converted from its open file", () => {
  it("every variant: the same JPEG or the same refusal as from its bytes in memory", async () => {
    const [seen, warned] = [new Set<string>(), new Set<string>()];
    for (const [name, tiff] of await variants()) {
      for (const settings of [SETTINGS, { ...SETTINGS, stripGps: true, maxDimension: 40 }]) {
        const { inMemory, fromFile } = await bothWays(tiff, settings);
        expect(fromFile, name).toEqual(inMemory);
        seen.add("code" in inMemory ? String(inMemory.code) : "converted");
        for (const w of "warnings" in inMemory ? (inMemory.warnings ?? []) : []) warned.add(w.split(":")[0]!);
      }
    }
    // (the table reaches refusals as well as conversions)
    expect(seen.has("converted")).toBe(true);
    expect(seen.size).toBeGreaterThan(2);
    expect(warned.has("W_FIRST_PAGE_ONLY"), "a warning among the verdicts").toBe(true);
  });

  it("cut anywhere, or a byte changed anywhere: the same verdict (property)", async () => {
    const tiff = handTiff({ width: 24, height: 16, rgb: busy(12).subarray(0, 24 * 16 * 3), tags: EXIF_TAGS });
    await fc.assert(
      fc.asyncProperty(
        // (from its 8-byte header on: a shorter file is not sniffed as a TIFF)
        fc.integer({ min: 8, max: tiff.length }),
        fc.option(fc.tuple(fc.integer({ min: 0, max: tiff.length - 1 }), fc.integer({ min: 0, max: 255 })), { nil: undefined }),
        async (cut, poke) => {
          const damaged = Buffer.from(tiff.subarray(0, cut));
          if (poke && poke[0] < damaged.length) damaged[poke[0]] = poke[1];
          const { inMemory, fromFile } = await bothWays(damaged);
          expect(fromFile).toEqual(inMemory);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("its directories read where they are: the layout and EXIF block its bytes give, pages of the file read, not all of it", async () => {
    const big = Buffer.concat([
      handTiff({ width: W, height: H, rgb: busy(13), tags: EXIF_TAGS }),
      Buffer.alloc(3 << 20, 7), // (after the picture: never read)
    ]);
    const file = path.join(dir, "big.tif");
    await writeFile(file, big);
    const fh = await open(file, "r");
    try {
      const view = new FileBytes(fh.fd, big.length);
      expect(tiffLayout(view)).toEqual(tiffLayout(big));
      expect(exifOfTiffFile(view)).toEqual(exifOfTiffFile(big));
      expect(() => view.readUInt32LE(big.length - 2)).toThrow(RangeError);
      expect(view.subarray(big.length - 4, big.length + 10)).toEqual(big.subarray(big.length - 4));
    } finally {
      await fh.close();
    }
  });

  it("reads what a Buffer reads, anywhere in the file, across its 64 KB pages and past its end (property)", async () => {
    const bytes = Buffer.alloc(200_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.imul(i, 2654435761) >>> 24;
    const file = path.join(dir, "pages.bin");
    await writeFile(file, bytes);
    const fh = await open(file, "r");
    const outcome = (f: () => unknown) => {
      try {
        return { value: f() };
      } catch (err) {
        return { error: (err as Error).constructor.name };
      }
    };
    try {
      const view = new FileBytes(fh.fd, bytes.length);
      const reads = [
        "readUInt8",
        "readUInt16LE",
        "readUInt16BE",
        "readUInt32LE",
        "readUInt32BE",
        "readBigUInt64LE",
        "readBigUInt64BE",
      ] as const;
      fc.assert(
        fc.property(
          fc.oneof(
            fc.integer({ min: 0, max: bytes.length + 9 }),
            fc.integer({ min: -9, max: 9 }).map((d) => 65_536 + d),
            fc.integer({ min: -9, max: 9 }).map((d) => 131_072 + d),
            fc.integer({ min: -9, max: 9 }).map((d) => bytes.length + d),
          ),
          fc.oneof(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 0, max: 140_000 })),
          fc.constantFrom(...reads),
          (at, n, read) => {
            expect(
              outcome(() => view[read](at)),
              `${read}(${at})`,
            ).toEqual(outcome(() => bytes[read](at)));
            expect(view.subarray(at, at + n).equals(bytes.subarray(at, at + n)), `subarray(${at}, ${at + n})`).toBe(true);
          },
        ),
        { numRuns: 500 },
      );
    } finally {
      await fh.close();
    }
  });

  it("the capture date the scan reads from a TIFF's directories is the one exifr finds reading the file", async () => {
    const date = (d: string): Tag => ({ tag: 0x9003, ascii: d });
    const exifIfd = (...tags: Tag[]): Tag => ({ tag: 0x8769, ifd: tags });
    const makerNote: Tag = { tag: 0x927c, ascii: "x".repeat(70_000) };
    const userComment: Tag = { tag: 0x9286, ascii: "c".repeat(70_000) };
    const rgb = busy(14);
    const table: [string, Buffer][] = [
      ["EXIF date", handTiff({ width: W, height: H, rgb, tags: EXIF_TAGS })],
      ["big-endian", handTiff({ le: false, width: W, height: H, rgb, tags: [exifIfd(date("2025:01:02 03:04:05"))] })],
      ["BigTIFF", handTiff({ big: true, width: W, height: H, rgb, tags: [exifIfd(date("2025:01:02 03:04:05"))] })],
      ["date in IFD0 only", handTiff({ width: W, height: H, rgb, tags: [date("2024:05:06 07:08:09")] })],
      ["no EXIF", await image(15).tiff({ compression: "lzw" }).toBuffer()],
      [
        "maker note too large for a block (dropped from it)",
        handTiff({ width: W, height: H, rgb, tags: [exifIfd(date("2023:01:01 00:00:00"), makerNote)] }),
      ],
      [
        "EXIF too large for a block (the file read)",
        handTiff({ width: W, height: H, rgb, tags: [exifIfd(date("2022:02:02 02:02:02"), userComment)] }),
      ],
      [
        "no clock",
        handTiff({ width: W, height: H, rgb, tags: [{ tag: 0x010f, ascii: "x" }, exifIfd(date("0000:00:00 00:00:00"))] }),
      ],
      ["descriptive tags, no EXIF directory", handTiff({ width: W, height: H, rgb, tags: [{ tag: 0x010f, ascii: "Epson" }] })],
    ];
    const options = { pick: ["DateTimeOriginal"], reviveValues: false, firstChunkSize: 256 * 1024 };
    const dated = new Set<string>();
    for (const [name, tiff] of table) {
      for (const cut of [tiff.length, tiff.length - 30, 200]) {
        const file = path.join(dir, `dated${files++}.tif`);
        await writeFile(file, tiff.subarray(0, cut));
        const byExifr = await exifr.parse(file, options).then(
          (t) => (typeof t?.DateTimeOriginal === "string" ? plausibleExifDate(t.DateTimeOriginal) : undefined),
          () => undefined,
        );
        const facts = await readFileFacts({ rel: "WO_1/a.tif", abs: file, kind: "file", size: cut, mtimeMs: 0 });
        expect(facts.captureDate, `${name}, ${cut} bytes`).toBe(byExifr);
        if (byExifr) dated.add(name);
      }
    }
    expect([...dated].sort()).toEqual(
      [
        "EXIF date",
        "big-endian",
        "maker note too large for a block (dropped from it)",
        "EXIF too large for a block (the file read)",
      ].sort(),
    );
  });
});
