// What preparing a photo needs and gives: the context every path takes, each photo's outcome, and the
// small rules they share (progress, a vanished file, a bug confined to one photo).
import type pLimit from "p-limit";
import type { PhotoCheckSettings } from "../checks/checks.js";
import type { HeicDecoder } from "../convert/heicTypes.js";
import type { ImageSettings } from "../convert/imageSettings.js";
import { type Problem, WopackError } from "../core/errors.js";
import type { Logger, PackedEntry, Progress } from "../core/types.js";
import type { PlannedPhoto } from "../plan/plan.js";
import { internalProblem } from "../spec/problems.js";
import type { HeldBytes } from "./heldBytes.js";
import type { PhotoFacts } from "./photoFacts.js";

/** What preparing photos needs: image settings and the shared limits; nothing of archives or moves. */
export interface PrepareContext {
  images: ImageSettings;
  /** leave out a metadata.json that would be {} (the config's metadata.omitWhenEmpty) */
  omitEmptyMetadata: boolean;
  /** keep each photo's thumbnail in the spool, for the archive's review page */
  thumbs: boolean;
  /** small photos read once, whole, and written into the archive from memory, within this bound */
  heldPhotos?: HeldBytes | undefined;
  /** thumbnails kept in memory until the review page, within this bound (past it, spooled to disk) */
  heldThumbs?: HeldBytes | undefined;
  /** the photo checks (SPEC §15): what to measure of each photo; absent, nothing is */
  checks?: PhotoCheckSettings | undefined;
  heic: HeicDecoder;
  photoLimit: ReturnType<typeof pLimit>;
  /** JPEGs checked to be copied as they are, at once (default: photoLimit); one that must be converted after
   * all then takes a photoLimit slot */
  checkLimit?: ReturnType<typeof pLimit> | undefined;
  progress: Progress;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  log: Logger;
  /** watch: a work order whose file vanished is left pending (judged again); pack refuses it (plan.ts) */
  vanishedWaits?: boolean | undefined;
}

export type PhotoOutcome =
  | { photo: PlannedPhoto; problem: Problem }
  /** the file was moved or removed since it was planned: its work order is not settled */
  | { photo: PlannedPhoto; vanished: true }
  | {
      photo: PlannedPhoto;
      normalized: {
        ext: "jpg" | "png";
        file: string;
        size: number;
        /** unknown for a file copied as is: the archive writer computes it */
        crc32?: number;
        /** a small photo copied as is, as it was read for its checks (the image alone, `crc32` its CRC: the
         * writer says what followed it, as for a copy); `recycle` gives its buffer back to ctx.heldPhotos, to be
         * read into again */
        held?: { data: Buffer; recycle: () => void };
        conversion?: string;
        /** copied as is but for this many bytes after the image's end */
        trimmed?: number;
        warnings: Problem[];
        unchangedSince?: { size: number; mtimeMs: number };
        jpegScanFrom?: number;
        /** the thumbnail, in memory or as its file in the spool */
        thumb?: Buffer | string;
        shape?: Pick<PackedEntry, "width" | "height" | "orientation">;
        facts: PhotoFacts;
      };
    };

/** One more photo read and judged, for the progress line. */
export function photoDone(ctx: PrepareContext, photo: PlannedPhoto, bytes: number): void {
  ctx.progress.photosDone++;
  ctx.progress.lastPhoto = photo.source;
  ctx.progress.bytesDone += bytes;
  ctx.onProgress?.(ctx.progress);
}

export const vanished = (photo: PlannedPhoto): PhotoOutcome => ({ photo, vanished: true });

/**
 * An error met while preparing one photo or work order: run-level failures (disk full, interruption) go
 * up; anything else is a bug confined to `path`, which becomes its problem (the stack in --verbose).
 */
export function bug(err: unknown, path: string, ctx: PrepareContext): Problem {
  if (err instanceof WopackError || ctx.signal?.aborted) throw err;
  ctx.log.debug(`${path}: ${(err as Error)?.stack ?? String(err)}`);
  return internalProblem(path, err);
}
