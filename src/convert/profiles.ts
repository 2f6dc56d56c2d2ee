// Colour profiles for a decoded picture: the tables that take a matrix/TRC profile to sRGB in the HEIC
// decoders, a profile made from nclx colour tags, libvips' own profiles, and the picture given to libvips
// with its profile (an uncompressed TIFF) to be converted there.
import type { Sharp } from "sharp";
import { type Problem, problem } from "../core/errors.js";
import { colourTable, matrixShaper } from "./colour.js";
import type { Nclx } from "./heifProfile.js";
import { loadSharp } from "./onFirstUse.js";
import { type RawPixels, uncompressedTiff } from "./rawTiff.js";

const colourTables = new Map<string, Promise<Float32Array | undefined>>();

/** The table that converts a profile's colours to libvips' sRGB (convert/colour.ts), if it is matrix/TRC. */
export function toSrgb(icc: Buffer): Promise<Float32Array | undefined> {
  const key = icc.toString("latin1");
  let table = colourTables.get(key);
  if (!table) {
    table = builtinProfile("srgb").then((srgb) => {
      const from = matrixShaper(icc);
      const to = matrixShaper(srgb);
      return from && to ? colourTable(from, to) : undefined;
    });
    if (colourTables.size >= 16) colourTables.clear(); // (a night has one or two profiles; a bound all the same)
    colourTables.set(key, table);
  }
  return table;
}

/**
 * The ICC profile that nclx code points stand for, where they need converting: Display P3 primaries
 * (12) as Android phones and other writers tag wide-gamut HEICs; BT.709 (1) and unspecified (2) are
 * sRGB's. Anything else is packed unconverted, with a warning, as is HDR (PQ or HLG) without tone mapping.
 */
export async function nclxProfile(source: string, nclx: Nclx, warnings: Problem[]): Promise<Buffer | undefined> {
  if (nclx.transfer === 16 || nclx.transfer === 18) {
    warnings.push(
      problem(
        "W_HDR_NOT_TONE_MAPPED",
        `${source}: an HDR picture (${nclx.transfer === 16 ? "PQ" : "HLG"}); packed as 8-bit without tone mapping, it may look flat`,
        "export it from the phone as a standard (SDR) photo if the colours matter",
        source,
      ),
    );
  }
  if (nclx.primaries === 12) return builtinProfile("p3");
  if (nclx.primaries === 1 || nclx.primaries === 2) return undefined;
  warnings.push(
    problem(
      "W_COLOUR_SPACE_UNCONVERTED",
      `${source}: its colours are in a space wopack does not convert (nclx colour primaries ${nclx.primaries}); packed as if sRGB`,
      "export it from the phone or editor as an sRGB or Display P3 photo if the colours matter",
      source,
    ),
  );
  return undefined;
}

const builtinProfiles = new Map<string, Promise<Buffer>>();

/** One of libvips' own ICC profiles (sharp's "p3", "srgb"), fetched once. */
export function builtinProfile(name: "p3" | "srgb"): Promise<Buffer> {
  let profile = builtinProfiles.get(name);
  if (!profile) {
    profile = loadSharp().then(async (sharp) => {
      const png = await sharp({ create: { width: 1, height: 1, channels: 3, background: "#000" } })
        .withIccProfile(name)
        .png()
        .toBuffer();
      return (await sharp(png).metadata()).icc!;
    });
    builtinProfiles.set(name, profile);
  }
  return profile;
}

/**
 * Decoded pixels, tagged with their ICC profile when they have one, so that libvips converts them to sRGB
 * like any other tagged image. sharp takes no ICC profile for raw input: the pixels are wrapped in an
 * uncompressed TIFF that carries it (a header in front, no encoding).
 */
export function withProfile(pixels: RawPixels, icc: Buffer | undefined): () => Promise<Sharp> {
  const { width, height, channels, data } = pixels;
  if (!icc) return async () => (await loadSharp())(data, { raw: { width, height, channels } });
  const tiff = uncompressedTiff(pixels, icc);
  return async () => (await loadSharp())(tiff, { limitInputPixels: false });
}
