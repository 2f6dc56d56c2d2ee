// Entries that share bytes of the archive: the "overlapping files" zip bomb (many central directory entries
// over one deflated kernel), which no zip tool writes. The check is Info-ZIP unzip's (CVE-2019-13232) made
// from the central directory alone: an entry covers at least its 30-byte local header and its compressed
// data, so two entries whose lower-bound spans share a byte share one for sure (never a false alarm).

const LOCAL_HEADER = 30;

export interface Span {
  relativeOffsetOfLocalHeader: number;
  compressedSize: number;
}

/** Each entry that overlaps another, with one entry it overlaps. */
export function overlappingEntries<E extends Span>(entries: readonly E[]): Map<E, E> {
  const end = (e: E): number => e.relativeOffsetOfLocalHeader + LOCAL_HEADER + e.compressedSize;
  const byStart = [...entries].sort((a, b) => a.relativeOffsetOfLocalHeader - b.relativeOffsetOfLocalHeader);
  const found = new Map<E, E>();
  let furthest: E | undefined;
  for (const e of byStart) {
    if (furthest && e.relativeOffsetOfLocalHeader < end(furthest)) {
      found.set(e, furthest);
      if (!found.has(furthest)) found.set(furthest, e);
    }
    if (!furthest || end(e) > end(furthest)) furthest = e;
  }
  return found;
}
