// The index of packed pictures as bytes (docs/photo-checks.md, "The index"): the journal's records, each
// checked by a CRC-32 so that a torn or damaged one is skipped and never misread, and the snapshot, whose
// columns are read in place. Pure: pictureStore.ts does the reading and writing.

import { crc32 } from "node:zlib";
import type { IndexedPicture } from "./pictures.js";

/** What one picture costs the index: the hash, a SHA-256 prefix, and where it was packed. */
export type NewPicture = Pick<IndexedPicture, "hash" | "sha256" | "workOrder" | "entry">;

/** The bytes of the SHA-256 prefix kept: 128 bits tell pictures apart as surely as 256. */
export const SHA_BYTES = 16;

/** Strings by number: decoded when asked (a snapshot's are not decoded at load). */
export interface Strings {
  get(i: number): string;
  readonly count: number;
}

/** Pictures column by column (one outbox's snapshot or journal), as the lookup reads them. */
export interface Columns {
  n: number;
  hi: Uint32Array;
  lo: Uint32Array;
  /** SHA_BYTES per picture; all zero when unknown */
  sha: Uint8Array;
  wo: Uint32Array;
  /** the entry: "/name" for `<wo>/name`, else the name itself ("\0"-escaped when it starts with "/" or "\0") */
  entry: Uint32Array;
  arch: Uint32Array;
  strings: Strings;
  /** per archive: its name (a string) and when it was recorded (ms) */
  archName: Uint32Array;
  archAt: Float64Array;
}

export function packEntry(workOrder: string, entry: string): string {
  if (entry.startsWith(`${workOrder}/`)) return entry.slice(workOrder.length);
  return entry.startsWith("/") || entry.startsWith("\0") ? `\0${entry}` : entry;
}
export function unpackEntry(workOrder: string, stored: string): string {
  if (stored.startsWith("/")) return workOrder + stored;
  return stored.startsWith("\0") ? stored.slice(1) : stored;
}

/** Builds columns picture by picture, interning strings. */
export class ColumnsBuilder {
  private n = 0;
  private hi: Uint32Array;
  private lo: Uint32Array;
  private sha: Uint8Array;
  private wo: Uint32Array;
  private entry: Uint32Array;
  private arch: Uint32Array;
  private readonly ids = new Map<string, number>();
  readonly strings: string[] = [];
  private archName: number[] = [];
  private archAt: number[] = [];

  constructor(capacity = 1024) {
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.sha = new Uint8Array(capacity * SHA_BYTES);
    this.wo = new Uint32Array(capacity);
    this.entry = new Uint32Array(capacity);
    this.arch = new Uint32Array(capacity);
  }

  /** A builder that starts with every picture of `c`, copied whole (compaction: the snapshot, then the journal). */
  static from(c: Columns): ColumnsBuilder {
    const b = new ColumnsBuilder(Math.max(1024, Math.ceil(c.n * 1.25)));
    b.n = c.n;
    b.hi.set(c.hi);
    b.lo.set(c.lo);
    b.sha.set(c.sha);
    b.wo.set(c.wo);
    b.entry.set(c.entry);
    b.arch.set(c.arch);
    for (let i = 0; i < c.strings.count; i++) {
      const s = c.strings.get(i);
      b.strings.push(s);
      if (!b.ids.has(s)) b.ids.set(s, i);
    }
    b.archName = Array.from(c.archName);
    b.archAt = Array.from(c.archAt);
    return b;
  }

  intern(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.strings.push(s) - 1;
      this.ids.set(s, id);
    }
    return id;
  }

  archive(name: string, at: number): number {
    this.archName.push(this.intern(name));
    return this.archAt.push(at) - 1;
  }

  push(hi: number, lo: number, sha: Uint8Array | undefined, wo: string, entry: string, arch: number): void {
    this.pushRefs(hi, lo, sha, this.intern(wo), this.intern(entry), arch);
  }

  private pushRefs(hi: number, lo: number, sha: Uint8Array | undefined, wo: number, entry: number, arch: number): void {
    if (this.n === this.hi.length) this.grow();
    const i = this.n++;
    this.hi[i] = hi;
    this.lo[i] = lo;
    if (sha) this.sha.set(sha.subarray(0, SHA_BYTES), i * SHA_BYTES);
    this.wo[i] = wo;
    this.entry[i] = entry;
    this.arch[i] = arch;
  }

  private grow(): void {
    const size = this.hi.length * 2;
    const more = <T extends Uint32Array | Uint8Array>(a: T, n: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a);
      return b;
    };
    this.hi = more(this.hi, size);
    this.lo = more(this.lo, size);
    this.wo = more(this.wo, size);
    this.entry = more(this.entry, size);
    this.arch = more(this.arch, size);
    this.sha = more(this.sha, size * SHA_BYTES);
  }

  build(): Columns {
    const n = this.n;
    const strings = this.strings;
    return {
      n,
      hi: this.hi.subarray(0, n),
      lo: this.lo.subarray(0, n),
      sha: this.sha.subarray(0, n * SHA_BYTES),
      wo: this.wo.subarray(0, n),
      entry: this.entry.subarray(0, n),
      arch: this.arch.subarray(0, n),
      strings: { get: (i) => strings[i]!, count: strings.length },
      archName: Uint32Array.from(this.archName),
      archAt: Float64Array.from(this.archAt),
    };
  }

  /** Copies every picture of `c` (each of its strings decoded once). */
  add(c: Columns): void {
    const archives = new Map<number, number>();
    const strings = new Map<number, number>();
    const string = (id: number) => {
      let mine = strings.get(id);
      if (mine === undefined) {
        mine = this.intern(c.strings.get(id));
        strings.set(id, mine);
      }
      return mine;
    };
    for (let i = 0; i < c.n; i++) {
      const a = c.arch[i]!;
      let mine = archives.get(a);
      if (mine === undefined) {
        mine = this.archive(c.strings.get(c.archName[a]!), c.archAt[a]!);
        archives.set(a, mine);
      }
      const sha = c.sha.subarray(i * SHA_BYTES, (i + 1) * SHA_BYTES);
      this.pushRefs(c.hi[i]!, c.lo[i]!, sha, string(c.wo[i]!), string(c.entry[i]!), mine);
    }
  }
}

export function splitHash(hash: bigint): { hi: number; lo: number } {
  const h = BigInt.asUintN(64, hash);
  return { hi: Number(h >> 32n), lo: Number(h & 0xffffffffn) };
}

/** The first SHA_BYTES of a SHA-256 given in hex; undefined when there is none (or it is all zeros: unknown). */
export function shaPrefix(hex: string | undefined): Uint8Array | undefined {
  if (!hex || !/^[0-9a-f]{32}/i.test(hex)) return undefined;
  const prefix = Buffer.from(hex.slice(0, SHA_BYTES * 2), "hex");
  return prefix.some((b) => b !== 0) ? prefix : undefined;
}

// The journal: a header, then records. Each record is MAGIC, payload length, CRC-32 of length and payload,
// payload. A record that does not check (torn by a crash mid-append, or damaged) is skipped: the reader looks
// for the next MAGIC whose record checks.
const JOURNAL_MAGIC = Buffer.from("WOPJRNL1", "latin1");
const RECORD_MAGIC = Buffer.from("WOPR", "latin1");
export const JOURNAL_HEADER = 16; // magic, generation u32, CRC-32 of both
const RECORD_HEAD = 12; // magic, length u32, CRC-32 u32
const PICTURE_BYTES = 16 + SHA_BYTES; // lo, hi, work order, entry (u32 each), SHA prefix

export function journalHeader(generation: number): Buffer {
  const b = Buffer.alloc(JOURNAL_HEADER);
  JOURNAL_MAGIC.copy(b, 0);
  b.writeUInt32LE(generation, 8);
  b.writeUInt32LE(crc32(b.subarray(0, 12)), 12);
  return b;
}

function readJournalHeader(b: Buffer): number | undefined {
  if (b.length < JOURNAL_HEADER || !b.subarray(0, 8).equals(JOURNAL_MAGIC)) return undefined;
  return crc32(b.subarray(0, 12)) === b.readUInt32LE(12) ? b.readUInt32LE(8) : undefined;
}

/** One archive's record: its name, when, and its pictures (with their strings in a table of its own). */
export function encodeRecord(archive: string, at: number, pictures: readonly NewPicture[]): Buffer {
  const strings = [archive];
  const ids = new Map([[archive, 0]]);
  const id = (s: string) => {
    let i = ids.get(s);
    if (i === undefined) {
      i = strings.push(s) - 1;
      ids.set(s, i);
    }
    return i;
  };
  const refs = pictures.map((p) => [id(p.workOrder), id(packEntry(p.workOrder, p.entry))] as const);
  const encoded = strings.map((s) => Buffer.from(s, "utf8"));
  const size = 1 + 8 + 4 + encoded.reduce((n, s) => n + 4 + s.length, 0) + 4 + pictures.length * PICTURE_BYTES;
  const b = Buffer.alloc(RECORD_HEAD + size);
  let o = RECORD_HEAD;
  o = b.writeUInt8(1, o);
  o = b.writeDoubleLE(at, o);
  o = b.writeUInt32LE(strings.length, o);
  for (const s of encoded) {
    o = b.writeUInt32LE(s.length, o);
    o += s.copy(b, o);
  }
  o = b.writeUInt32LE(pictures.length, o);
  for (const [i, p] of pictures.entries()) {
    const { hi, lo } = splitHash(p.hash);
    o = b.writeUInt32LE(lo, o);
    o = b.writeUInt32LE(hi, o);
    o = b.writeUInt32LE(refs[i]![0], o);
    o = b.writeUInt32LE(refs[i]![1], o);
    const sha = shaPrefix(p.sha256);
    if (sha) b.set(sha, o);
    o += SHA_BYTES;
  }
  RECORD_MAGIC.copy(b, 0);
  b.writeUInt32LE(size, 4);
  b.writeUInt32LE(crc32(b.subarray(RECORD_HEAD), crc32(b.subarray(4, 8))), 8);
  return b;
}

export interface JournalRecord {
  archive: string;
  /** the record as it is in the journal, head included (compaction carries it over as it is) */
  raw: Buffer;
  at: number;
  pictures: { hi: number; lo: number; sha: Uint8Array; wo: string; entry: string }[];
}

/** A checked payload as a record; undefined when it does not parse (it checked: a writer's bug, or damage). */
function decodeRecord(p: Buffer): Omit<JournalRecord, "raw"> | undefined {
  try {
    let o = 0;
    if (p.readUInt8(o++) !== 1) return undefined;
    const at = p.readDoubleLE(o);
    o += 8;
    const count = p.readUInt32LE(o);
    o += 4;
    const strings: string[] = [];
    for (let i = 0; i < count; i++) {
      const len = p.readUInt32LE(o);
      if (o + 4 + len > p.length) return undefined;
      strings.push(p.toString("utf8", o + 4, o + 4 + len));
      o += 4 + len;
    }
    const n = p.readUInt32LE(o);
    o += 4;
    if (o + n * PICTURE_BYTES !== p.length) return undefined;
    const pictures: JournalRecord["pictures"] = [];
    for (let i = 0; i < n; i++, o += PICTURE_BYTES) {
      const wo = strings[p.readUInt32LE(o + 8)];
      const entry = strings[p.readUInt32LE(o + 12)];
      if (wo === undefined || entry === undefined) return undefined;
      const sha = p.subarray(o + 16, o + 16 + SHA_BYTES);
      pictures.push({ lo: p.readUInt32LE(o), hi: p.readUInt32LE(o + 4), sha, wo, entry });
    }
    return strings[0] === undefined ? undefined : { archive: strings[0], at, pictures };
  } catch {
    return undefined;
  }
}

export interface JournalRead {
  /** the snapshot generation it follows; undefined when its header is unreadable */
  generation: number | undefined;
  records: JournalRecord[];
  /** stretches that are not a record and not a torn append: damage */
  damaged: number;
  /** bytes of appends torn by a crash (never committed: the commit waits for the fsync) */
  tornBytes: number;
}

/**
 * Whether bytes that are not a record are an append a crash cut short: shorter than a record's head, or a
 * head that declares more than is there, or zeros (a file extended but never written). Anything else is damage.
 */
function isTorn(b: Buffer): boolean {
  if (b.length < RECORD_HEAD || b.every((x) => x === 0)) return true;
  return b.subarray(0, 4).equals(RECORD_MAGIC) && RECORD_HEAD + b.readUInt32LE(4) > b.length;
}

/** The journal's records that check, in order; what does not check is skipped (counted), never misread. */
export function readJournal(b: Buffer): JournalRead {
  const read: JournalRead = { generation: readJournalHeader(b), records: [], damaged: 0, tornBytes: 0 };
  let o = read.generation === undefined ? 0 : JOURNAL_HEADER;
  let bad = -1; // where the bytes that are not a record began
  const skipped = (end: number) => {
    if (bad < 0) return;
    if (isTorn(b.subarray(bad, end))) read.tornBytes += end - bad;
    else read.damaged++;
    bad = -1;
  };
  while (o < b.length) {
    const len = o + RECORD_HEAD <= b.length && b.subarray(o, o + 4).equals(RECORD_MAGIC) ? b.readUInt32LE(o + 4) : -1;
    const end = o + RECORD_HEAD + len;
    const rec =
      len >= 0 &&
      end <= b.length &&
      crc32(b.subarray(o + RECORD_HEAD, end), crc32(b.subarray(o + 4, o + 8))) === b.readUInt32LE(o + 8)
        ? decodeRecord(b.subarray(o + RECORD_HEAD, end))
        : undefined;
    if (!rec) {
      if (bad < 0) bad = o;
      const next = b.indexOf(RECORD_MAGIC, o + 1);
      o = next < 0 ? b.length : next;
      continue;
    }
    skipped(o);
    read.records.push({ ...rec, raw: b.subarray(o, end) });
    o = end;
  }
  skipped(b.length);
  return read;
}

// The snapshot: a header, the columns (aligned, so that they are read in place), the strings, and a CRC-32 of
// everything before it.
const SNAPSHOT_MAGIC = Buffer.from("WOPSNAP1", "latin1");
const SNAPSHOT_HEADER = 32; // magic, generation, pictures, archives, strings, string bytes, (reserved)

function snapshotLayout(n: number, archives: number, strings: number, stringBytes: number) {
  const hi = SNAPSHOT_HEADER;
  const lo = hi + 4 * n;
  const wo = lo + 4 * n;
  const entry = wo + 4 * n;
  const arch = entry + 4 * n;
  const archAt = Math.ceil((arch + 4 * n) / 8) * 8;
  const archName = archAt + 8 * archives;
  const offsets = archName + 4 * archives;
  const sha = offsets + 4 * (strings + 1);
  const bytes = sha + SHA_BYTES * n;
  const crc = bytes + stringBytes;
  return { hi, lo, wo, entry, arch, archAt, archName, offsets, sha, bytes, crc, size: crc + 4 };
}

export function encodeSnapshot(c: Columns, strings: readonly string[], generation: number): Buffer {
  const encoded = strings.map((s) => Buffer.from(s, "utf8"));
  const stringBytes = encoded.reduce((n, s) => n + s.length, 0);
  const l = snapshotLayout(c.n, c.archAt.length, strings.length, stringBytes);
  const b = Buffer.alloc(l.size);
  SNAPSHOT_MAGIC.copy(b, 0);
  for (const [i, v] of [generation, c.n, c.archAt.length, strings.length, stringBytes].entries()) b.writeUInt32LE(v, 8 + 4 * i);
  const put = (a: Uint32Array | Float64Array | Uint8Array, at: number) =>
    b.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
  put(c.hi, l.hi);
  put(c.lo, l.lo);
  put(c.wo, l.wo);
  put(c.entry, l.entry);
  put(c.arch, l.arch);
  put(c.archAt, l.archAt);
  put(c.archName, l.archName);
  put(c.sha, l.sha);
  let o = l.bytes;
  for (const [i, s] of encoded.entries()) {
    b.writeUInt32LE(o - l.bytes, l.offsets + 4 * i);
    o += s.copy(b, o);
  }
  b.writeUInt32LE(o - l.bytes, l.offsets + 4 * strings.length);
  b.writeUInt32LE(crc32(b.subarray(0, l.crc)), l.crc);
  return b;
}

/** A typed array over the file's bytes where they are aligned (a fresh read is), a copy where not. */
function u32(b: Buffer, at: number, n: number): Uint32Array {
  if ((b.byteOffset + at) % 4 === 0) return new Uint32Array(b.buffer, b.byteOffset + at, n);
  return new Uint32Array(Uint8Array.from(b.subarray(at, at + 4 * n)).buffer);
}
function f64(b: Buffer, at: number, n: number): Float64Array {
  if ((b.byteOffset + at) % 8 === 0) return new Float64Array(b.buffer, b.byteOffset + at, n);
  return new Float64Array(Uint8Array.from(b.subarray(at, at + 8 * n)).buffer);
}

/** The generation in a snapshot's first bytes (0 when they are not a snapshot's). */
export function snapshotGeneration(head: Buffer): number {
  return head.length >= 12 && head.subarray(0, 8).equals(SNAPSHOT_MAGIC) ? head.readUInt32LE(8) : 0;
}

/** The snapshot's columns, read in place; undefined when it does not check (damage). */
export function readSnapshot(b: Buffer): { generation: number; columns: Columns } | undefined {
  if (b.length < SNAPSHOT_HEADER + 4 || !b.subarray(0, 8).equals(SNAPSHOT_MAGIC)) return undefined;
  const [generation, n, archives, count, stringBytes] = [0, 1, 2, 3, 4].map((i) => b.readUInt32LE(8 + 4 * i)) as number[];
  const l = snapshotLayout(n!, archives!, count!, stringBytes!);
  if (l.size !== b.length || crc32(b.subarray(0, l.crc)) !== b.readUInt32LE(l.crc)) return undefined;
  const offsets = u32(b, l.offsets, count! + 1);
  const bytes = b.subarray(l.bytes, l.crc);
  const strings: Strings = { get: (i) => bytes.toString("utf8", offsets[i], offsets[i + 1]), count: count! };
  return {
    generation: generation!,
    columns: {
      n: n!,
      hi: u32(b, l.hi, n!),
      lo: u32(b, l.lo, n!),
      wo: u32(b, l.wo, n!),
      entry: u32(b, l.entry, n!),
      arch: u32(b, l.arch, n!),
      archAt: f64(b, l.archAt, archives!),
      archName: u32(b, l.archName, archives!),
      sha: b.subarray(l.sha, l.sha + SHA_BYTES * n!),
      strings,
    },
  };
}
