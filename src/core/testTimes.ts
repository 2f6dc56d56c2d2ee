// Test-only (docs/testing.md): WOPACK_TEST_TIME_SCALE=0.1 shortens wopack's own waits (the upload retries'
// backoff, watch's next try of a failed upload, the status server's patience with a client that does not read,
// the next try of a move to --uploaded-to) so that the tests that wait on them do not wait tens of seconds.
// A pause the platform asks for (Retry-After) is never scaled. Read once, here; anything else reads as 1.
const FLOOR_MS = 200;

function read(text: string | undefined): number {
  const scale = Number(text);
  return text && scale >= 0.05 && scale <= 1 ? scale : 1;
}

const scale = read(process.env.WOPACK_TEST_TIME_SCALE);

/** `ms`, scaled down under WOPACK_TEST_TIME_SCALE, never to less than a fifth of a second (nor to more than `ms`). */
export function ownWait(ms: number): number {
  return scale === 1 ? ms : Math.max(ms * scale, Math.min(ms, FLOOR_MS));
}
