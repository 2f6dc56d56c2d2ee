// A binding built before it had thumbnail() and not rebuilt since (a stale native/build): the pixel check
// falls back to libvips instead of refusing every JPEG as damaged.
import sharp from "sharp";
import { describe, expect, it, vi } from "vitest";

vi.mock("../../src/convert/heicDecoder.js", () => ({ nativeBinding: () => ({ version: () => "stale" }) }));

describe("checkPixels with a binding that has no thumbnail()", () => {
  it("checks JPEGs with libvips: intact is ok, cut short is damaged", async () => {
    const { checkPixels } = await import("../../src/convert/pixels.js");
    const jpeg = await sharp({ create: { width: 640, height: 480, channels: 3, background: "#48c" } })
      .jpeg()
      .toBuffer();
    const intact = await checkPixels("wo/photo", jpeg);
    expect("thumb" in intact && intact.warnings).toEqual([]);
    const cut = await checkPixels("wo/photo", Buffer.concat([jpeg.subarray(0, jpeg.length / 2), Buffer.from([0xff, 0xd9])]));
    expect("problem" in cut && cut.problem.code).toBe("E_IMAGE_DAMAGED");
    // judged by libvips, not by the (stale) binding, which would quote libjpeg's words
    expect("problem" in cut && cut.problem.message).not.toMatch(/libjpeg:/);
  });
});
