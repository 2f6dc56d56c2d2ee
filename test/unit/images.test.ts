import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { tiffHeaderSize, uncompressedTiff } from "../../src/convert/rawTiff.js";
import { builtinIcc } from "../helpers.js";

describe("decoded pixels wrapped with their ICC profile (uncompressedTiff)", () => {
  for (const channels of [3, 4] as const) {
    it(`reads back as the same ${channels}-channel pixels, carrying the profile`, async () => {
      const [width, height] = [7, 5]; // odd sizes: no padding in the strip
      const data = Buffer.alloc(width * height * channels);
      for (let i = 0; i < data.length; i++) data[i] = (i * 37) & 255;
      const icc = await builtinIcc("p3");
      const tiff = uncompressedTiff({ width, height, channels, data }, icc);
      const meta = await sharp(tiff).metadata();
      expect([meta.format, meta.width, meta.height, meta.channels, meta.hasAlpha]).toEqual([
        "tiff",
        width,
        height,
        channels,
        channels === 4,
      ]);
      expect(meta.icc!.equals(icc)).toBe(true);
      // read as stored, without converting colours: the very bytes that went in
      const raw = await sharp(tiff).keepIccProfile().raw().toBuffer();
      expect(raw.equals(data)).toBe(true);

      // with room in front of the pixels (as the native decoder leaves it): the header goes there, no copy
      const room = tiffHeaderSize(4, icc);
      const both = Buffer.alloc(room + data.length, 0xee);
      data.copy(both, room);
      const inPlace = uncompressedTiff({ width, height, channels, data: both.subarray(room), room }, icc);
      expect(inPlace.buffer).toBe(both.buffer);
      expect(inPlace.equals(tiff)).toBe(true);
    });
  }
});
