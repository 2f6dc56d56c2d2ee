// §5 and §7: which images go into an archive as they are, and under which entry name. A dry run and a
// real run ask these same functions, so that what `--dry-run` shows is what `pack` writes.

import type { PhotoCounts, PhotoHandling } from "../core/types.js";

export type ImageType = "jpeg" | "png" | "heic" | "avif" | "webp" | "tiff" | "gif" | "bmp" | "jxl";

export type EntryExt = "jpg" | "png";

export interface SizeLimits {
  maxImageSize: number;
  maxDimension?: number | undefined;
}

export interface ImageShape {
  /** the image's bytes (a JPEG's without what follows its end-of-image marker) */
  bytes: number;
  width?: number | undefined;
  height?: number | undefined;
  cmyk?: boolean | undefined;
}

/** §7: why a JPEG or PNG cannot be packed as it is (empty: it can). Location data (--strip-gps) is the caller's. */
export function reencodeReasons(shape: ImageShape, limits: SizeLimits): string[] {
  const reasons: string[] = [];
  if (shape.bytes > limits.maxImageSize) reasons.push(`larger than ${limits.maxImageSize} bytes`);
  const longest = Math.max(shape.width ?? 0, shape.height ?? 0);
  if (limits.maxDimension && longest > limits.maxDimension) reasons.push(`wider or taller than ${limits.maxDimension} px`);
  if (shape.cmyk) reasons.push("CMYK colour");
  return reasons;
}

/**
 * §5/§7: a PNG that fits the size limits stays a PNG (re-encoded losslessly if its location must go);
 * every other image is packed as a JPEG. A PNG's shape is known from its header, so a dry run's answer is
 * the real run's.
 */
export function packedExt(type: ImageType, shape: ImageShape, limits: SizeLimits): EntryExt {
  return type === "png" && reencodeReasons(shape, limits).length === 0 ? "png" : "jpg";
}

/** §5: "<task group>-<N>.<ext>", inside its work order's folder. */
export function entryName(workOrderId: string, taskGroup: string, n: number, ext: EntryExt): string {
  return `${workOrderId}/${taskGroup}-${n}.${ext}`;
}

/**
 * An image entry's file name inside its work-order folder, read back: "<task group>[-N].jpg|jpeg|png"
 * (any case). Undefined for any other name. parseEntryName(entryName(...)) gives back what was written.
 */
export function parseEntryName(file: string): { taskGroup: string; n?: number; ext: string } | undefined {
  const m = /^(?<group>.+?)(?:-(?<n>\d{1,9}))?\.(?<ext>jpe?g|png)$/i.exec(file)?.groups;
  if (!m) return undefined;
  return { taskGroup: m.group!, ...(m.n === undefined ? {} : { n: Number(m.n) }), ext: m.ext! };
}

/** A PNG's width and height, from its IHDR chunk (bytes 16 to 24); undefined when the head has none. */
export function pngDimensions(head: Uint8Array): { width: number; height: number } | undefined {
  if (head.length < 24 || String.fromCharCode(...head.subarray(12, 16)) !== "IHDR") return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** A JPEG's width and height, from its first frame header (SOFn); undefined when the bytes have none. */
export function jpegDimensions(jpeg: Uint8Array): { width: number; height: number } | undefined {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return undefined;
  const view = new DataView(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength);
  let at = 2;
  while (at + 9 <= jpeg.length && jpeg[at] === 0xff) {
    const marker = jpeg[at + 1]!;
    if (marker === 0xff) {
      at++; // a fill byte
      continue;
    }
    // SOF0-15 but DHT (c4), JPG (c8) and DAC (cc); a scan (da) before any: none
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const [height, width] = [view.getUint16(at + 5), view.getUint16(at + 7)];
      return width && height ? { width, height } : undefined;
    }
    if (marker === 0xda) return undefined;
    at += 2 + view.getUint16(at + 2);
  }
  return undefined;
}

/** What was done to a packed photo; for a report of an earlier version (no `handling`), told by its words. */
export function photoHandling(entry: {
  handling?: PhotoHandling | undefined;
  conversion?: string | null | undefined;
}): PhotoHandling {
  if (entry.handling) return entry.handling;
  if (!entry.conversion) return "copied";
  return / copied without the \d+ bytes after /.test(entry.conversion) ? "trimmed" : "converted";
}

export function countPhotos(entries: Iterable<Parameters<typeof photoHandling>[0]>): PhotoCounts {
  const counts: PhotoCounts = { copied: 0, trimmed: 0, converted: 0 };
  for (const e of entries) counts[photoHandling(e)]++;
  return counts;
}

/** "12 (3 converted, 1 trimmed of data after its end, 8 copied as they were)" */
export function describeCounts(c: PhotoCounts): string {
  const total = c.copied + c.trimmed + c.converted;
  return `${total} (${c.converted} converted, ${c.trimmed} trimmed of data after the image's end, ${c.copied} copied as they were)`;
}
