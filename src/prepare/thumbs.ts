// Review thumbnails: kept in memory within the run's bound, else spooled to a file.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Thumbnail } from "../convert/pixels.js";
import { ioError } from "../core/errors.js";
import type { PlannedPhoto } from "../plan/plan.js";
import type { PrepareContext } from "./prepareContext.js";

/** Writes a photo's thumbnail into the spool, when the review page wants it; its size goes to the report. */
export async function keepThumb(
  /** a thumbnail, or only the picture's shape (no review page wanted) */
  thumb: (Omit<Thumbnail, "jpeg"> & { jpeg?: Buffer }) | undefined,
  photo: PlannedPhoto,
  ctx: PrepareContext,
  spool: string | null,
) {
  if (!thumb) return {};
  const { jpeg, gray: _gray, measures: _measures, ...shape } = thumb;
  if (!jpeg || !spool || !ctx.thumbs) return { shape };
  // (in memory while the run's bound allows: given back once the review page is written, or the work order dropped)
  if (ctx.heldThumbs?.tryTake(jpeg.length)) return { thumb: jpeg, shape };
  const file = path.join(spool, `${photo.taskGroup}-${photo.n}.thumb.jpg`);
  try {
    await mkdir(spool, { recursive: true });
    await writeFile(file, jpeg);
  } catch (err) {
    throw ioError(err, `cannot write a thumbnail to ${spool}`);
  }
  return { thumb: file, shape };
}
