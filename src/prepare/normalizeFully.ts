// The full path: a photo read whole and normalized (converted, re-encoded or trimmed), spooled when it changed,
// its thumbnail and the checks' picture taken from the output in memory.
import { type FileHandle, mkdir, open, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { normalizeImage } from "../convert/normalize.js";
import { checkPixels, shapeOf, type Thumbnail, thumbnailOf } from "../convert/pixels.js";
import { FileBytes } from "../convert/tiffFile.js";
import { ioError } from "../core/errors.js";
import type { PlannedPhoto } from "../plan/plan.js";
import { unreadable } from "../spec/problems.js";
import { photoFacts, pictureWanted } from "./photoFacts.js";
import { type PhotoOutcome, type PrepareContext, photoDone } from "./prepareContext.js";
import { keepThumb } from "./thumbs.js";

export async function normalizeFully(
  photo: PlannedPhoto,
  ctx: PrepareContext,
  spool: string | null,
  read: Buffer | undefined,
): Promise<PhotoOutcome> {
  ctx.signal?.throwIfAborted();
  // (a TIFF is not read whole: a scan is 40-130 MB, which would stay in memory until V8 collects it, long
  // after its conversion; libvips reads it from its path, its directories are read where they are)
  let bytes: Buffer | FileHandle;
  try {
    bytes = read ?? (photo.type === "tiff" ? await open(photo.abs, "r") : await readFile(photo.abs));
  } catch (err) {
    // (one gone is told from one unreadable where every photo's problem is: normalizePhoto)
    return { photo, problem: unreadable(photo.source, (err as Error).message) };
  }
  let n: Awaited<ReturnType<typeof normalizeImage>>;
  let size: number;
  try {
    const input = Buffer.isBuffer(bytes) ? bytes : new FileBytes(bytes.fd, (await bytes.stat()).size);
    size = input.length;
    n = await normalizeImage(
      { source: photo.source, file: photo.abs, type: photo.type, bytes: input, captureDate: photo.captureDate },
      ctx.images,
      ctx.heic,
    );
  } finally {
    if (!Buffer.isBuffer(bytes)) await bytes.close();
  }
  photoDone(ctx, photo, size);
  if ("problem" in n) return { photo, problem: n.problem };
  // (after the structure checks, whose problems say more: a missing end marker is "truncated")
  const pixels =
    (photo.type === "jpeg" || photo.type === "png") &&
    ctx.images.verify === "pixels" &&
    !n.pixelsChecked &&
    Buffer.isBuffer(bytes)
      ? await checkPixels(photo.source, bytes, pictureWanted(ctx.checks))
      : undefined;
  if (pixels && "problem" in pixels) return { photo, problem: pixels.problem };
  let file = photo.abs;
  if (n.conversion !== undefined && spool) {
    file = path.join(spool, `${photo.taskGroup}-${photo.n}.${n.ext}`);
    try {
      await mkdir(spool, { recursive: true });
      await writeFile(file, n.data);
    } catch (err) {
      throw ioError(err, `cannot write a converted image to ${spool}`);
    }
  }
  const { data, warnings, thumb: made, pixelsChecked: _checked, ...rest } = n;
  // (a converted photo's thumbnail, and the picture the checks measure: made while its JPEG was written,
  // from its coefficients; else from its output in memory, the decoded frame being libvips' or libheif's,
  // gone by now: a scaled decode of a JPEG, ~45 ms for 12 MP)
  const wanted = ctx.images.verify === "pixels" ? pictureWanted(ctx.checks) : undefined;
  const measured = (t: Pick<Thumbnail, "measures" | "gray"> | undefined) => !!(t?.measures || t?.gray);
  const thumb =
    n.conversion === undefined
      ? pixels?.thumb
      : made
        ? { ...made, ...(await shapeOf(data)) }
        : (spool && ctx.thumbs) || (wanted && !measured(pixels?.thumb))
          ? await thumbnailOf(data, wanted)
          : await shapeOf(data);
  const picture = measured(pixels?.thumb) ? pixels?.thumb : thumb;
  return {
    photo,
    normalized: {
      ...rest,
      warnings: [...(pixels?.warnings ?? []), ...warnings],
      file,
      size: data.length,
      ...(await keepThumb(thumb, photo, ctx, spool)),
      facts: await photoFacts(
        ctx.checks,
        wanted ? picture : undefined,
        data,
        Buffer.isBuffer(bytes) ? bytes : photo.abs,
        photo.type,
      ),
    },
  };
}
