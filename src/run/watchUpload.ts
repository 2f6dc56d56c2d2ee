// watch --upload: one sender for the session (run/upload.ts), whose outcomes become watch's events and the
// status's `uploads`: what is being sent, what waits to be tried again and when, a refused key.
import type { Clock } from "../core/clock.js";
import { WopackError } from "../core/errors.js";
import { ownWait } from "../core/testTimes.js";
import type { Logger, UploadsStatus, WatchEvent } from "../core/types.js";
import type { HealthFile } from "./health.js";
import type { WatchOptions } from "./options.js";
import { Sender } from "./upload.js";

/** An archive whose upload failed is tried again after retryBackoff, doubling up to this. */
const UPLOAD_RETRY_MAX_MS = 6 * 3_600_000;
/** How often the journal is read for archives another process cleared (while some need attention). */
const ADOPT_EVERY_MS = 2_000;
/** How often a move --uploaded-to refused is tried again (while some wait): a disk mounted again is enough. */
const MOVE_AGAIN_EVERY_MS = ownWait(5_000);

/**
 * watch --upload: one sender for the session; its outcomes become events and the status's `uploads`
 * (what is being sent, what waits to be tried again and when, a refused key).
 */
export async function openSender(
  options: WatchOptions,
  out: string,
  dryRun: boolean,
  log: Logger,
  clock: Clock,
  emit: (e: WatchEvent) => void,
  health: HealthFile,
  stop: { uploadInterrupted: boolean },
): Promise<Sender | undefined> {
  if (!options.upload || dryRun) return undefined;
  const uploads: UploadsStatus = {
    ...{ uploaded: 0, failed: 0, queued: 0, sending: null, retrying: [], stopped: null, pausedUntil: null },
    attention: [],
    notMoved: [],
  };
  health.state.uploads = uploads;
  const sender = await Sender.open(out, {
    ...options.upload,
    config: options.config,
    logger: log,
    now: clock,
    signal: options.signal,
    onProgress: (p) => {
      if (uploads.sending?.archive === p.archive) {
        uploads.sending.lastProgressAt = clock().toISOString();
        uploads.sending.waiting = null;
      }
      options.upload?.onProgress?.(p);
    },
    onWait: (archive, wait) => {
      if (uploads.sending?.archive !== archive) return;
      uploads.sending.waiting = wait && {
        reason: wait.reason,
        nextTryAt: new Date(clock().getTime() + wait.waitMs).toISOString(),
      };
      health.uploadChanged();
    },
  });
  sender.retryFailed({ firstMs: ownWait(options.config.upload.retryBackoff), maxMs: UPLOAD_RETRY_MAX_MS });
  const showRetrying = () => {
    uploads.retrying = [...sender.retrying].map(([archive, r]) => ({
      archive,
      attempts: r.attempts,
      nextAttemptAt: new Date(r.nextAt).toISOString(),
      platformAsked: r.platformAsked,
      lastError: { code: r.problem.code, message: r.problem.message },
    }));
  };
  const showAttention = () => {
    uploads.attention = sender.needingAttention();
  };
  showAttention();
  const showNotMoved = async () => {
    uploads.notMoved = await sender.uploadedNotMoved();
    health.uploadChanged();
  };
  await showNotMoved();
  // `upload --attention-cleared` beside this watch journals the clearing (it cannot send: this watch holds
  // --out); the archive is adopted here and sent by this, the only sender
  // (one read at a time, only when the journal's size or time changed, and nothing queued once stopped: a long
  // journal takes seconds to read, and an attention may last days)
  let reading = false;
  let seen = "";
  const adopting = setInterval(() => {
    if (!uploads.attention.length || uploads.stopped || reading) return;
    reading = true;
    sender
      .adoptCleared(seen)
      .then(
        ({ cleared, stamp }) => {
          seen = stamp;
          if (!cleared.length || uploads.stopped) return;
          uploads.queued += cleared.length;
          showAttention();
          health.uploadChanged();
          for (const archive of cleared)
            log.info(`${archive}: attention cleared (wopack upload --attention-cleared); sending it`);
        },
        (err: Error) => log.warn(`cannot read the upload journal in ${out}: ${err.message}`),
      )
      .finally(() => {
        reading = false;
      });
  }, ADOPT_EVERY_MS);
  adopting.unref();
  options.signal?.addEventListener("abort", () => clearInterval(adopting), { once: true });
  let moving = false;
  const moveAgain = setInterval(() => {
    if (!uploads.notMoved?.length || uploads.stopped || moving) return;
    moving = true;
    sender
      .retryMoves()
      .then(async (moved) => {
        for (const m of moved) log.info(`moved ${m.archive} to ${m.to} (uploaded earlier, it waited in --out for that folder)`);
        await showNotMoved();
      })
      .catch((err: Error) => log.warn(`cannot tell which archives wait for --uploaded-to in ${out}: ${err.message}`))
      .finally(() => {
        moving = false;
      });
  }, MOVE_AGAIN_EVERY_MS);
  moveAgain.unref();
  options.signal?.addEventListener("abort", () => clearInterval(moveAgain), { once: true });
  sender.onPause = (until) => {
    uploads.pausedUntil = until === undefined ? null : new Date(until).toISOString();
    if (until !== undefined) log.info(`uploads wait until ${uploads.pausedUntil}, as the platform asked (Retry-After)`);
    health.uploadChanged();
  };
  sender.onStart = (archive) => {
    const now = clock().toISOString();
    uploads.sending = { archive, since: now, lastProgressAt: now };
    health.uploadChanged();
  };
  sender.onOutcome = (o) => {
    uploads.sending = null;
    if (o.result === "uploaded") uploads.uploaded++;
    if (o.result === "failed") uploads.failed++;
    const retry = sender.retrying.get(o.archive);
    // an archive tried again came from `retrying`, not from the queue
    if (!uploads.retrying.some((r) => r.archive === o.archive)) uploads.queued = Math.max(0, uploads.queued - 1);
    showRetrying();
    showAttention();
    health.uploadChanged();
    if (o.notMovedTo) showNotMoved().catch(() => undefined); // (told at the next try)
    if (o.result === "uploaded")
      emit({ event: "uploaded", message: `uploaded ${o.archive} (batch ${o.batchId})`, archive: o.archive, batchId: o.batchId });
    // (failed, or any other outcome that is not a success and says why)
    if (o.problem && o.result !== "uploaded" && o.result !== "already") {
      const asked = retry?.platformAsked ? " (the platform asked for this wait: Retry-After)" : "";
      const next = retry ? `; next try in ${formatWait(retry.nextAt - clock().getTime())}${asked}` : "";
      emit({
        event: "error",
        message: `${o.archive}: upload failed (${o.problem.code}: ${o.problem.message})${next}`,
        code: o.problem.code,
        archive: o.archive,
        ...(retry
          ? { nextAttemptAt: new Date(retry.nextAt).toISOString(), attempts: retry.attempts, platformAsked: retry.platformAsked }
          : {}),
      });
    }
  };
  sender.onStop = (err) => {
    uploads.sending = null;
    if (err instanceof WopackError && err.kind === "interrupted") stop.uploadInterrupted = true;
    if (!(err instanceof WopackError) || err.kind === "interrupted") return;
    sender.retrying.clear();
    showRetrying();
    uploads.stopped = { at: clock().toISOString(), code: err.code, message: err.message };
    health.failed(err.code, err.message);
    health.uploadChanged();
    emit({
      event: "error",
      message: `${err.code}: ${err.message}; archives are still packed, and sent by the next wopack upload`,
      code: err.code,
    });
  };
  await sender.enqueueBacklog();
  return sender;
}

/** A wait as the log says it: "45s", "5m", "2h 30m". */
function formatWait(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m`;
  return m % 60 ? `${Math.floor(m / 60)}h ${m % 60}m` : `${m / 60}h`;
}
