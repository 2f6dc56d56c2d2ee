// The ways a photo is refused or flagged while it is converted, worded once.
import { type Problem, problem } from "../core/errors.js";

export function corrupt(source: string, detail: string): Problem {
  return problem(
    "E_IMAGE_CORRUPT",
    `${source}: cannot be decoded (${detail})`,
    "open it in an image viewer; replace it with an intact copy of the photo",
    source,
  );
}

/** Damaged picture data, in the decoder's words: packing it would show grey, smeared or missing parts. */
export function damagedData(source: string, detail: string): Problem {
  return problem(
    "E_IMAGE_DAMAGED",
    `${source}: its picture data is damaged (${detail}); part of the photo would show wrong or blank`,
    "replace it with an intact copy of the photo (from the device), or remove it from the work order",
    source,
  );
}

/** A real variant of a format that no decoder here reads: says which, and how to get a readable file. */
export function unsupportedVariant(
  source: string,
  variant: string,
  hint = "convert it to JPEG or PNG with an image editor or ImageMagick (convert in.ext out.png), then stage that file",
): Problem {
  return problem("E_IMAGE_UNSUPPORTED", `${source}: ${variant}, a variant of its format that wopack cannot decode`, hint, source);
}

export function tooLargeProblem(source: string, dims: string, maxPixels: number): Problem {
  return problem(
    "E_IMAGE_TOO_LARGE",
    `${source}: ${dims} is above the ${maxPixels / 1e6} megapixel limit (a decompression bomb?)`,
    "check the file; if the image is genuine, raise images.maxPixels in the config",
    source,
  );
}

/** A problem thrown through the conversion code, caught where a photo is judged. */
export class ImageProblem extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message);
  }
}
