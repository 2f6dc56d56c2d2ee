// Bytes kept in memory between the stage that made them and the one that takes them, within a bound: small
// photos read once for their checks (until the archive writer has written them) and review thumbnails (until
// the archive's review page is written). Past the bound, photos are copied from their files and thumbnails
// spooled to disk, as for large photos.

export class HeldBytes {
  private used = 0;

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Counts `bytes` as held when they fit: the function that gives them back (once, however often called). */
  take(bytes: number): (() => void) | undefined {
    if (this.used + bytes > this.capacity) return undefined;
    this.used += bytes;
    let held = true;
    return () => {
      if (held) this.used -= bytes;
      held = false;
    };
  }

  /** Takes `bytes` when they fit (for many small buffers given back together by give()). */
  tryTake(bytes: number): boolean {
    return this.take(bytes) !== undefined;
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }

  private readonly spare = new Map<number, Buffer[]>();
  private spareBytes = 0;

  /**
   * A buffer of at least `bytes` (its length rounded up to 16 KB), one given back by recycle() when there is
   * one: photos read whole one after another then reuse a few buffers instead of leaving one each for the GC,
   * which let the process grow by tens of MB before it collected them.
   */
  buffer(bytes: number): Buffer {
    const size = Math.ceil(Math.max(1, bytes) / SPARE_STEP) * SPARE_STEP;
    const kept = this.spare.get(size)?.pop();
    if (!kept) return Buffer.allocUnsafe(size);
    this.spareBytes -= size;
    return kept;
  }

  /** Keeps a buffer from buffer() for the next one, once nothing refers to its bytes any more (within a bound). */
  recycle(buffer: Buffer): void {
    if (buffer.length % SPARE_STEP !== 0 || this.spareBytes + buffer.length > SPARE_MAX) return;
    this.spareBytes += buffer.length;
    const list = this.spare.get(buffer.length) ?? [];
    list.push(buffer);
    this.spare.set(buffer.length, list);
  }
}

const SPARE_STEP = 16 * 1024;
/** Buffers kept for reuse, at most (they count as held bytes only while in use). */
const SPARE_MAX = 16 * 1024 * 1024;
