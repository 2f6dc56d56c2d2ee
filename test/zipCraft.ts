// Hostile zips made byte by byte, as no honest writer makes them: central directory entries that point at
// any local record (overlapping ones), declared sizes that lie, zip64 records or not.
import { deflateRawSync, constants as z } from "node:zlib";
import { crc32 } from "../src/core/crc32.js";

export interface LocalRecord {
  name: string;
  /** the bytes as stored: deflated when `deflated` */
  data: Buffer;
  deflated: boolean;
  crc: number;
  /** uncompressed size its headers declare */
  size: number;
}

export interface CentralRecord {
  name: string;
  /** which local record it points at */
  local: number;
  /** a declared size other than the local record's */
  size?: number;
}

const MiB = 1 << 20;
// 1 MiB of zeros as a non-final deflate block that ends byte-aligned with no back-reference across it:
// repeated n times (and closed with an empty final block) it is a valid stream of n MiB of zeros
const ZERO_MIB_BLOCK = deflateRawSync(Buffer.alloc(MiB), { finishFlush: z.Z_FULL_FLUSH });
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);

// (made once a size in a worker: a table of rows asks for the same few sizes again and again)
const zerosMade = new Map<number, { data: Buffer; crc: number }>();

/** `mib` MiB of zeros, deflated in ~1 KB a MiB; its CRC computed only up to 64 MiB (a larger one gets 0). */
export function zeros(name: string, mib: number): LocalRecord {
  let made = zerosMade.get(mib);
  if (!made) {
    const data = Buffer.concat([...Array.from({ length: mib }, () => ZERO_MIB_BLOCK), FINAL_EMPTY_BLOCK]);
    const mibOfZeros = Buffer.alloc(MiB);
    let crc = 0;
    if (mib <= 64) for (let i = 0; i < mib; i++) crc = crc32(mibOfZeros, crc);
    made = { data, crc: crc >>> 0 };
    zerosMade.set(mib, made);
  }
  return { name, ...made, deflated: true, size: mib * MiB };
}

/** An honest entry's bytes, deflated. */
export function deflated(name: string, bytes: Buffer): LocalRecord {
  return { name, data: deflateRawSync(bytes), deflated: true, crc: crc32(bytes, 0) >>> 0, size: bytes.length };
}

/** A zip whose central directory lists `centrals`, each pointing at one of `locals` (written in order). */
export function craftZip(locals: LocalRecord[], centrals: CentralRecord[], zip64: boolean): Buffer {
  const parts: Buffer[] = [];
  const offsets: number[] = [];
  let at = 0;
  const put = (b: Buffer): void => {
    parts.push(b);
    at += b.length;
  };
  const u32 = (n: number): number => (zip64 ? 0xffffffff : n);
  for (const l of locals) {
    offsets.push(at);
    const name = Buffer.from(l.name);
    const extra = zip64 ? zip64Extra([l.size, l.data.length]) : Buffer.alloc(0);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(zip64 ? 45 : 20, 4);
    h.writeUInt16LE(0x0800, 6);
    h.writeUInt16LE(l.deflated ? 8 : 0, 8);
    h.writeUInt32LE(l.crc, 14);
    h.writeUInt32LE(u32(l.data.length), 18);
    h.writeUInt32LE(u32(l.size), 22);
    h.writeUInt16LE(name.length, 26);
    h.writeUInt16LE(extra.length, 28);
    put(Buffer.concat([h, name, extra, l.data]));
  }
  const cdStart = at;
  for (const c of centrals) {
    const l = locals[c.local]!;
    const size = c.size ?? l.size;
    const name = Buffer.from(c.name);
    const extra = zip64 ? zip64Extra([size, l.data.length, offsets[c.local]!]) : Buffer.alloc(0);
    const h = Buffer.alloc(46);
    h.writeUInt32LE(0x02014b50, 0);
    h.writeUInt16LE(zip64 ? 45 : 20, 4);
    h.writeUInt16LE(zip64 ? 45 : 20, 6);
    h.writeUInt16LE(0x0800, 8);
    h.writeUInt16LE(l.deflated ? 8 : 0, 10);
    h.writeUInt32LE(l.crc, 16);
    h.writeUInt32LE(u32(l.data.length), 20);
    h.writeUInt32LE(u32(size), 24);
    h.writeUInt16LE(name.length, 28);
    h.writeUInt16LE(extra.length, 30);
    h.writeUInt32LE(u32(offsets[c.local]!), 42);
    put(Buffer.concat([h, name, extra]));
  }
  const cdSize = at - cdStart;
  if (zip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(centrals.length), 24);
    rec.writeBigUInt64LE(BigInt(centrals.length), 32);
    rec.writeBigUInt64LE(BigInt(cdSize), 40);
    rec.writeBigUInt64LE(BigInt(cdStart), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(at), 8);
    locator.writeUInt32LE(1, 16);
    put(Buffer.concat([rec, locator]));
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(zip64 ? 0xffff : centrals.length, 8);
  end.writeUInt16LE(zip64 ? 0xffff : centrals.length, 10);
  end.writeUInt32LE(zip64 ? 0xffffffff : cdSize, 12);
  end.writeUInt32LE(zip64 ? 0xffffffff : cdStart, 16);
  put(end);
  return Buffer.concat(parts);
}

function zip64Extra(values: number[]): Buffer {
  const b = Buffer.alloc(4 + 8 * values.length);
  b.writeUInt16LE(0x0001, 0);
  b.writeUInt16LE(8 * values.length, 2);
  for (const [i, v] of values.entries()) b.writeBigUInt64LE(BigInt(v), 4 + 8 * i);
  return b;
}

/**
 * A zip64 archive of `n` empty stored entries (WO_<i/1000>/meter-<i%1000>.jpg), each with its own local
 * record, or (`shared`) all pointing at the first one: a central directory as long as a caller likes.
 */
export function manyEntries(n: number, shared = false): Buffer {
  const name = (i: number) => Buffer.from(`WO_${Math.floor(i / 1000)}/meter-${i % 1000}.jpg`);
  const parts: Buffer[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    offsets.push(at);
    const nm = name(i);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(nm.length, 26);
    parts.push(h, nm);
    at += 30 + nm.length;
  }
  const cdStart = at;
  for (let i = 0; i < n; i++) {
    const nm = name(i);
    const h = Buffer.alloc(46);
    h.writeUInt32LE(0x02014b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(20, 6);
    h.writeUInt16LE(nm.length, 28);
    h.writeUInt32LE(shared ? 0 : offsets[i]!, 42);
    parts.push(h, nm);
    at += 46 + nm.length;
  }
  const rec = Buffer.alloc(56);
  rec.writeUInt32LE(0x06064b50, 0);
  rec.writeBigUInt64LE(44n, 4);
  rec.writeUInt16LE(45, 12);
  rec.writeUInt16LE(45, 14);
  rec.writeBigUInt64LE(BigInt(n), 24);
  rec.writeBigUInt64LE(BigInt(n), 32);
  rec.writeBigUInt64LE(BigInt(at - cdStart), 40);
  rec.writeBigUInt64LE(BigInt(cdStart), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(at), 8);
  locator.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(0xffffffff, 12);
  end.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([...parts, rec, locator, end]);
}
