/** Exponential backoff with full jitter: attempt 0 waits up to 1 s, doubling to at most 60 s. */
export function backoffMs(attempt: number, random = Math.random): number {
  return random() * Math.min(60_000, 1_000 * 2 ** attempt);
}
