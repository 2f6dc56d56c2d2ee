// How many pixels are being converted at once. A count of photos in flight (--concurrency) bounds the
// memory only when photos are alike: two 29 MP scans converted side by side took 600 MB where two 12 MP
// photos take half that. Each conversion asks for its decoded size first; a photo larger than the whole
// budget runs once nothing else does.

/** Pixels per core in flight: a 12 MP photo per core (with room for 16 MP), as a camera set is. */
export const PIXELS_PER_CORE = 16_000_000;

export class PixelBudget {
  private used = 0;
  private readonly waiting: { pixels: number; go: () => void }[] = [];

  constructor(readonly capacity: number) {}

  /** Conversions waiting for their pixels. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `work` once `pixels` (at most the whole budget) are free; first come, first served. */
  async run<T>(pixels: number, work: () => Promise<T>): Promise<T> {
    const want = Math.max(1, Math.min(this.capacity, Math.ceil(pixels)));
    if (this.waiting.length || this.used + want > this.capacity) {
      await new Promise<void>((go) => this.waiting.push({ pixels: want, go }));
    } else this.used += want;
    try {
      return await work();
    } finally {
      this.used -= want;
      this.wake();
    }
  }

  private wake(): void {
    while (this.waiting.length && this.used + this.waiting[0]!.pixels <= this.capacity) {
      const next = this.waiting.shift()!;
      this.used += next.pixels;
      next.go();
    }
  }
}
