// BMP as Windows and OS/2 wrote it (SPEC §7), judged against BMP Suite's own reference renders: every
// header kind decoded, damage refused with the decoder's words, pixels the file leaves undefined warned
// about, the variants nobody decodes refused with a code that names them.
import { readFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import type { HeicDecoder } from "../../src/convert/heicTypes.js";
import type { ImageSettings } from "../../src/convert/imageSettings.js";
import { normalizeImage } from "../../src/convert/normalize.js";
import { FIXTURES } from "../helpers.js";

const DIR = path.join(FIXTURES, "bmpsuite");
const SETTINGS: ImageSettings = { quality: 90, maxImageSize: 5e6, maxPixels: 1e8, stripGps: false, verify: "pixels" };
const NO_HEIC = { name: "none", decode: () => Promise.reject(new Error("not a HEIC")) } as unknown as HeicDecoder;

async function convert(bytes: Buffer, source = "a.bmp") {
  return normalizeImage({ source, file: source, type: "bmp", bytes }, SETTINGS, NO_HEIC);
}

/** Mean absolute difference per channel, both pictures shrunk 4x (JPEG's loss on dithering is no difference). */
async function difference(jpeg: Buffer, ref: Buffer): Promise<number> {
  const meta = await sharp(ref).metadata();
  const small = { width: meta.width >> 2, height: meta.height >> 2, fit: "fill", kernel: "linear" } as const;
  const a = await sharp(jpeg).resize(small).removeAlpha().raw().toBuffer();
  const b = await sharp(ref).flatten({ background: "#fff" }).resize(small).removeAlpha().raw().toBuffer();
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

const GOOD: [file: string, ref: string, what: string][] = [
  ["pal1bg", "pal1bg", "1-bit palette, coloured"],
  ["pal4", "pal4", "4-bit palette"],
  ["pal4rle", "pal4", "RLE4"],
  ["pal8rle", "pal8", "RLE8"],
  ["pal8topdown", "pal8", "stored top row first"],
  ["pal8os2", "pal8", "OS/2 1.x core header (16-bit sizes, 3-byte palette)"],
  ["pal8os2sp", "pal8", "OS/2 1.x header, a short palette"],
  ["pal8os2v2", "pal8", "OS/2 2.x 64-byte header"],
  ["pal8os2v2-16", "pal8", "OS/2 2.x 16-byte header"],
  ["rgb16-565", "rgb16-565", "16-bit 5-6-5 bit fields"],
  ["rgb24", "rgb24", "24-bit"],
  ["rgb32bf", "rgb24", "32-bit bit fields"],
  ["rgb32fakealpha", "rgb24", "32-bit with its unused byte set: not alpha"],
  ["rgba32-1010102", "rgba32-1010102", "10-bit channels with 2-bit alpha"],
  ["rgb24png", "rgb24", "a PNG inside"],
];

describe("BMP decoding against BMP Suite's reference renders (§7)", () => {
  it.for(GOOD)("%s (%s ref, %s): converted, the picture the reference shows", async ([file, ref]) => {
    const out = await convert(await readFile(path.join(DIR, `${file}.bmp`)));
    if ("problem" in out) throw new Error(out.problem.message);
    expect(out.warnings).toEqual([]);
    expect(await difference(out.data, await readFile(path.join(DIR, `${ref}.ref.png`)))).toBeLessThan(6);
  });

  it("RLE that skips pixels (delta codes, an early end of bitmap): converted, white there, with a warning", async () => {
    const out = await convert(await readFile(path.join(DIR, "pal8rlecut.bmp")));
    if ("problem" in out) throw new Error(out.problem.message);
    expect(out.warnings.map((w) => w.code)).toEqual(["W_IMAGE_PIXELS_UNDEFINED"]);
    expect(out.warnings[0]!.message).toMatch(/^a\.bmp: the file leaves \d+ of its 8128 pixels undefined/);
  });

  it.for([
    ["pal8badindex", "E_IMAGE_DAMAGED", /uses colour 103, which its palette of 101 does not have/],
    ["shortfile", "E_IMAGE_DAMAGED", /pixel data is cut short/],
    ["badrle", "E_IMAGE_DAMAGED", /a run goes past the end of row/],
  ] as const)("%s: refused with %s, in the decoder's words", async ([file, code, words]) => {
    const out = await convert(await readFile(path.join(DIR, `${file}.bmp`)));
    expect("problem" in out && out.problem.code).toBe(code);
    if ("problem" in out) expect(out.problem.message).toMatch(words);
  });

  it.for([
    [64, 0, "a 64-bit BMP"],
    [24, 4, "RLE24"],
    [1, 3, "Huffman 1D"],
  ] as const)(
    "a %i-bit OS/2-style variant with compression %i: E_IMAGE_UNSUPPORTED naming it (%s)",
    async ([bits, compression, name]) => {
      const bytes = Buffer.from(await readFile(path.join(DIR, "pal8os2v2.bmp")));
      bytes.writeUInt16LE(bits, 28);
      if (bits !== 64) bytes.writeUInt32LE(compression, 30);
      const out = await convert(bytes);
      expect("problem" in out && out.problem.code).toBe("E_IMAGE_UNSUPPORTED");
      if ("problem" in out) {
        expect(out.problem.message).toContain(name);
        expect(out.problem.hint).toMatch(/convert it to JPEG or PNG/);
      }
    },
  );

  it("any BMP cut short is refused, never packed (property over every fixture and cut)", async () => {
    const files = ["pal4", "pal8rle", "pal8os2", "pal8os2v2", "rgb16-565", "rgb24", "rgba32-1010102", "pal4rle"];
    const sources = await Promise.all(files.map((f) => readFile(path.join(DIR, `${f}.bmp`))));
    await fc.assert(
      fc.asyncProperty(fc.nat(sources.length - 1), fc.double({ min: 0, max: 0.999, noNaN: true }), async (i, cut) => {
        const whole = sources[i]!;
        const out = await convert(whole.subarray(0, Math.floor(whole.length * cut)));
        expect("problem" in out && out.problem.code).toMatch(/^E_IMAGE_(DAMAGED|CORRUPT)$/);
      }),
      { numRuns: 150 },
    );
  });

  it("damaged bytes anywhere give a picture or a coded refusal, never a crash (property)", async () => {
    const whole = await readFile(path.join(DIR, "pal8rle.bmp"));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(whole.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        async (flips) => {
          const bytes = Buffer.from(whole);
          for (const [at, v] of flips) bytes[at] = v;
          const out = await convert(bytes);
          if ("problem" in out) expect(out.problem.code).toMatch(/^E_IMAGE_(DAMAGED|CORRUPT|UNSUPPORTED|TOO_LARGE)$/);
        },
      ),
      { numRuns: 150 },
    );
  });
});
