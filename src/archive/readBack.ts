import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
import { crc32 } from "../core/crc32.js";

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
  private readonly hash = createHash("sha256");
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
    this.hash.update(chunk);
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

  digest(file: string): ReadBack {
    if (this.next !== this.ranges.length) throw new Error(`${file}: ends before the data of ${this.ranges[this.next]!.name}`);
    return { sha256: this.hash.digest("hex"), bytes: this.bytes, checked: this.ranges, before: this.before };
  }
}

export type ReadBackMessage = { upTo: number; ranges: DataRange[]; end?: boolean };
export type ReadBackReply = { ok: true; readBack: ReadBack } | { ok: false; message: string };

/**
 * Reads an archive back while it is still being written, a step behind the writer, on a worker thread:
 * the writer reports each byte range it will not touch again, and this reader hashes and checks it from
 * the file (its own file descriptor, so what it sees is what the file holds). The second read then
 * overlaps the writing instead of following it.
 */
export class TrailingReadBack {
  private readonly worker: Worker;
  private readonly result: Promise<ReadBack>;

  constructor(file: string) {
    this.worker = new Worker(new URL("./readBackWorker.js", import.meta.url), { workerData: { file } });
    this.result = new Promise((resolve, reject) => {
      this.worker.on("message", (m: ReadBackReply) => (m.ok ? resolve(asBuffers(m.readBack)) : reject(new Error(m.message))));
      this.worker.on("error", reject);
      this.worker.on("exit", (code) => reject(new Error(`the archive read-back stopped (exit code ${code})`)));
    });
    this.result.catch(() => undefined);
    // Never what keeps the process alive (a writer that failed and was not cleaned up, say); end() refs it
    // while the result is awaited.
    this.worker.unref();
  }

  /** Bytes up to `upTo` are final; `ranges` are the stored entries' data among them not announced yet. */
  settled(upTo: number, ranges: DataRange[]): void {
    this.worker.postMessage({ upTo, ranges } satisfies ReadBackMessage);
  }

  /** The file is complete at `size` bytes, with `ranges` not announced yet: read the rest and return the result. */
  async end(size: number, ranges: DataRange[]): Promise<ReadBack> {
    this.worker.ref();
    this.worker.postMessage({ upTo: size, ranges, end: true } satisfies ReadBackMessage);
    try {
      return await this.result;
    } finally {
      await this.stop();
    }
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

/** (a Buffer posted from a worker arrives as a Uint8Array) */
function asBuffers(readBack: ReadBack): ReadBack {
  const before = readBack.before?.map((b) => ({
    start: b.start,
    bytes: Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.length),
  }));
  return { ...readBack, ...(before ? { before } : {}) };
}
