// How the sender asks the platform anything: each request given up at once when the run is interrupted,
// retried with backoff (or the pause the platform asked for) within a count and a time for the archive,
// and paced to --upload-rate.
import { setTimeout as delay } from "node:timers/promises";
import { problem } from "../core/errors.js";
import { ownWait } from "../core/testTimes.js";
import type { Logger } from "../core/types.js";
import type { Outcome } from "./protocol.js";
import { ArchiveFailed, interrupted } from "./uploadProblems.js";

export interface RequestSettings {
  log: Logger;
  signal?: AbortSignal | undefined;
  /** give up on one archive after this long of failing requests (default 30 minutes) */
  maxElapsedMs?: number | undefined;
  /** at most this many retries of one request in a row */
  retries?: number | undefined;
  /** bytes per second, at most (default: as fast as the line goes) */
  rateBytesPerSec?: number | undefined;
  /** how a pause is waited (tests pass a quick one); default: real time, ended by `signal` */
  sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
  /**
   * told of each pause before a request is tried again (`reason`: what failed, redacted; `waitMs`), and
   * with null once a request so retried was answered: watch shows it while the platform is out
   */
  onWait?: ((archive: string, wait: { reason: string; waitMs: number } | null) => void) | undefined;
}

/** The requests of one archive's upload. */
export class Requests {
  private readonly deadline: number;

  constructor(
    private readonly name: string,
    private readonly s: RequestSettings,
    private readonly redact: (text: string) => string,
  ) {
    this.deadline = performance.now() + (s.maxElapsedMs ?? 30 * 60_000);
  }

  /** A request retried while the answer says so (network, 408, 429, 5xx), within the retry bounds. */
  async retrying<T>(what: string, request: () => Promise<Outcome<T>>): Promise<Outcome<T>> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.call(request);
      if (attempt > 0 && (r.ok || r.kind !== "retry")) this.s.onWait?.(this.name, null);
      if (r.ok || r.kind !== "retry") return r;
      if (attempt >= (this.s.retries ?? 20)) return { ...r, detail: `${r.detail}; gave up after ${attempt + 1} tries` };
      await this.pause(attempt, r.retryAfterMs, `${what} (${r.detail})`, r.retryAfterNote);
    }
  }

  /** One request, given up at once when the run is interrupted (whatever the Api does with the signal). */
  call<T>(request: () => Promise<T>): Promise<T> {
    const { signal } = this.s;
    if (!signal) return request();
    if (signal.aborted) return Promise.reject(interrupted(signal));
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(interrupted(signal));
      signal.addEventListener("abort", onAbort, { once: true });
      request()
        .then(resolve, (err) => reject(signal.aborted ? interrupted(signal) : err))
        .finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  async pause(attempt: number, retryAfterMs: number | undefined, what: string, note?: string): Promise<void> {
    const wait = retryAfterMs ?? backoffMs(attempt);
    if (performance.now() + wait > this.deadline) {
      // (a Retry-After past the time left is not waited out: said as such, not as a failure that went on)
      const why =
        retryAfterMs === undefined
          ? "still failing after the time allowed for one archive"
          : `the platform asked to wait ${Math.round(retryAfterMs / 1000)} s (Retry-After), longer than the time left for this archive; not waited`;
      throw new ArchiveFailed(
        problem(
          "E_UPLOAD_GAVE_UP",
          `${this.name}: ${this.redact(what)}; ${why}`,
          "the next run resumes it where it stopped; check the network or raise upload.maxElapsed",
          this.name,
        ),
        retryAfterMs,
      );
    }
    if (note) this.s.log.info(`${this.name}: ${note}`);
    // (said at info: a server that never answers is otherwise waited on in silence, each try up to its deadline)
    this.s.log.info(`${this.name}: ${this.redact(what)}; trying again in ${(wait / 1000).toFixed(wait < 10_000 ? 1 : 0)} s`);
    this.s.onWait?.(this.name, { reason: this.redact(what), waitMs: wait });
    await this.sleep(wait);
  }

  /** --upload-rate: waits until the bytes sent so far are within the rate. */
  async pace(started: number, sent: number): Promise<void> {
    const rate = this.s.rateBytesPerSec;
    if (!rate) return;
    const ahead = (sent / rate) * 1000 - (performance.now() - started);
    if (ahead > 0) await this.sleep(ahead);
  }

  async sleep(ms: number): Promise<void> {
    const { signal } = this.s;
    try {
      await (this.s.sleep ?? sleep)(ms, signal);
    } catch (err) {
      throw signal?.aborted ? interrupted(signal) : err;
    }
    if (signal?.aborted) throw interrupted(signal);
  }
}

/** A pause that an interruption ends at once. */
async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await delay(ms, undefined, signal ? { signal } : {});
}

/** Exponential backoff with full jitter: attempt 0 waits up to 1 s, doubling to at most 60 s. */
export function backoffMs(attempt: number, random = Math.random): number {
  return random() * ownWait(Math.min(60_000, 1_000 * 2 ** attempt));
}
