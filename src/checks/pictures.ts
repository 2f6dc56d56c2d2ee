// What the photo checks (SPEC §15) share: the measures taken from a photo's small decode, and the index of
// pictures packed before. measures.ts computes the one, pictureIndex.ts keeps the other, checks.ts judges.

/** What one small, upright, greyscale decode of a photo says about it (checks/measures.ts). */
export interface PictureMeasures {
  /** perceptual hash of the upright picture, 64 bits: close for the same picture resized or re-encoded */
  hash: bigint;
  /** how much fine detail the picture holds (higher: sharper); compared with images.checks.blur's threshold */
  sharpness: number;
  /** mean luma 0-255, and the fractions of pixels nearly black (<= 16) and nearly white (>= 240) */
  exposure: { mean: number; dark: number; bright: number };
}

/** One picture packed for a work order, as the index keeps it. */
export interface IndexedPicture {
  hash: bigint;
  /** SHA-256 (hex) of the photo's bytes as packed, when known */
  sha256?: string;
  workOrder: string;
  /** the entry's name inside its archive */
  entry: string;
  archive: string;
  /** the outbox that holds the archive (a sibling's, for shards) */
  out: string;
}

export interface PictureMatch {
  picture: IndexedPicture;
  /** Hamming distance of the hashes (0 for the same bytes) */
  distance: number;
  exact: boolean;
}

/** The pictures packed so far: committed ones from disk (own outbox and siblings) plus this run's. */
export interface PictureIndex {
  /**
   * The closest earlier picture of another work order within `maxDistance` (an exact SHA-256 match first,
   * then the smallest distance, then the earliest), or undefined.
   */
  find(hash: bigint, sha256: string | undefined, maxDistance: number, workOrder: string): PictureMatch | undefined;
  /** pictures of this run (not yet committed) that later work orders are compared with */
  add(pictures: readonly IndexedPicture[]): void;
  /** this run's pictures of a work order left out of every archive (it was never packed): found no more */
  drop(workOrder: string): void;
  readonly size: number;
}
