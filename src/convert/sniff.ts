import type { ImageType } from "../spec/images.js";

/** How many leading bytes sniffImageType needs to decide. */
export const SNIFF_BYTES = 64;

const ascii = (b: Uint8Array, start: number, end: number) => String.fromCharCode(...b.subarray(start, end));

/** Judges a file's type by its magic bytes, never by its name. */
export function sniffImageType(head: Uint8Array): ImageType | null {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return "jpeg";
  if (head.length >= 8 && ascii(head, 0, 8) === "\x89PNG\r\n\x1a\n") return "png";
  if (head.length >= 6 && (ascii(head, 0, 6) === "GIF87a" || ascii(head, 0, 6) === "GIF89a")) return "gif";
  if (head.length >= 12 && ascii(head, 0, 4) === "RIFF" && ascii(head, 8, 12) === "WEBP") return "webp";
  if (head.length >= 4 && ["II*\0", "MM\0*", "II+\0", "MM\0+"].includes(ascii(head, 0, 4))) return "tiff"; // (+: BigTIFF)
  if (head.length >= 14 && ascii(head, 0, 2) === "BM" && head[6] === 0 && head[7] === 0 && head[8] === 0 && head[9] === 0)
    return "bmp";
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0x0a) return "jxl";
  if (head.length >= 12 && ascii(head, 4, 8) === "ftyp") return sniffIsoBrand(head);
  return null;
}

function sniffIsoBrand(head: Uint8Array): ImageType | null {
  const boxSize = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(0);
  const end = Math.min(head.length, boxSize);
  const brands = [ascii(head, 8, 12)];
  for (let at = 16; at + 4 <= end; at += 4) brands.push(ascii(head, at, at + 4));
  if (brands.some((b) => b === "avif" || b === "avis")) return "avif";
  if (brands.some((b) => ["heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1"].includes(b))) return "heic";
  return null;
}
