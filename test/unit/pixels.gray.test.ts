// The greyscale picture the photo checks measure comes out of the pixel check's one decode: upright (EXIF
// orientation applied), at thumbnail size, the same from the native decoder and from libvips.
import sharp, { type Sharp } from "sharp";
import { afterEach, describe, expect, it } from "vitest";
import { checkPixels, type GrayRaster, lumaOf, THUMB_EDGE, thumbnailOf } from "../../src/convert/pixels.js";

/** An asymmetric picture: a bright block top-left on a dark ground, a mid-grey stripe at the bottom. */
async function picture(): Promise<Sharp> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="800"><rect width="1200" height="800" fill="#202020"/>
    <rect width="400" height="300" fill="#f0e0d0"/><rect y="700" width="1200" height="100" fill="#808080"/></svg>`;
  return sharp(Buffer.from(svg));
}

async function grayOf(bytes: Buffer): Promise<GrayRaster> {
  const v = await checkPixels("wo/photo", bytes, "gray");
  if (!("thumb" in v) || !v.thumb.gray) throw new Error(`no greyscale picture: ${JSON.stringify(v)}`);
  return v.thumb.gray;
}

function meanDifference(a: GrayRaster, b: GrayRaster): number {
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i]! - b.data[i]!);
  return sum / a.data.length;
}

/** The mean of a corner block (a tenth of each side), to tell where the bright block ended up. */
function corner(g: GrayRaster, right: boolean, bottom: boolean): number {
  const w = Math.max(1, Math.floor(g.width / 10));
  const h = Math.max(1, Math.floor(g.height / 10));
  let sum = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) sum += g.data[(bottom ? g.height - 1 - y : y) * g.width + (right ? g.width - 1 - x : x)]!;
  return sum / (w * h);
}

const ORIENTATIONS = [1, 2, 3, 4, 5, 6, 7, 8];

/** The upright picture stored turned so that a viewer applying EXIF orientation o shows it upright again. */
const INVERSE: Record<number, (s: Sharp) => Promise<Buffer>> = {
  1: (s) => s.png().toBuffer(),
  2: (s) => s.flop().png().toBuffer(),
  3: (s) => s.rotate(180).png().toBuffer(),
  4: (s) => s.flip().png().toBuffer(),
  // (transpose, transverse: one step at a time, sharp would flop before it rotates)
  5: async (s) =>
    sharp(await s.rotate(90).png().toBuffer())
      .flop()
      .png()
      .toBuffer(),
  6: (s) => s.rotate(-90).png().toBuffer(),
  7: async (s) =>
    sharp(await s.rotate(-90).png().toBuffer())
      .flop()
      .png()
      .toBuffer(),
  8: (s) => s.rotate(90).png().toBuffer(),
};

describe("the greyscale picture of the pixel check", () => {
  afterEach(() => {
    delete process.env.WOPACK_PIXEL_DECODER;
  });

  it.each(ORIENTATIONS)("orientation %i: upright, at thumbnail size, alike from libjpeg-turbo and libvips", async (o) => {
    // the pixels stored turned so that applying orientation o makes the picture upright again
    const upright = await (await picture()).png().toBuffer();
    const stored = await INVERSE[o]!(sharp(upright));
    const photo = await sharp(stored).withMetadata({ orientation: o }).jpeg({ quality: 90 }).toBuffer();
    // what a viewer shows: the reference
    const shown = await sharp(photo).rotate().resize(THUMB_EDGE, THUMB_EDGE, { fit: "inside" }).raw().toBuffer({
      resolveWithObject: true,
    });
    const reference = lumaOf(shown.data, shown.info.width, shown.info.height, shown.info.channels);
    const native = await grayOf(photo);
    process.env.WOPACK_PIXEL_DECODER = "sharp";
    const vips = await grayOf(photo);
    for (const g of [native, vips]) {
      expect([g.width, g.height]).toEqual([reference.width, reference.height]);
      expect(meanDifference(g, reference)).toBeLessThan(4);
    }
  });

  it("is the picture as a viewer shows it: the bright block top-left for every orientation", async () => {
    const upright = await (await picture()).png().toBuffer();
    for (const o of ORIENTATIONS) {
      const stored = await INVERSE[o]!(sharp(upright));
      const photo = await sharp(stored).withMetadata({ orientation: o }).jpeg({ quality: 90 }).toBuffer();
      const g = await grayOf(photo);
      expect({ o, landscape: g.width > g.height }).toEqual({ o, landscape: true });
      expect({ o, topLeftBright: corner(g, false, false) > 180 }).toEqual({ o, topLeftBright: true });
      expect({ o, topRightDark: corner(g, true, false) < 60 }).toEqual({ o, topRightDark: true });
    }
  });

  it("PNG (libvips): grey, alpha flattened onto white, 16-bit read as 8", async () => {
    const rgba = await sharp({ create: { width: 300, height: 200, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toBuffer();
    const g = await grayOf(rgba);
    expect([g.width, g.height]).toEqual([256, 171]);
    expect(g.data.every((v) => v === 255)).toBe(true);
    const deep = await sharp({ create: { width: 600, height: 400, channels: 3, background: "#404040" } })
      .toColourspace("rgb16")
      .png()
      .toBuffer();
    const d = await grayOf(deep);
    expect([d.width, d.height]).toEqual([256, 171]);
    expect(Math.abs(d.data[0]! - 0x40)).toBeLessThanOrEqual(1);
  });

  it("libvips: the thumbnail is the same JPEG with or without the picture, which comes from the same one decode", async () => {
    process.env.WOPACK_PIXEL_DECODER = "sharp";
    const disc = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="900" height="600"><circle cx="450" cy="300" r="250" fill="#f80" fill-opacity="0.6"/></svg>',
    );
    const base = (channels: 3 | 4, background: string | { r: number; g: number; b: number; alpha: number }) =>
      sharp({ create: { width: 900, height: 600, channels, background } }).composite([{ input: disc }]);
    const table: [string, Buffer, number][] = [
      ["RGB PNG", await base(3, "#468").removeAlpha().png().toBuffer(), 0],
      ["RGBA PNG, half transparent", await base(4, { r: 10, g: 200, b: 30, alpha: 0.4 }).png().toBuffer(), 3],
      ["grey PNG", await base(3, "#468").removeAlpha().greyscale().png().toBuffer(), 0],
      ["grey and alpha PNG", await base(4, { r: 90, g: 90, b: 90, alpha: 0.5 }).greyscale().png().toBuffer(), 3],
      ["16-bit PNG", await base(3, "#468").removeAlpha().toColourspace("rgb16").png().toBuffer(), 0],
      ["P3 PNG", await base(3, "#f02040").removeAlpha().withIccProfile("p3").png().toBuffer(), 0],
      ["CMYK JPEG", await base(3, "#468").removeAlpha().toColourspace("cmyk").jpeg().toBuffer(), 0],
      ["JPEG turned by EXIF", await base(3, "#468").removeAlpha().withMetadata({ orientation: 6 }).jpeg().toBuffer(), 0],
    ];
    for (const [what, bytes, tolerance] of table) {
      const plain = await thumbnailOf(bytes);
      const withPicture = await thumbnailOf(bytes, "gray");
      expect(plain.gray, what).toBeUndefined();
      expect(withPicture.jpeg.equals(plain.jpeg), what).toBe(true);
      // what the picture was before: a pipeline of its own, flattened onto white before the resize
      const flat = await sharp(bytes)
        .rotate()
        .resize({ width: THUMB_EDGE, height: THUMB_EDGE, fit: "inside", withoutEnlargement: true })
        .flatten({ background: "#ffffff" })
        .toColourspace("srgb")
        .raw({ depth: "uchar" })
        .toBuffer({ resolveWithObject: true });
      const want = lumaOf(flat.data, flat.info.width, flat.info.height, flat.info.channels);
      const got = withPicture.gray!;
      expect([got.width, got.height], what).toEqual([want.width, want.height]);
      let worst = 0;
      for (let i = 0; i < got.data.length; i++) worst = Math.max(worst, Math.abs(got.data[i]! - want.data[i]!));
      expect(worst, what).toBeLessThanOrEqual(tolerance);
    }
  });
});
