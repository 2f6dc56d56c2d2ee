// A small TIFF writer for tests: classic or BigTIFF, either byte order, uncompressed 8-bit RGB in one
// strip, with extra tags and Exif/GPS sub-directories. Independent of src/ (which only reads TIFFs).

export type Tag =
  | { tag: number; ascii: string }
  | { tag: number; short: number[] }
  | { tag: number; long: number[] }
  | { tag: number; rational: [number, number][] }
  | { tag: number; ifd: Tag[] };

export interface TiffOptions {
  big?: boolean;
  le?: boolean;
  width: number;
  height: number;
  /** width * height * 3 bytes; or, with other tags, whatever the one strip holds (it starts at byte 8, or 16 in a BigTIFF) */
  rgb: Buffer;
  tags?: Tag[];
}

export function handTiff({ big = false, le = true, width, height, rgb, tags = [] }: TiffOptions): Buffer {
  const out: number[] = [];
  const u = (v: number, size: number, at?: number) => {
    const bytes: number[] = [];
    let x = BigInt(v);
    for (let i = 0; i < size; i++) {
      bytes.push(Number(x & 0xffn));
      x >>= 8n;
    }
    if (!le) bytes.reverse();
    if (at === undefined) out.push(...bytes);
    else for (const [i, b] of bytes.entries()) out[at + i] = b;
  };
  const off = big ? 8 : 4;
  out.push(...(le ? [0x49, 0x49] : [0x4d, 0x4d]));
  u(big ? 43 : 42, 2);
  if (big) {
    u(8, 2);
    u(0, 2);
  }
  const firstSlot = out.length;
  u(0, off);
  const pixelsAt = () => out.length;
  const writeIfd = (entries: Tag[]): number => {
    const sorted = [...entries].sort((a, b) => a.tag - b.tag);
    const at = out.length;
    u(sorted.length, big ? 8 : 2);
    const slots: { slot: number; e: Tag }[] = [];
    for (const e of sorted) {
      u(e.tag, 2);
      const [type, count, bytes] = encode(e);
      u(type, 2);
      u(count, off);
      const slot = out.length;
      if (bytes && bytes.length <= off) {
        out.push(...bytes, ...new Array(off - bytes.length).fill(0));
      } else {
        u(0, off);
        slots.push({ slot, e });
      }
    }
    u(0, off); // no next IFD
    for (const { slot, e } of slots) {
      if ("ifd" in e) {
        const sub = writeIfd(e.ifd);
        u(sub, off, slot);
      } else {
        const [, , bytes] = encode(e);
        if (out.length & 1) out.push(0);
        u(out.length, off, slot);
        out.push(...bytes!);
      }
    }
    return at;
  };
  const encode = (e: Tag): [number, number, number[] | undefined] => {
    const bytesOf = (values: number[], size: number) => {
      const saved = out.length;
      for (const v of values) u(v, size);
      return out.splice(saved);
    };
    if ("ascii" in e) return [2, e.ascii.length + 1, [...Buffer.from(`${e.ascii}\0`, "latin1")]];
    if ("short" in e) return [3, e.short.length, bytesOf(e.short, 2)];
    if ("long" in e) return [4, e.long.length, bytesOf(e.long, 4)];
    if ("rational" in e) return [5, e.rational.length, bytesOf(e.rational.flat(), 4)];
    return [big ? 16 : 4, 1, undefined]; // (a sub-directory: LONG, or LONG8 in a BigTIFF)
  };
  if (out.length & 1) out.push(0);
  const strip = pixelsAt();
  out.push(...rgb);
  const image: Tag[] = [
    { tag: 256, long: [width] },
    { tag: 257, long: [height] },
    { tag: 258, short: [8, 8, 8] },
    { tag: 259, short: [1] },
    { tag: 262, short: [2] },
    { tag: 273, long: [strip] },
    { tag: 277, short: [3] },
    { tag: 278, long: [height] },
    { tag: 279, long: [rgb.length] },
    { tag: 284, short: [1] },
  ];
  if (out.length & 1) out.push(0);
  // (a tag given in `tags` replaces the default one: compression 6 for an old-style JPEG TIFF, say)
  const ifd0 = writeIfd([...image.filter((t) => !tags.some((x) => x.tag === t.tag)), ...tags]);
  u(ifd0, off, firstSlot);
  return Buffer.from(out);
}
