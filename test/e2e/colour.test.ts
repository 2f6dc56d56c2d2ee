import { existsSync, readdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import exifr from "exifr";
import fc from "fast-check";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { COLOUR_FLOATS, colourTable, convertColours, matrixShaper } from "../../src/convert/colour.js";
import { dateOnlyExif, withExifSegment } from "../../src/convert/exif.js";
import { createHeicDecoder } from "../../src/convert/heicDecoder.js";
import type { HeicDecoder } from "../../src/convert/heicTypes.js";
import { uncompressedTiff } from "../../src/convert/rawTiff.js";
import { builtinIcc, FIXTURES, ROOT } from "../helpers.js";

// The native binding converts HEIC colours with a table from convert/colour.ts (linearise, 3x3 matrix,
// encode). These tests hold that table against lcms, which libvips uses for the general ICC path.

/** The table applied as the wasm decoder's worker applies it (the native binding does the same sums in C). */
function applyTable(table: Float32Array, rgb: Buffer): Buffer {
  const out = Buffer.alloc(rgb.length);
  convertColours(rgb, out, table);
  return out;
}

/** Every 8-bit colour on a grid (both ends included): 64^3 pixels. */
function colourGrid(): Buffer {
  const steps = Array.from({ length: 64 }, (_, i) => Math.round((i * 255) / 63));
  const rgb = Buffer.alloc(64 ** 3 * 3);
  let at = 0;
  for (const r of steps)
    for (const g of steps) for (const b of steps) at = rgb.writeUInt8(b, rgb.writeUInt8(g, rgb.writeUInt8(r, at)));
  return rgb;
}

/** lcms (through libvips) converting the same pixels from `icc` to sRGB: the path the table replaces. */
async function lcms(rgb: Buffer, icc: Buffer): Promise<Buffer> {
  const tiff = uncompressedTiff({ width: 512, height: rgb.length / 3 / 512, channels: 3, data: rgb }, icc);
  return sharp(tiff).toColourspace("srgb").raw().toBuffer();
}

function differences(a: Buffer, b: Buffer): { mean: number; max: number } {
  let [sum, max] = [0, 0];
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / a.length, max };
}

/** A minimal v2 RGB display profile: D50 white, the given colorants, and one tone curve tag for all three. */
function iccProfile(colorants: number[][], curve: Buffer): Buffer {
  const xyz = (v: number[]) => {
    const tag = Buffer.alloc(20);
    tag.write("XYZ ", 0, "latin1");
    v.forEach((x, i) => {
      tag.writeInt32BE(Math.round(x * 65536), 8 + 4 * i);
    });
    return tag;
  };
  const data: [string, Buffer][] = [
    ["wtpt", xyz([0.9642, 1, 0.8249])],
    ["rXYZ", xyz(colorants[0]!)],
    ["gXYZ", xyz(colorants[1]!)],
    ["bXYZ", xyz(colorants[2]!)],
    ["rTRC", curve],
    ["gTRC", curve],
    ["bTRC", curve],
  ];
  const table = Buffer.alloc(4 + 12 * data.length);
  table.writeUInt32BE(data.length, 0);
  const blocks: Buffer[] = [];
  let offset = 128 + table.length;
  data.forEach(([sig, body], i) => {
    table.write(sig, 4 + 12 * i, "latin1");
    table.writeUInt32BE(offset, 8 + 12 * i);
    table.writeUInt32BE(body.length, 12 + 12 * i);
    const padded = Buffer.alloc(Math.ceil(body.length / 4) * 4);
    body.copy(padded);
    blocks.push(padded);
    offset += padded.length;
  });
  const header = Buffer.alloc(128);
  header.writeUInt32BE(offset, 0);
  header.writeUInt32BE(0x02100000, 8);
  header.write("mntrRGB XYZ ", 12, "latin1");
  header.write("acsp", 36, "latin1");
  [0.9642, 1, 0.8249].forEach((x, i) => {
    header.writeInt32BE(Math.round(x * 65536), 68 + 4 * i);
  });
  return Buffer.concat([header, table, ...blocks]);
}

const gammaCurve = (gamma: number) => {
  const tag = Buffer.alloc(14);
  tag.write("curv", 0, "latin1");
  tag.writeUInt32BE(1, 8);
  tag.writeUInt16BE(Math.round(gamma * 256), 12);
  return tag;
};
const tableCurve = (f: (x: number) => number, n: number) => {
  const tag = Buffer.alloc(12 + 2 * n);
  tag.write("curv", 0, "latin1");
  tag.writeUInt32BE(n, 8);
  for (let i = 0; i < n; i++) tag.writeUInt16BE(Math.round(f(i / (n - 1)) * 65535), 12 + 2 * i);
  return tag;
};
const srgbPara = () => {
  const tag = Buffer.alloc(12 + 4 * 5);
  tag.write("para", 0, "latin1");
  tag.writeUInt16BE(3, 8);
  [2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045].forEach((v, i) => {
    tag.writeInt32BE(Math.round(v * 65536), 12 + 4 * i);
  });
  return tag;
};
// Adobe RGB (1998) colorants, adapted to D50
const ADOBE = [
  [0.6097, 0.3111, 0.0195],
  [0.2053, 0.6257, 0.0609],
  [0.1492, 0.0632, 0.7446],
];

describe("HEIC colour conversion tables (convert/colour.ts) against lcms", () => {
  const grid = colourGrid();

  it("Display P3 (libvips' profile, as iPhones tag their photos) to sRGB: within one level, 262,144 colours", async () => {
    const [p3, srgb] = [await builtinIcc("p3"), await builtinIcc("srgb")];
    const table = colourTable(matrixShaper(p3)!, matrixShaper(srgb)!);
    expect(table).toHaveLength(COLOUR_FLOATS);
    const { mean, max } = differences(applyTable(table, grid), await lcms(grid, p3));
    expect(max).toBeLessThanOrEqual(1);
    expect(mean).toBeLessThan(0.02);
    // and it is a conversion: the same pixels read as sRGB would be far off in saturated greens
    expect(differences(grid, await lcms(grid, p3)).max).toBeGreaterThan(40);
  });

  it.each([
    ["a gamma curve (curv with one entry)", gammaCurve(563 / 256)],
    ["a 1024-entry curve table", tableCurve((x) => x ** 1.8, 1024)],
    ["a parametric sRGB-like curve (para type 3)", srgbPara()],
  ])("an Adobe RGB-like profile with %s", async (_, curve) => {
    const icc = iccProfile(ADOBE, curve);
    const table = colourTable(matrixShaper(icc)!, matrixShaper(await builtinIcc("srgb"))!);
    const { mean, max } = differences(applyTable(table, grid), await lcms(grid, icc));
    expect(max).toBeLessThanOrEqual(1);
    expect(mean).toBeLessThan(0.05);
  });

  it("takes only matrix/TRC RGB profiles: not CMYK, not one with lookup tables, not a damaged one", () => {
    const cmyk = iccProfile(ADOBE, srgbPara());
    cmyk.write("CMYK", 16, "latin1");
    expect(matrixShaper(cmyk)).toBeUndefined();
    expect(matrixShaper(iccProfile(ADOBE, srgbPara()))).toBeDefined();
    const withLut = iccProfile(ADOBE, gammaCurve(2.2));
    withLut.write("A2B0", 132 + 4 * 12, "latin1"); // the wtpt tag renamed
    expect(matrixShaper(withLut)).toBeUndefined();
    // whatever the bytes, an answer and never a throw
    const good = iccProfile(ADOBE, srgbPara());
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(200), (at, value, cut) => {
        const bad = Buffer.from(good);
        bad[at] = value;
        matrixShaper(bad);
        matrixShaper(bad.subarray(0, bad.length - cut));
      }),
      { numRuns: 2000 },
    );
  });
});

// The native binding's whole conversion (decode, colours, encode in C) against the general path (decoded
// pixels through libvips, lcms and libvips' JPEG encoder), photo by photo: the same picture.
const nativeBuilt = existsSync(path.join(ROOT, "native/build/Release/wopack_heif.node"));
// The wasm decoder converts the colours on its worker with the same table, and libvips encodes.
// (From dist/, which `npm test` builds first: the wasm decoder's worker is a built file.)
const built = async () => ({
  ...((await import("../../dist/convert/heicDecoder.js")) as typeof import("../../src/convert/heicDecoder.js")),
  ...((await import("../../dist/convert/normalize.js")) as typeof import("../../src/convert/normalize.js")),
});
describe.each([
  { decoder: "native" as const, skip: !nativeBuilt },
  { decoder: "wasm" as const, skip: false },
])("the $decoder decoder's whole HEIC conversion against the general path", ({ decoder, skip }) => {
  const settings = { quality: 90, maxImageSize: 50_000_000, maxPixels: 1e8, stripGps: false, verify: "pixels" as const };
  // (each fixture's whole conversion, kept for the test after the rows that asks slow-12mp's again: 12 MP)
  const converted = new Map<string, Awaited<ReturnType<Awaited<ReturnType<typeof built>>["normalizeImage"]>>>();

  it.skipIf(skip).each(["quad", "quad-p3", "quad-nclx-p3", "quad-iphone", "quad-grid", "quad-odd", "quad-irot90", "slow-12mp"])(
    "%s.heic",
    async (name) => {
      const file = path.join(FIXTURES, `${name}.heic`);
      const bytes = await readFile(file);
      const { createHeicDecoder, normalizeImage } = await built();
      const native = createHeicDecoder(2, undefined, decoder);
      let whole = 0;
      const counted: HeicDecoder = {
        name: native.name,
        decode: (...a) => native.decode(...a),
        convert: async (...a) => {
          const reply = await native.convert!(...a);
          if (reply?.ok) whole++;
          return reply;
        },
        close: () => native.close(),
      };
      const general = { ...counted, convert: undefined };
      const input = { source: `${name}.heic`, file, type: "heic" as const, bytes };
      const fast = await normalizeImage(input, settings, counted);
      expect(whole).toBe(1);
      converted.set(name, fast);
      const slow = await normalizeImage(input, settings, general);
      expect(whole).toBe(1);
      await native.close();
      if ("problem" in fast || "problem" in slow) throw new Error("not converted");
      const [a, b] = await Promise.all([fast.data, slow.data].map((d) => sharp(d).raw().toBuffer({ resolveWithObject: true })));
      expect([a!.info.width, a!.info.height]).toEqual([b!.info.width, b!.info.height]);
      const { mean } = differences(a!.data, b!.data);
      expect(mean).toBeLessThan(1);
      // the EXIF that the general path carries, the fast one carries too (orientation reset, date kept)
      const [ea, eb] = [
        await exifr.parse(fast.data, { pick: ["Orientation", "DateTimeOriginal"] }),
        await exifr.parse(slow.data, { pick: ["Orientation", "DateTimeOriginal"] }),
      ];
      expect(ea?.DateTimeOriginal).toEqual(eb?.DateTimeOriginal);
      expect([undefined, 1, "Horizontal (normal)"]).toContain(ea?.Orientation);
    },
  );

  it.skipIf(skip)(
    "a JPEG over --max-image-size, or --max-dimension, goes the general way (quality and size lowered there)",
    async () => {
      const { createHeicDecoder, normalizeImage } = await built();
      const file = path.join(FIXTURES, "slow-12mp.heic");
      const input = { source: "slow-12mp.heic", file, type: "heic" as const, bytes: await readFile(file) };
      const heic = createHeicDecoder(2, undefined, decoder);
      const whole = converted.get("slow-12mp") ?? (await normalizeImage(input, settings, heic));
      if ("problem" in whole) throw new Error(whole.problem.message);
      expect(whole.conversion).toBe("heic converted to jpeg");
      const smaller = await normalizeImage(input, { ...settings, maxImageSize: Math.floor(whole.data.length / 2) }, heic);
      if ("problem" in smaller) throw new Error(smaller.problem.message);
      expect(smaller.data.length).toBeLessThan(whole.data.length);
      expect(smaller.conversion).toMatch(/to fit/);
      const narrow = await normalizeImage(input, { ...settings, maxDimension: 1000 }, heic);
      if ("problem" in narrow) throw new Error(narrow.problem.message);
      expect(Math.max((await sharp(narrow.data).metadata()).width!, (await sharp(narrow.data).metadata()).height!)).toBe(1000);
      await heic.close();
    },
  );

  it.skipIf(skip)("a photo with alpha goes the general way (flattened on white there)", async () => {
    const file = path.join(FIXTURES, "quad-alpha.heic");
    const { createHeicDecoder } = await built();
    const native = createHeicDecoder(1, undefined, decoder);
    expect(await native.convert!(await readFile(file), 1e8, 90, file, undefined)).toBeUndefined();
    await native.close();
  });
});

it("a date-only EXIF block (for a converted photo whose own EXIF cannot be carried) is read back by exifr", async () => {
  const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#123456" } })
    .jpeg()
    .toBuffer();
  const tagged = withExifSegment(jpeg, dateOnlyExif("2024:03:04 05:06:07"));
  const tags = await exifr.parse(tagged, { pick: ["DateTimeOriginal"], reviveValues: false });
  expect(tags?.DateTimeOriginal).toBe("2024:03:04 05:06:07");
  expect((await sharp(tagged).metadata()).width).toBe(8);
});

describe.skipIf(!nativeBuilt)("the native binding's threads", () => {
  it("converts on threads of its own, never more than the cores, however many photos are asked at once", async () => {
    const file = path.join(FIXTURES, "quad-iphone.heic");
    const bytes = await readFile(file);
    const native = createHeicDecoder(8, undefined, "native");
    const threads = () =>
      readdirSync("/proc/self/task").filter((t) => {
        try {
          return readFileSync(`/proc/self/task/${t}/comm`, "utf8").trim() === "wopack-heif";
        } catch {
          return false; // (a thread that ended meanwhile)
        }
      }).length;
    // one at a time needs one thread; two asked at once get two (a woken thread that has not taken its job
    // yet is not free for the second)
    await native.convert!(bytes, 1e8, 90, file, undefined);
    await Promise.all([1, 2].map(() => native.convert!(bytes, 1e8, 90, file, undefined)));
    expect(threads()).toBeGreaterThanOrEqual(Math.min(2, availableParallelism()));
    const replies = await Promise.all(Array.from({ length: 12 }, () => native.convert!(bytes, 1e8, 90, file, undefined)));
    expect(replies.every((r) => r?.ok)).toBe(true);
    expect(threads()).toBeGreaterThan(0);
    expect(threads()).toBeLessThanOrEqual(availableParallelism());
    await native.close();
  });
});
