// §5: the -N of each photo of a work order. Pure.
import { type Problem, problem } from "../core/errors.js";
import type { CapturedFrom } from "../core/types.js";
import { MAX_ORDER, naturalCompare } from "../spec/names.js";
import { duplicateOrder } from "../spec/problems.js";
import type { Member } from "./group.js";

/** What numbering reads and sets of a photo (the planner's PlannedPhoto); n < 0: not numbered yet. */
export interface Numbered {
  n: number;
  source: string;
  captureDate?: string | undefined;
  /** what put it in capture order: its EXIF DateTimeOriginal, its file time, or its name (-N, or nothing else) */
  capturedFrom?: CapturedFrom;
  /** the file time that ordered it (ISO, UTC), when capturedFrom is "file" */
  fileTime?: string;
}

/** §5: explicit -N requests are kept; the rest follow in capture order after the largest explicit one. */
export function assignNumbers<T extends Numbered>(
  photos: T[],
  requests: { photo: T; n: number }[],
  members: Member[],
): Problem[] {
  const problems: Problem[] = [];
  const byNumber = new Map<number, T>();
  for (const { photo, n } of [...requests].sort((a, b) => naturalCompare(a.photo.source, b.photo.source))) {
    const holder = byNumber.get(n);
    if (holder) {
      problems.push(duplicateOrder(photo.source, n, holder.source));
      continue;
    }
    byNumber.set(n, photo);
    photo.n = n;
    photo.capturedFrom = "name";
  }
  const mtimeOf = new Map(members.map((m) => [m.entry.rel, m.entry.mtimeMs]));
  const unnumbered = photos.filter((p) => p.n < 0);
  for (const p of unnumbered) {
    const mtime = mtimeOf.get(p.source);
    if (p.captureDate) p.capturedFrom = "exif";
    else if (mtime !== undefined) {
      p.capturedFrom = "file";
      p.fileTime = new Date(mtime).toISOString();
    } else p.capturedFrom = "name";
  }
  const key = (p: T) => (p.captureDate ? exifToMillis(p.captureDate) : (mtimeOf.get(p.source) ?? 0));
  unnumbered.sort((a, b) => key(a) - key(b) || naturalCompare(a.source, b.source));
  let next = byNumber.size ? Math.max(...byNumber.keys()) + 1 : 0;
  for (const p of unnumbered) {
    if (next > MAX_ORDER) {
      problems.push(
        problem(
          "E_ORDER_TOO_LARGE",
          `${p.source}: would be numbered ${next}, after the largest explicit -N, but order numbers stop at ${MAX_ORDER}`,
          "give the explicitly numbered photos smaller -N numbers (gaps are allowed), or number this one too",
          p.source,
        ),
      );
      continue;
    }
    p.n = next++;
  }
  return problems;
}

/** "2024:03:04 05:06:07" read as a wall-clock time (EXIF has no zone). */
export function exifToMillis(value: string): number {
  const [d, t] = value.split(" ");
  const [y, mo, da] = (d ?? "").split(":").map(Number);
  const [h, mi, s] = (t ?? "").split(":").map(Number);
  return Date.UTC(y ?? 0, (mo ?? 1) - 1, da ?? 1, h ?? 0, mi ?? 0, s ?? 0);
}
