// The scan reads a photo's capture date from the bytes it read to sniff its type (the file's first 256 KB,
// all of a small photo), where exifr once opened the file again: every date must be the one that second read
// found. Checked against that old reading on every real camera file at hand (the machine's corpus, when
// present, and the fixtures), and on generated photos whose EXIF sits on either side of the 256 KB mark.
import { existsSync, readdirSync } from "node:fs";
import { open, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import exifr from "exifr";
import fc from "fast-check";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { exifTiffOfItem, heifExifPlace } from "../../src/convert/exif.js";
import { SNIFF_BYTES, sniffImageType } from "../../src/convert/sniff.js";
import { plausibleExifDate, readFileFacts, type ScannedEntry } from "../../src/scan/scan.js";
import { FIXTURES, tempDir } from "../helpers.js";

const CAPTURE_DATE = { pick: ["DateTimeOriginal"], reviveValues: false, firstChunkSize: 256 * 1024 };

/** The capture date as the scan read it before: exifr opening the file itself (a HEIC's Exif item found first). */
async function dateReadAgain(file: string): Promise<string | undefined> {
  const fh = await open(file, "r");
  let source: string | Buffer = file;
  try {
    const head = Buffer.alloc(256 * 1024);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (sniffImageType(head.subarray(0, Math.min(bytesRead, SNIFF_BYTES))) === "heic") {
      const place = heifExifPlace(head.subarray(0, bytesRead));
      if (place && "data" in place) source = exifTiffOfItem(place.data) ?? file;
      else if (place && place.length <= 1 << 20) {
        const payload = Buffer.alloc(place.length);
        const got = await fh.read(payload, 0, place.length, place.offset);
        source = exifTiffOfItem(payload.subarray(0, got.bytesRead)) ?? file;
      }
    }
  } finally {
    await fh.close();
  }
  const tags = await exifr.parse(source, CAPTURE_DATE).catch(() => undefined);
  const value: unknown = tags?.DateTimeOriginal;
  return typeof value === "string" ? plausibleExifDate(value) : undefined;
}

async function scanned(file: string, listedSize?: number): Promise<string | undefined> {
  const size = listedSize ?? (await stat(file)).size;
  const entry: ScannedEntry = { rel: `WO_1/${path.basename(file)}`, abs: file, kind: "file", size, mtimeMs: 0 };
  return (await readFileFacts(entry)).captureDate;
}

function filesUnder(dir: string, ext: RegExp): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && ext.test(d.name))
    .map((d) => path.join(d.parentPath, d.name))
    .sort();
}

describe("the capture date read from the scan's first read", () => {
  it("is the date the second read found, for every real camera file and fixture at hand", async () => {
    const files = [...filesUnder("/work/corpus", /\.(jpe?g|png|heic)$/i), ...filesUnder(FIXTURES, /\.(heic|png|bmp|jpe?g)$/i)];
    let dated = 0;
    for (const file of files) {
      const before = await dateReadAgain(file);
      expect(await scanned(file), file).toBe(before);
      if (before) dated++;
    }
    // (the fixtures' dated HEICs at least: the comparison is not between two empty answers)
    expect(dated).toBeGreaterThan(0);
    console.log(`${files.length} files, ${dated} dated`);
  }, 300_000);

  it("is the same wherever the EXIF sits against the 256 KB read, whatever the listed size", async () => {
    const dir = await tempDir();
    const base = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#468" } })
      .jpeg()
      .withExif({ IFD0: { Make: "wopack" }, IFD2: { DateTimeOriginal: "2024:03:04 05:06:07" } })
      .toBuffer();
    const noExif = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#864" } })
      .jpeg()
      .toBuffer();
    let n = 0;
    let dated = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          exif: fc.boolean(),
          /** padding segments before the EXIF segment, and after it, in bytes */
          before: fc.oneof(fc.integer({ min: 0, max: 300_000 }), fc.integer({ min: 190_000, max: 262_144 })),
          after: fc.integer({ min: 0, max: 300_000 }),
          /** the size listed by the scan, off from the real one (the file changed since) */
          listedOff: fc.oneof(fc.constant(0), fc.integer({ min: -70_000, max: 70_000 })),
        }),
        async ({ exif, before, after, listedOff }) => {
          const photo = exif ? base : noExif;
          // SOI, padding, the encoder's segments (EXIF first among them), padding, the rest
          const file = path.join(dir, `p${n++}.jpg`);
          const bytes = Buffer.concat([photo.subarray(0, 2), padding(before), photo.subarray(2)]);
          const withAfter = insertAfterExif(bytes, padding(after));
          await writeFile(file, withAfter);
          const was = await dateReadAgain(file);
          expect(await scanned(file, Math.max(0, withAfter.length + listedOff))).toBe(was);
          if (was) dated++;
        },
      ),
      { numRuns: 60, seed: 25 },
    );
    expect(dated).toBeGreaterThan(10);
  }, 120_000);

  it("reads a dated PNG's eXIf chunk before or after a large image, as before", async () => {
    const dir = await tempDir();
    const noise = Buffer.alloc(400 * 300 * 3);
    let x = 2463534242;
    for (let i = 0; i < noise.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      noise[i] = x & 0xff;
    }
    const png = await sharp(noise, { raw: { width: 400, height: 300, channels: 3 } })
      .png()
      .withExif({ IFD2: { DateTimeOriginal: "2023:01:02 03:04:05" } })
      .toBuffer();
    expect(png.length).toBeGreaterThan(256 * 1024);
    const variants = { asWritten: png, exifLast: moveChunkToEnd(png, "eXIf") };
    for (const [name, bytes] of Object.entries(variants)) {
      const file = path.join(dir, `${name}.png`);
      await writeFile(file, bytes);
      expect(await scanned(file), name).toBe(await dateReadAgain(file));
    }
    expect(await scanned(path.join(dir, "asWritten.png"))).toBe("2023:01:02 03:04:05");
    expect(await readFile(path.join(dir, "asWritten.png"))).toEqual(png);
  });
});

/** COM segments holding `bytes` bytes in all (each at most 65,533 of data). */
function padding(bytes: number): Buffer {
  const parts: Buffer[] = [];
  for (let left = bytes; left > 4; ) {
    const data = Math.min(65_533, left - 4);
    const seg = Buffer.alloc(4 + data, 0x20);
    seg.writeUInt16BE(0xfffe, 0);
    seg.writeUInt16BE(data + 2, 2);
    parts.push(seg);
    left -= 4 + data;
  }
  return Buffer.concat(parts);
}

/** The JPEG with `extra` put right after its first APP1 segment (or after SOI when it has none). */
function insertAfterExif(jpeg: Buffer, extra: Buffer): Buffer {
  let at = 2;
  while (at + 4 <= jpeg.length && jpeg[at] === 0xff && jpeg[at + 1] !== 0xda) {
    const marker = jpeg[at + 1]!;
    const end = at + 2 + jpeg.readUInt16BE(at + 2);
    if (marker === 0xe1) return Buffer.concat([jpeg.subarray(0, end), extra, jpeg.subarray(end)]);
    at = end;
  }
  return Buffer.concat([jpeg.subarray(0, 2), extra, jpeg.subarray(2)]);
}

/** The PNG with its chunk of `type` moved to just before IEND. */
function moveChunkToEnd(png: Buffer, type: string): Buffer {
  const chunks: Buffer[] = [];
  let moved: Buffer | undefined;
  for (let at = 8; at < png.length; ) {
    const len = png.readUInt32BE(at);
    const chunk = png.subarray(at, at + 12 + len);
    const t = chunk.toString("latin1", 4, 8);
    if (t === type) moved = chunk;
    else if (t === "IEND") chunks.push(...(moved ? [moved] : []), chunk);
    else chunks.push(chunk);
    at += 12 + len;
  }
  if (!moved) throw new Error(`no ${type} chunk`);
  return Buffer.concat([png.subarray(0, 8), ...chunks]);
}
