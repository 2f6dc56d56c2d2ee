import { createHash, type Hash } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import { crc32 } from "../core/crc32.js";
import { runningSha256 } from "../core/sha256.js";

/** Where a stored entry's data sits in the archive, and the CRC-32 it must have. */
export interface DataRange {
  name: string;
  start: number;
  end: number;
  /** of the data as stored, or for a deflated entry of its data once inflated */
  crc32: number;
  /** a deflated entry (JSON): its bytes are kept with its header for the verification, which inflates them */
  deflated?: boolean;
}

export interface ReadBack {
  sha256: string;
  bytes: number;
  /** the stored entries whose data was read back and matched */
  checked: DataRange[];
  /**
   * For each of them, the bytes read just before its data (its local header among them), and for each deflated
   * entry its header and data, in file order: the verification's reader takes them from here rather than
   * reading the file again.
   */
  before?: { start: number; bytes: Buffer }[];
}

/** Bytes kept before an entry's data: a local header (30), its name and a ZIP64 extra (20) at most. */
export function headerRoom(name: string): number {
  return 30 + Buffer.byteLength(name, "utf8") + 20;
}

/**
 * The commit protocol's read-back, fed the file's bytes in order: SHA-256 of all of them, and each
 * stored entry's data checked against its CRC-32 (ranges must be announced before their bytes arrive).
 */
export class ReadBackCheck {
  private readonly ranges: DataRange[] = [];
  private next = 0;
  private crc = 0;
  private readonly before: { start: number; bytes: Buffer }[] = [];
  /** the first of `before` not filled yet */
  private filling = 0;
  /** where the last bytes kept end (an entry's header starts at or after it) */
  private keptTo = 0;
  /** bytes fed so far */
  bytes = 0;

  /** `hash`: the SHA-256 kept here, or null when the caller hashes the bytes itself (and gives digest() the result) */
  constructor(private readonly hash: Hash | null = createHash("sha256")) {}

  expect(range: DataRange): void {
    if (!range.deflated) this.ranges.push(range);
    const start = Math.max(this.keptTo, range.start - headerRoom(range.name));
    const end = range.deflated ? range.end : range.start;
    // (not when they were read before the range was told: a header written ahead of its data, a copy's)
    if (start < this.bytes) return;
    this.before.push({ start, bytes: Buffer.allocUnsafe(end - start) });
    this.keptTo = end;
  }

  update(chunk: Buffer): void {
    const at = this.bytes;
    const chunkEnd = at + chunk.length;
    this.hash?.update(chunk);
    while (this.filling < this.before.length && this.before[this.filling]!.start < chunkEnd) {
      const b = this.before[this.filling]!;
      const end = b.start + b.bytes.length;
      if (end > at) chunk.copy(b.bytes, Math.max(0, at - b.start), Math.max(b.start, at) - at, Math.min(end, chunkEnd) - at);
      if (end > chunkEnd) break;
      this.filling++;
    }
    while (this.next < this.ranges.length && this.ranges[this.next]!.start < chunkEnd) {
      const r = this.ranges[this.next]!;
      this.crc = crc32(chunk.subarray(Math.max(r.start, at) - at, Math.min(r.end, chunkEnd) - at), this.crc);
      if (r.end > chunkEnd) break;
      if (this.crc >>> 0 !== r.crc32) throw new Error(`${r.name}: data CRC ${this.crc >>> 0} does not match ${r.crc32}`);
      this.crc = 0;
      this.next++;
    }
    this.bytes = chunkEnd;
  }

  digest(file: string, sha256?: string): ReadBack {
    if (this.next !== this.ranges.length) throw new Error(`${file}: ends before the data of ${this.ranges[this.next]!.name}`);
    return { sha256: sha256 ?? this.hash!.digest("hex"), bytes: this.bytes, checked: this.ranges, before: this.before };
  }
}

/** (the writer tells of final bytes every megabyte: a read of more would be rare) */
const CHUNK = 1024 * 1024;

/**
 * Reads an archive back while it is still being written, a step behind the writer: the writer reports each
 * byte range it will not touch again, and this reader checks it from the file (its own file descriptor, so
 * what it sees is what the file holds), hashing each chunk on the SHA-256 binding's thread while it reads the
 * next. The second read then overlaps the writing instead of following it. (It ran on a worker thread: that
 * thread's start cost some 60 ms of CPU an archive, more than the reads it saved the main thread.)
 */
export class TrailingReadBack {
  private readonly check = new ReadBackCheck(null);
  private readonly hash = runningSha256();
  private readonly buffers = [Buffer.allocUnsafeSlow(CHUNK), Buffer.allocUnsafeSlow(CHUNK)];
  private turn = 0;
  private fh: FileHandle | undefined;
  /** the reads so far, in the order they were asked for */
  private reading: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly file: string) {}

  /** Bytes up to `upTo` are final; `ranges` are the entries' data among them not announced yet. */
  settled(upTo: number, ranges: DataRange[]): void {
    this.reading = this.reading.then(() => this.readTo(upTo, ranges));
    this.reading.catch(() => undefined); // (thrown by end())
  }

  /** The file is complete at `size` bytes, with `ranges` not announced yet: read the rest and return the result. */
  async end(size: number, ranges: DataRange[]): Promise<ReadBack> {
    this.settled(size, ranges);
    try {
      await this.reading;
      const { bytesRead } = await this.fh!.read(this.buffers[0]!, 0, 1, size);
      if (bytesRead !== 0) throw new Error(`${this.file}: longer than the ${size} bytes written`);
      return this.check.digest(this.file, this.hash.hex());
    } finally {
      await this.stop();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.reading.catch(() => undefined);
    await this.fh?.close();
    this.fh = undefined;
  }

  private async readTo(upTo: number, ranges: DataRange[]): Promise<void> {
    if (this.stopped) throw new Error(`${this.file}: the read-back was stopped`);
    for (const r of ranges) this.check.expect(r);
    this.fh ??= await open(this.file, "r");
    // (the chunk before is hashed while this one is read: into the other buffer)
    let hashing: Promise<unknown> = Promise.resolve();
    try {
      while (this.check.bytes < upTo) {
        const buffer = this.buffers[this.turn++ % 2]!;
        const { bytesRead } = await this.fh.read(buffer, 0, Math.min(CHUNK, upTo - this.check.bytes), this.check.bytes);
        if (bytesRead === 0) throw new Error(`${this.file}: ends at ${this.check.bytes} bytes, before ${upTo}`);
        const chunk = buffer.subarray(0, bytesRead);
        this.check.update(chunk);
        await hashing;
        hashing = this.hash.update(chunk);
      }
    } finally {
      await hashing;
    }
  }
}
