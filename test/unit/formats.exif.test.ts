// Every source format that carries EXIF keeps it through the conversion to JPEG (SPEC §7): TIFF (its own
// IFD0, Exif and GPS directories: libvips reads them as fields, there is no EXIF block to keep), PNG
// (eXIf, or the hex "Raw profile type exif" text chunk ImageMagick writes), WebP, AVIF. Read back with
// exiftool, an independent reader.
import { readFile } from "node:fs/promises";
import zlib from "node:zlib";
import fc from "fast-check";
import sharp, { type Sharp } from "sharp";
import { describe, expect, it } from "vitest";
import type { HeicDecoder } from "../../src/convert/heicTypes.js";
import type { ImageSettings } from "../../src/convert/imageSettings.js";
import { normalizeImage } from "../../src/convert/normalize.js";
import { exifOfTiffFile } from "../../src/convert/sourceExif.js";
import type { ImageType } from "../../src/spec/images.js";
import { exiftoolSession, haveExiftool } from "../exiftool.js";
import { put, tempDir } from "../helpers.js";
import { handTiff, type Tag } from "../tiff-writer.js";

const SETTINGS: ImageSettings = { quality: 90, maxImageSize: 5e6, maxPixels: 1e8, stripGps: false, verify: "pixels" };
const NO_HEIC = { name: "none", decode: () => Promise.reject(new Error("not a HEIC")) } as unknown as HeicDecoder;

const TAGS = {
  Make: "DJI",
  Model: "FC6310",
  DateTimeOriginal: "2021:05:06 07:08:09",
  LensModel: "24mm f/2.8",
};
const WIDTH = 24;
const HEIGHT = 16;

/** A picture that is not uniform, so that turning it shows: red left half, blue right half. */
function halves(): Sharp {
  const raw = Buffer.alloc(WIDTH * HEIGHT * 3);
  for (let y = 0; y < HEIGHT; y++)
    for (let x = 0; x < WIDTH; x++) raw.set(x < WIDTH / 2 ? [220, 20, 20] : [20, 20, 220], (y * WIDTH + x) * 3);
  return sharp(raw, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } });
}

const halvesRgb = () => halves().raw().toBuffer();

/** TAG_ARGS as TIFF tags, for a BigTIFF (exiftool reads BigTIFF but does not write it). */
const BIG_TAGS: Tag[] = [
  { tag: 0x010f, ascii: TAGS.Make },
  { tag: 0x0110, ascii: TAGS.Model },
  { tag: 0x0112, short: [6] },
  {
    tag: 0x8769,
    ifd: [
      { tag: 0x9003, ascii: TAGS.DateTimeOriginal },
      { tag: 0xa434, ascii: TAGS.LensModel },
    ],
  },
  {
    tag: 0x8825,
    ifd: [
      { tag: 1, ascii: "N" },
      {
        tag: 2,
        rational: [
          [48, 1],
          [51, 1],
          [2376, 100],
        ],
      },
      { tag: 3, ascii: "E" },
      {
        tag: 4,
        rational: [
          [2, 1],
          [21, 1],
          [778, 100],
        ],
      },
    ],
  },
];

const exiftoolRun = exiftoolSession();

/** Writes these tags into the file, in place. */
async function exiftool(args: string[], file: string): Promise<void> {
  const run = await exiftoolRun(["-overwrite_original", ...args, file]);
  expect(run.stdout, run.stderr).toMatch(/\b1 image files updated/);
}

const TAG_ARGS = [
  ...Object.entries(TAGS).map(([k, v]) => `-${k}=${v}`),
  "-GPSLatitude=48.8566",
  "-GPSLatitudeRef=N",
  "-GPSLongitude=2.3522",
  "-GPSLongitudeRef=E",
  "-Orientation#=6",
];

/** The EXIF of a JPEG from sharp's withExif (the same tags as TAG_ARGS), for the formats sharp writes it in. */
async function exifTiffBlock(dir: string): Promise<Buffer> {
  const jpeg = await put(dir, "exif-src.jpg", halves().jpeg().toBuffer());
  await exiftool(TAG_ARGS, jpeg);
  const meta = await sharp(jpeg).metadata();
  return meta.exif!.subarray(6);
}

/** A PNG chunk. */
function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** ImageMagick's way: a zTXt "Raw profile type exif" chunk, the block as hex after "\nexif\n  <length>\n". */
function withRawProfile(png: Buffer, tiff: Buffer): Buffer {
  const exif = Buffer.concat([Buffer.from("Exif\0\0", "latin1"), tiff]);
  const hex = exif.toString("hex").replace(/(.{72})/g, "$1\n");
  const text = `\nexif\n${String(exif.length).padStart(8)}\n${hex}\n`;
  const body = Buffer.concat([Buffer.from("Raw profile type exif\0\0", "latin1"), zlib.deflateSync(text)]);
  const iend = png.length - 12;
  return Buffer.concat([png.subarray(0, iend), chunk("zTXt", body), png.subarray(iend)]);
}

/** `upright`: the decoder does not read the orientation (a PNG text chunk): the pixels are kept as stored */
type Source = { name: string; type: ImageType; make: (dir: string) => Promise<string>; upright?: true };

const SOURCES: Source[] = [
  {
    name: "TIFF (little-endian), tags by exiftool",
    type: "tiff",
    make: async (dir) => {
      const file = await put(dir, "a.tif", halves().tiff().toBuffer());
      await exiftool(TAG_ARGS, file);
      return file;
    },
  },
  {
    name: "TIFF (LZW), tags by exiftool",
    type: "tiff",
    make: async (dir) => {
      const file = await put(dir, "lzw.tif", halves().tiff({ compression: "lzw" }).toBuffer());
      await exiftool(TAG_ARGS, file);
      return file;
    },
  },
  {
    name: "TIFF (big-endian), tags by exiftool",
    type: "tiff",
    make: async (dir) => {
      const file = await put(dir, "mm.tif", handTiff({ le: false, width: WIDTH, height: HEIGHT, rgb: await halvesRgb() }));
      await exiftool(TAG_ARGS, file);
      return file;
    },
  },
  ...[true, false].map(
    (le): Source => ({
      name: `BigTIFF (${le ? "little" : "big"}-endian), tags written with it`,
      type: "tiff",
      make: async (dir) =>
        put(dir, "big.tif", handTiff({ big: true, le, width: WIDTH, height: HEIGHT, rgb: await halvesRgb(), tags: BIG_TAGS })),
    }),
  ),
  {
    name: "PNG eXIf chunk",
    type: "png",
    make: async (dir) => {
      const file = await put(dir, "a.png", halves().png().toBuffer());
      await exiftool(TAG_ARGS, file);
      return file;
    },
  },
  {
    name: "PNG zTXt raw profile (ImageMagick)",
    type: "png",
    upright: true,
    make: async (dir) => put(dir, "raw.png", withRawProfile(await halves().png().toBuffer(), await exifTiffBlock(dir))),
  },
  {
    name: "WebP",
    type: "webp",
    make: async (dir) =>
      put(dir, "a.webp", halves().webp({ lossless: true }).toBuffer()).then(async (file) => {
        await exiftool(TAG_ARGS, file);
        return file;
      }),
  },
  {
    name: "AVIF",
    type: "avif",
    make: async (dir) => {
      const jpeg = await put(dir, "avif-src.jpg", halves().jpeg().toBuffer());
      await exiftool(TAG_ARGS, jpeg);
      return put(dir, "a.avif", sharp(jpeg).keepExif().avif().toBuffer());
    },
  },
];

async function exifOf(file: string): Promise<Record<string, unknown>> {
  return JSON.parse((await exiftoolRun(["-j", "-n", "-EXIF:all", file])).stdout)[0];
}

describe.skipIf(!haveExiftool)("EXIF carried over from every source format (§7)", () => {
  it.for(
    SOURCES.flatMap((s) => [
      { ...s, stripGps: false },
      { ...s, stripGps: true },
    ]),
  )(
    "$name (strip-gps: $stripGps): make, model, date, lens kept; orientation applied and reset",
    async ({ type, make, stripGps, upright }) => {
      const dir = await tempDir("wopack-exif-formats-");
      const file = await make(dir);
      const bytes = await readFile(file);
      const source = await exifOf(file);
      expect(source.Make, "the source carries the tags").toBe(TAGS.Make);
      // a PNG is only converted when something asks for it: a --max-dimension below its size does
      const settings = { ...SETTINGS, stripGps, ...(type === "png" ? { maxDimension: WIDTH - 1 } : {}) };
      const out = await normalizeImage({ source: "src", file, type, bytes }, settings, NO_HEIC);
      if ("problem" in out) throw new Error(out.problem.message);
      expect(out.ext).toBe("jpg");
      const packed = await put(dir, "out.jpg", out.data);
      const exif = await exifOf(packed);
      for (const [k, v] of Object.entries(TAGS)) expect(String(exif[k]), k).toBe(v);
      expect(exif.Orientation ?? 1).toBe(1);
      if (stripGps) expect(Object.keys(exif).filter((k) => k.startsWith("GPS"))).toEqual([]);
      else expect(Number(exif.GPSLatitude)).toBeCloseTo(48.8566, 3);
      // orientation 6 applied: the red half (on the left as stored) is now on top
      const { data, info } = await sharp(out.data).raw().toBuffer({ resolveWithObject: true });
      const long = type === "png" ? WIDTH - 1 : WIDTH;
      const short = Math.round((HEIGHT * long) / WIDTH);
      expect([info.width, info.height]).toEqual(upright ? [long, short] : [short, long]);
      const last = (info.width * info.height - 1) * 3;
      expect([data[0]! > 150, data[2]! < 100, data[last]! < 100, data[last + 2]! > 150], "red first, blue last").toEqual([
        true,
        true,
        true,
        true,
      ]);
    },
  );
});

describe("EXIF read from a TIFF file, damaged (§7)", () => {
  it("a maker note that would not fit a JPEG's EXIF segment is left out; the rest is kept", () => {
    const makerNote: Tag = { tag: 0x927c, long: Array.from({ length: 17_000 }, (_, i) => i) }; // 68 KB
    const tags = BIG_TAGS.map((t) => (t.tag === 0x8769 && "ifd" in t ? { ...t, ifd: [...t.ifd, makerNote] } : t));
    const block = exifOfTiffFile(handTiff({ width: 4, height: 2, rgb: Buffer.alloc(24, 9), tags }))!;
    expect(block.length).toBeLessThan(2000);
    expect(block.includes(Buffer.from(TAGS.LensModel))).toBe(true);
    expect(block.includes(Buffer.from(TAGS.Make))).toBe(true);
    const small = exifOfTiffFile(handTiff({ width: 4, height: 2, rgb: Buffer.alloc(24, 9), tags: BIG_TAGS }))!;
    expect(block.length).toBe(small.length);
  });

  it("never throws, and what it returns is a TIFF block that fits a JPEG (property)", async () => {
    const tiff = handTiff({ width: 4, height: 2, rgb: Buffer.alloc(24, 9), tags: BIG_TAGS });
    const big = handTiff({ big: true, le: false, width: 4, height: 2, rgb: Buffer.alloc(24, 9), tags: BIG_TAGS });
    for (const file of [tiff, big]) expect(exifOfTiffFile(file)?.subarray(0, 2).toString()).toMatch(/II|MM/);
    fc.assert(
      fc.property(
        fc.constantFrom(tiff, big),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        (file, flips) => {
          const damaged = Buffer.from(file);
          for (const [at, value] of flips) damaged[at % damaged.length] = value;
          const block = exifOfTiffFile(damaged);
          if (block) {
            expect(["II*\0", "MM\0*"]).toContain(block.subarray(0, 4).toString("latin1"));
            expect(block.length).toBeLessThanOrEqual(65527);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe.skipIf(!haveExiftool)("--strip-gps on a JPEG or PNG that could be copied as it is (§7)", () => {
  // whatever part of a location a camera or an editor wrote: each alone is still location data
  const LOCATIONS: [string, string[]][] = [
    ["latitude and longitude", ["-GPSLatitude=48.8566", "-GPSLatitudeRef=N", "-GPSLongitude=2.3522", "-GPSLongitudeRef=E"]],
    ["a latitude alone", ["-GPSLatitude=48.8566", "-GPSLatitudeRef=N"]],
    ["a longitude alone", ["-GPSLongitude=2.3522", "-GPSLongitudeRef=E"]],
    ["an altitude alone", ["-GPSAltitude=120"]],
    ["a destination", ["-GPSDestLatitude=48.8566", "-GPSDestLongitude=2.3522"]],
    ["an area's name", ["-GPSAreaInformation=Rue de Rivoli, Paris"]],
    ["a latitude in XMP", ["-XMP-exif:GPSLatitude=48.8566"]],
  ];
  it.for(LOCATIONS.flatMap(([what, args]) => (["jpeg", "png"] as const).map((type) => ({ what, args, type }))))(
    "$type with $what: packed without it",
    async ({ args, type }) => {
      const dir = await tempDir("wopack-strip-gps-");
      const file = await put(dir, `a.${type === "jpeg" ? "jpg" : "png"}`, await halves()[type]().toBuffer());
      await exiftool(["-Make=DJI", ...args], file);
      const given = JSON.parse((await exiftoolRun(["-j", "-G", "-GPS:all", "-XMP:all", file])).stdout)[0];
      expect(
        Object.keys(given).some((k) => /GPS/.test(k)),
        "the source has it",
      ).toBe(true);
      const out = await normalizeImage(
        { source: "src", file, type, bytes: await readFile(file) },
        { ...SETTINGS, stripGps: true },
        NO_HEIC,
      );
      if ("problem" in out) throw new Error(out.problem.message);
      const packed = await put(dir, `out.${out.ext}`, out.data);
      const left = JSON.parse((await exiftoolRun(["-j", "-G", "-GPS:all", "-XMP:all", packed])).stdout)[0];
      expect(Object.keys(left).filter((k) => /GPS/.test(k))).toEqual([]);
    },
  );

  it("a GPS directory holding only its version (no fix) is no location: the JPEG is still copied as it is", async () => {
    const dir = await tempDir("wopack-strip-gps-");
    const file = await put(dir, "a.jpg", await halves().jpeg().toBuffer());
    await exiftool(["-GPSVersionID=2.3.0.0"], file);
    const bytes = await readFile(file);
    const out = await normalizeImage({ source: "src", file, type: "jpeg", bytes }, { ...SETTINGS, stripGps: true }, NO_HEIC);
    if ("problem" in out) throw new Error(out.problem.message);
    expect(out.data.equals(bytes)).toBe(true);
  });
});
