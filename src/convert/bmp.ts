// BMP decoding: every header Windows and OS/2 wrote (core 12 bytes with 16-bit sizes, OS/2 v2 16 to 64,
// info 40, v2 52, v3 56, v4 108, v5 124), 1/2/4/8-bit palettes, 16/24/32-bit with or without bit fields,
// RLE4/RLE8, a JPEG or PNG inside. Damage (pixel data cut short, a palette index with no colour, a run past
// the row) is reported, never painted over; pixels the file leaves undefined on purpose are reported too.

export interface DecodedBmp {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Buffer;
  /** a JPEG or PNG stored whole inside the BMP: hand it to a decoder as it is */
  embedded?: Buffer;
  /** RLE pixels the file skips (delta codes, early end of line or bitmap): packed as white */
  undefinedPixels: number;
}

/** Why a BMP cannot be decoded: damaged data, or a variant no decoder here reads (`variant` names it). */
export class BmpError extends Error {
  constructor(
    readonly kind: "damaged" | "unsupported" | "corrupt",
    message: string,
  ) {
    super(message);
  }
}

const damaged = (m: string) => new BmpError("damaged", m);
const corrupt = (m: string) => new BmpError("corrupt", m);
const unsupported = (m: string) => new BmpError("unsupported", m);

interface Header {
  width: number;
  height: number;
  topDown: boolean;
  bits: number;
  compression: number;
  os2: boolean;
  headerSize: number;
  colours: number;
  pixelsAt: number;
  masks?: [number, number, number, number];
}

function header(b: Buffer): Header {
  if (b.length < 26) throw damaged("the file ends inside its header");
  const headerSize = b.readUInt32LE(14);
  const pixelsAt = b.readUInt32LE(10);
  if (headerSize === 12) {
    // OS/2 1.x and Windows 2.x: BITMAPCOREHEADER, unsigned 16-bit sizes, 3-byte palette entries
    const [width, height, planes, bits] = [b.readUInt16LE(18), b.readUInt16LE(20), b.readUInt16LE(22), b.readUInt16LE(24)];
    if (planes !== 1) throw corrupt(`its header says ${planes} colour planes (must be 1)`);
    return { width, height, topDown: false, bits, compression: 0, os2: true, headerSize, colours: 0, pixelsAt };
  }
  const windows = headerSize === 40 || headerSize === 52 || headerSize === 56 || headerSize === 108 || headerSize === 124;
  const os2 = !windows && headerSize >= 16 && headerSize <= 64;
  if (!windows && !os2) throw corrupt(`its header has an unknown size (${headerSize} bytes)`);
  if (b.length < 14 + headerSize) throw damaged("the file ends inside its header");
  const width = b.readInt32LE(18);
  const rawHeight = b.readInt32LE(22);
  const planes = b.readUInt16LE(26);
  const bits = b.readUInt16LE(28);
  const field = (at: number) => (headerSize >= at - 14 + 4 ? b.readUInt32LE(at) : 0);
  const compression = field(30);
  const colours = field(46);
  if (planes !== 1) throw corrupt(`its header says ${planes} colour planes (must be 1)`);
  if (width <= 0 || rawHeight === 0 || rawHeight === -2147483648) throw corrupt(`its header says ${width}x${rawHeight} pixels`);
  let masks: Header["masks"];
  if (!os2 && (compression === 3 || compression === 6)) {
    const inHeader = headerSize >= 52;
    const at = inHeader ? 54 : 14 + headerSize;
    const alpha = headerSize >= 56 || compression === 6;
    if (b.length < at + (alpha ? 16 : 12)) throw damaged("the file ends inside its colour masks");
    masks = [b.readUInt32LE(at), b.readUInt32LE(at + 4), b.readUInt32LE(at + 8), alpha ? b.readUInt32LE(at + 12) : 0];
  } else if (!os2 && headerSize >= 56 && compression === 0 && bits === 32) {
    // (a v3+ header may give an alpha mask for an uncompressed 32-bit image)
    const alpha = b.readUInt32LE(66);
    if (alpha) masks = [0xff0000, 0xff00, 0xff, alpha];
  }
  return {
    width,
    height: Math.abs(rawHeight),
    topDown: rawHeight < 0,
    bits,
    compression,
    os2,
    headerSize,
    colours,
    pixelsAt,
    ...(masks ? { masks } : {}),
  };
}

/** Decodes a BMP to 8-bit RGB or RGBA pixels, top row first. `maxPixels` is checked before anything is allocated. */
export function decodeBmp(b: Buffer, checkSize: (width: number, height: number) => void): DecodedBmp {
  const h = header(b);
  checkSize(h.width, h.height);
  const { width, height, bits, compression, os2 } = h;
  if (!os2 && (compression === 4 || compression === 5)) {
    const embedded = b.subarray(h.pixelsAt);
    if (embedded.length === 0) throw damaged("the file ends before its pixel data");
    return { width, height, channels: 3, data: Buffer.alloc(0), embedded, undefinedPixels: 0 };
  }
  if (os2 && compression === 3) throw unsupported("an OS/2 BMP with Huffman 1D compression");
  if (os2 && compression === 4) throw unsupported("an OS/2 BMP with RLE24 compression");
  const rle = compression === 1 || compression === 2;
  if (rle && h.topDown) throw corrupt("an RLE-compressed BMP cannot be stored top-down");
  const known =
    (compression === 0 && [1, 2, 4, 8, 16, 24, 32].includes(bits)) ||
    (compression === 1 && bits === 8) ||
    (compression === 2 && bits === 4) ||
    ((compression === 3 || compression === 6) && (bits === 16 || bits === 32));
  if (!known) {
    if (bits === 64) throw unsupported("a 64-bit BMP");
    throw corrupt(`its header gives ${bits} bits per pixel with compression ${compression}`);
  }
  const palette = bits <= 8 ? readPalette(b, h) : undefined;
  const masks = h.masks ?? (bits === 16 ? [0x7c00, 0x3e0, 0x1f, 0] : bits === 32 ? [0xff0000, 0xff00, 0xff, 0] : undefined);
  const channels = masks?.[3] ? 4 : rle ? 4 : 3;
  const data = Buffer.alloc(width * height * channels, 255);
  /** where stored row `y` goes in the output, top row first */
  const rowAt = (y: number) => (h.topDown ? y : height - 1 - y) * width * channels;
  if (rle) {
    const skipped = decodeRle(b, h, palette!, data);
    if (skipped === 0) return { width, height, channels: 3, data: dropAlpha(data), undefinedPixels: 0 };
    return { width, height, channels: 4, data, undefinedPixels: skipped };
  }
  const stride = Math.floor((bits * width + 31) / 32) * 4;
  const need = h.pixelsAt + stride * height;
  if (h.pixelsAt >= b.length) throw damaged("the file ends before its pixel data");
  if (need > b.length) throw damaged(`its pixel data is cut short (${b.length - h.pixelsAt} of ${stride * height} bytes)`);
  const fields = masks && maskFields(masks);
  for (let y = 0; y < height; y++) {
    const src = h.pixelsAt + y * stride;
    let out = rowAt(y);
    for (let x = 0; x < width; x++, out += channels) {
      if (palette) {
        const bit = x * bits;
        const index = (b[src + (bit >> 3)]! >> (8 - bits - (bit & 7))) & ((1 << bits) - 1);
        setColour(palette, index, data, out, x, y);
      } else if (bits === 24) {
        const at = src + x * 3;
        data[out] = b[at + 2]!;
        data[out + 1] = b[at + 1]!;
        data[out + 2] = b[at]!;
      } else {
        const px = bits === 16 ? b.readUInt16LE(src + x * 2) : b.readUInt32LE(src + x * 4);
        for (let c = 0; c < channels; c++) data[out + c] = fields![c]!(px);
      }
    }
  }
  return { width, height, channels, data, undefinedPixels: 0 };
}

function readPalette(b: Buffer, h: Header): Buffer[] {
  const entry = h.headerSize === 12 ? 3 : 4;
  const at = 14 + h.headerSize + (h.compression === 3 ? 12 : h.compression === 6 ? 16 : 0);
  const max = 1 << h.bits;
  const wanted = h.colours > 0 && h.colours < max ? h.colours : max;
  // (the palette ends where the pixels start, whatever the header says)
  const room = Math.floor((Math.min(h.pixelsAt, b.length) - at) / entry);
  const count = Math.max(0, Math.min(wanted, room));
  if (count === 0) throw damaged("it has no colour palette");
  const palette: Buffer[] = [];
  for (let i = 0; i < count; i++) palette.push(Buffer.from([b[at + i * entry + 2]!, b[at + i * entry + 1]!, b[at + i * entry]!]));
  return palette;
}

function setColour(palette: Buffer[], index: number, data: Buffer, out: number, x: number, y: number): void {
  const colour = palette[index];
  if (!colour) throw damaged(`pixel (${x}, ${y}) uses colour ${index}, which its palette of ${palette.length} does not have`);
  colour.copy(data, out);
}

/** Per channel, a function from a pixel's bits to 0-255, for bit-field masks (a 0 mask: opaque alpha). */
function maskFields(masks: readonly number[]): ((px: number) => number)[] {
  return masks.map((mask) => {
    if (!mask) return () => 255;
    const shift = 31 - Math.clz32(mask & -mask); // its trailing zero bits
    const max = (mask >>> 0) / 2 ** shift;
    return (px: number) => Math.round((((px & mask) >>> 0) / 2 ** shift / max) * 255);
  });
}

function dropAlpha(rgba: Buffer): Buffer {
  const rgb = Buffer.alloc((rgba.length / 4) * 3);
  for (let i = 0, o = 0; i < rgba.length; i += 4, o += 3) rgba.copy(rgb, o, i, i + 3);
  return rgb;
}

/**
 * RLE4/RLE8 into RGBA (pre-filled white, alpha 255 wherever a pixel was written, 0 elsewhere). Returns
 * how many pixels the file leaves undefined; throws on damage: data ending before the end-of-bitmap
 * marker, a run past the end of its row or the image.
 */
function decodeRle(b: Buffer, h: Header, palette: Buffer[], data: Buffer): number {
  const { width, height } = h;
  const four = h.compression === 2;
  for (let i = 3; i < data.length; i += 4) data[i] = 0;
  let written = 0;
  let [x, y] = [0, 0]; // y counts from the bottom row, as stored
  let at = h.pixelsAt;
  const put = (index: number) => {
    if (x >= width) throw damaged(`a run goes past the end of row ${height - 1 - y}`);
    if (y >= height) throw damaged("a run goes past the top of the image");
    const out = ((height - 1 - y) * width + x) * 4;
    setColour(palette, index, data, out, x, height - 1 - y);
    data[out + 3] = 255;
    x++;
    written++;
  };
  const byte = () => {
    if (at >= b.length) throw damaged("its compressed pixel data is cut short (no end-of-bitmap marker)");
    return b[at++]!;
  };
  for (;;) {
    const count = byte();
    const value = byte();
    if (count > 0) {
      for (let i = 0; i < count; i++) put(four ? (i & 1 ? value & 15 : value >> 4) : value);
    } else if (value === 0) {
      [x, y] = [0, y + 1];
    } else if (value === 1) {
      break;
    } else if (value === 2) {
      const [dx, dy] = [byte(), byte()];
      [x, y] = [x + dx, y + dy];
    } else {
      const bytes = four ? Math.ceil(value / 2) : value;
      const start = at;
      for (let i = 0; i < value; i++) {
        const v = four ? b[start + (i >> 1)] : b[start + i];
        if (v === undefined) throw damaged("its compressed pixel data is cut short (no end-of-bitmap marker)");
        put(four ? (i & 1 ? v & 15 : v >> 4) : v);
      }
      at = start + bytes + (bytes & 1);
    }
  }
  return width * height - written;
}
