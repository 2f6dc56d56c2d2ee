// Decoded pixels wrapped as an uncompressed TIFF with their ICC profile, for libvips to convert (the HEIC
// decoders' general path): the header written into room the decoder left in front of the pixels.
/**
 * A little-endian baseline TIFF: one strip of interleaved 8-bit RGB(A) pixels, and an ICC profile. The
 * header goes in the room in front of the pixels when there is enough (the native decoder leaves it), so
 * that 36 MB of pixels are not copied once more.
 */
export function uncompressedTiff(pixels: RawPixels, icc: Buffer): Buffer {
  const { data } = pixels;
  const head = tiffHeader(pixels, icc);
  if ((pixels.room ?? 0) < head.length) return Buffer.concat([head, data], head.length + data.length);
  const tiff = Buffer.from(data.buffer, data.byteOffset - head.length, head.length + data.length);
  head.copy(tiff, 0);
  return tiff;
}

export interface RawPixels {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array;
  /** bytes free in front of `data` in its buffer: where the TIFF header goes, if it fits */
  room?: number;
}

/** The bytes a TIFF header takes in front of the pixels (uncompressedTiff). */
export function tiffHeaderSize(channels: 3 | 4, icc: Buffer): number {
  const count = channels === 4 ? 12 : 11;
  return 8 + 2 + count * 12 + 4 + 2 * channels + icc.length + (icc.length & 1);
}

function tiffHeader({ width, height, channels, data }: RawPixels, icc: Buffer): Buffer {
  const SHORT = 3;
  const LONG = 4;
  const UNDEFINED = 7;
  const count = channels === 4 ? 12 : 11;
  const ifdSize = 2 + count * 12 + 4;
  const bitsAt = 8 + ifdSize;
  const iccAt = bitsAt + 2 * channels;
  const pixelsAt = tiffHeaderSize(channels, icc);
  const head = Buffer.alloc(pixelsAt);
  head.write("II*\0", 0, "latin1");
  head.writeUInt32LE(8, 4);
  head.writeUInt16LE(count, 8);
  let at = 10;
  const entry = (tag: number, type: number, n: number, value: number) => {
    head.writeUInt16LE(tag, at);
    head.writeUInt16LE(type, at + 2);
    head.writeUInt32LE(n, at + 4);
    if (type === SHORT && n === 1) head.writeUInt16LE(value, at + 8);
    else head.writeUInt32LE(value, at + 8);
    at += 12;
  };
  entry(256, LONG, 1, width);
  entry(257, LONG, 1, height);
  entry(258, SHORT, channels, bitsAt); // BitsPerSample: 8 per channel, stored after the IFD
  entry(259, SHORT, 1, 1); // no compression
  entry(262, SHORT, 1, 2); // RGB
  entry(273, LONG, 1, pixelsAt); // the one strip
  entry(277, SHORT, 1, channels);
  entry(278, LONG, 1, height); // rows per strip
  entry(279, LONG, 1, data.length);
  entry(284, SHORT, 1, 1); // interleaved
  if (channels === 4) entry(338, SHORT, 1, 2); // the 4th channel is unassociated alpha
  entry(34675, UNDEFINED, icc.length, iccAt);
  head.writeUInt32LE(0, at); // no next IFD
  for (let c = 0; c < channels; c++) head.writeUInt16LE(8, bitsAt + 2 * c);
  icc.copy(head, iccAt);
  return head;
}
