// Where a JPEG or a PNG ends, and what follows it (one rule for every format packed as is: SPEC §7). Pure.

export function endsWithIend(bytes: Buffer): boolean {
  let end = bytes.length;
  while (end > 12 && bytes[end - 1] === 0x00) end--; // (padding, as after a JPEG's EOI)
  return end >= 12 && bytes.readUInt32BE(end - 12) === 0 && bytes.toString("latin1", end - 8, end - 4) === "IEND";
}

export function endsWithEoi(bytes: Buffer): boolean {
  let end = bytes.length;
  while (end > 2 && bytes[end - 1] === 0x00) end--; // some writers pad after EOI
  return bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9;
}

/**
 * The image without what follows its end (one rule for every format packed as is): phones append a video
 * to a JPEG (Google and Samsung motion photos), other tools append data to a PNG after its IEND chunk.
 * Zero bytes after the end are padding, and are kept. Unchanged when nothing follows, or when no end is
 * found (then it is truncated, and the integrity check says so).
 */
export function withoutTrailer(type: "jpeg" | "png", image: Buffer): Buffer {
  const end = type === "jpeg" ? jpegEnd(image) : pngEnd(image);
  if (end === undefined) return image;
  return image.subarray(end).some((b) => b !== 0) ? image.subarray(0, end) : image;
}

/** A JPEG ends at the first EOI after its first scan (scan data cannot hold one: a 0xFF there is always stuffed). */
function jpegEnd(jpeg: Buffer): number | undefined {
  const eoi = jpeg.indexOf(EOI, walkToScan(jpeg).at);
  return eoi < 0 ? undefined : eoi + 2;
}

/** A PNG ends after its IEND chunk, found by walking its chunks. */
export function pngEnd(png: Buffer): number | undefined {
  let at = 8;
  while (at + 12 <= png.length) {
    const length = png.readUInt32BE(at);
    if (length > 0x7fffffff) return undefined;
    const next = at + 12 + length;
    if (png.toString("latin1", at + 4, at + 8) === "IEND") return next <= png.length ? next : undefined;
    at = next;
  }
  return undefined;
}

const EOI = Buffer.from([0xff, 0xd9]);

/** Where a JPEG's first scan starts, when its markers lead there within `head`. */
export function jpegScanStart(head: Buffer): number | undefined {
  const { at, found } = walkToScan(head);
  return found ? at : undefined;
}

/** How a trailer is reported, wherever it is cut off. */
export function trailerNote(bytes: number, type: "jpeg" | "png" = "jpeg"): string {
  return type === "jpeg"
    ? `jpeg copied without the ${bytes} bytes after its end (a motion-photo video or another trailer)`
    : `png copied without the ${bytes} bytes after its IEND chunk`;
}

/**
 * Walks a JPEG's markers to its first scan (SOS): where it starts, or where the walk had to stop (the
 * bytes end, or no marker is where one should be). An EOI is searched for from there: the segments before
 * it (an EXIF thumbnail, say) may hold FF D9 of their own.
 */
function walkToScan(jpeg: Buffer): { at: number; found: boolean } {
  let at = 2;
  while (at + 4 <= jpeg.length && jpeg[at] === 0xff) {
    const marker = jpeg[at + 1]!;
    if (marker === 0xda) return { at, found: true };
    if (marker === 0xff) at += 1;
    else if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) at += 2;
    else at += 2 + jpeg.readUInt16BE(at + 2);
  }
  return { at, found: false };
}
