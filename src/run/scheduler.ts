/**
 * Runs `pass` one at a time, at the earliest time anyone asked for: a request while a pass runs makes
 * one more pass after it (never two at once, never a lost request). Delays are real elapsed time.
 */
export class PassScheduler {
  private timer: NodeJS.Timeout | undefined;
  private timerAt: number | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly signal: AbortSignal,
  ) {}

  /** A pass in `delayMs`, unless one is already due sooner. */
  schedule(delayMs: number): void {
    if (this.signal.aborted) return;
    const at = performance.now() + Math.max(0, delayMs);
    if (this.timerAt !== undefined && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timerAt = undefined;
      void this.runNow();
    }, at - performance.now());
  }

  /** A pass now, or right after the one in progress. */
  runNow(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.pass().finally(() => {
      this.running = undefined;
      if (this.again && !this.signal.aborted) {
        this.again = false;
        void this.runNow();
      }
    });
    return this.running;
  }

  /** No more passes; waits for the one in progress (and throws what it threw). */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await this.running;
  }
}
