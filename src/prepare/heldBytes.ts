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
}
