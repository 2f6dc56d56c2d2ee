// What "waiting to retry" means, once, for /healthz, /metrics and the status page (which shows the same two
// sources: the archive being sent while one of its requests waits, and the archives whose upload failed).
import type { UploadsStatus } from "../core/types.js";

export interface UploadWait {
  archive: string;
  /** when it is tried again (ISO) */
  nextAt: string;
  /** why it waits: the failed request's reason, or the last error's code */
  why: string;
}

/**
 * The archives waiting to be tried again: first the one being sent while a request of it waits (a 5xx, a
 * 429's Retry-After, a dropped connection: tried again within the same upload), then those whose upload
 * failed, soonest first.
 */
export function waitingToRetry(up: UploadsStatus): UploadWait[] {
  const waiting = up.sending?.waiting;
  const inRequest =
    waiting && up.sending ? [{ archive: up.sending.archive, nextAt: waiting.nextTryAt, why: waiting.reason }] : [];
  const failed = [...up.retrying]
    .sort((x, y) => Date.parse(x.nextAttemptAt) - Date.parse(y.nextAttemptAt))
    .map((r) => ({
      archive: r.archive,
      nextAt: r.nextAttemptAt,
      why: r.platformAsked ? `${r.lastError.code}, as the platform asked (Retry-After)` : r.lastError.code,
    }));
  return [...inRequest, ...failed];
}
