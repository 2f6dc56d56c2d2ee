// `wopack upload` and `pack/watch --upload`: committed archives to the platform, oldest first, each
// exactly once (upload/upload.ts), with the lock on --out held so that one process sends at a time.
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { type LedgerState, readLedger } from "../commit/ledger.js";
import { REPORT_SUFFIX } from "../commit/recovery.js";
import { forgetEndedSessions } from "../commit/sessions.js";
import {
  adoptCleared,
  clearAttention,
  compactUploads,
  needingAttention,
  readUploads,
  type UploadJournal,
  uploadedNotMoved,
  uploadsPath,
} from "../commit/uploads.js";
import type { Config } from "../config/schema.js";
import { type Clock, systemClock } from "../core/clock.js";
import { ioError, type Problem, problem, WopackError } from "../core/errors.js";
import type { UploadOutcome, UploadProgress } from "../core/types.js";
import { type ArchiveReport, type Logger, silentLogger } from "../core/types.js";
import { codeUnitOrder } from "../spec/names.js";
import { resolveCredentials } from "../upload/key.js";
import { type Api, httpApi } from "../upload/protocol.js";
import { type ArchiveToSend, uploadArchive } from "../upload/uploadArchive.js";
import { finishMoves, leftInOut } from "../upload/uploadedTo.js";
import { checkFolders, checkOut, uploadedToOf } from "./folders.js";
import { openOutput } from "./session.js";

export type { UploadOutcome, UploadProgress };

export interface UploadOptions extends SendOptions {
  out: string;
  config: Config;
  /** only these archives (paths or names in --out); default: every committed archive not yet uploaded */
  archives?: string[] | undefined;
  /**
   * the named archives that need attention were looked at: their batch on the platform was dealt with, so
   * they are sent again (else they stay "needs attention", named or not)
   */
  attentionCleared?: boolean | undefined;
  logger?: Logger;
  now?: Clock;
  signal?: AbortSignal | undefined;
}

/** How to send: what `upload` takes, and pack/watch's `upload` option. */
export interface SendOptions {
  uploadedTo?: string | undefined;
  rateBytesPerSec?: number | undefined;
  retries?: number | undefined;
  onProgress?: ((p: UploadProgress) => void) | undefined;
  /** each pause before a request is tried again, and null once one so retried was answered */
  onWait?: ((archive: string, wait: { reason: string; waitMs: number } | null) => void) | undefined;
  /** where WOPACK_API_URL / WOPACK_API_KEY / CREDENTIALS_DIRECTORY are read (default process.env) */
  env?: NodeJS.ProcessEnv | undefined;
  /** the platform (default: HTTP at the configured URL) */
  api?: Api | undefined;
  /** how a pause is waited (tests: a quick one); default real time */
  sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
  /** each request's deadline (default 2 minutes) */
  requestTimeoutMs?: number | undefined;
}

/** Sends committed archives not yet uploaded; takes the lock on --out. Stops at once on refused credentials. */
export async function upload(options: UploadOptions): Promise<UploadOutcome[]> {
  const out = path.resolve(options.out);
  if (options.attentionCleared && !options.archives?.length) {
    throw new WopackError(
      "usage",
      "E_ATTENTION_UNNAMED",
      "--attention-cleared: name the archives whose batch you dealt with on the platform",
      "wopack upload <out> <archive.zip> --attention-cleared (wopack status lists those that need attention)",
    );
  }
  const empty = (await checkOut(out)) === "empty";
  await checkFolders({ out, uploadedTo: uploadedToOf(options, options.config) });
  const credentials = resolveCredentials(options.config, options.env); // a usage error before the lock
  const clock = options.now ?? systemClock;
  const named = options.archives?.length ? pick(await committedArchives(out), options.archives, out) : undefined;
  if (empty) return []; // nothing was ever packed here: nothing to send, and nothing is made in it
  let session: Awaited<ReturnType<typeof openOutput>>;
  try {
    session = await openOutput(out, options.logger ?? silentLogger, clock);
  } catch (err) {
    if (!(named && options.attentionCleared && err instanceof WopackError && err.code === "E_LOCKED")) throw err;
    return clearedBesideHolder(out, named, err, clock, options.signal);
  }
  try {
    // one that needs attention is sent again only when the operator says its old batch was dealt with
    if (named && options.attentionCleared)
      await clearAttention(
        out,
        named.map((a) => a.name),
        clock().toISOString(),
        options.signal,
      );
    const sender = await Sender.open(out, options, credentials);
    if (named) for (const a of named) sender.enqueue(a);
    else await sender.enqueueBacklog();
    return await sender.drain();
  } finally {
    await session.release();
  }
}

/**
 * `--attention-cleared` while another run holds --out (a watch, or another `--attention-cleared`): the clearing is
 * journaled under the journal's own lock, and the holder sends the archive (a watch --upload adopts it within
 * seconds); this run sends nothing, so two senders never both send. One cleared already (by the holder) is said
 * cleared, one uploaded already is; a named archive that needed no attention is left to the holder, said so.
 */
async function clearedBesideHolder(
  out: string,
  named: ArchiveToSend[],
  locked: WopackError,
  clock: Clock,
  signal: AbortSignal | undefined,
): Promise<UploadOutcome[]> {
  const cleared = await clearAttention(
    out,
    named.map((a) => a.name),
    clock().toISOString(),
    signal,
  );
  const journal = await readUploads(out);
  return named.map((a): UploadOutcome => {
    const s = journal.archives.get(a.name);
    if (s?.uploaded) return { archive: a.name, result: "already", batchId: s.uploaded.batchId, warnings: [] };
    // (cleared by this run, or by another one just before: `--attention-cleared` given twice at once)
    if (cleared.includes(a.name) || (s?.cleared && !s.attention)) return { archive: a.name, result: "cleared", warnings: [] };
    const p = problem(
      "E_UPLOAD_OUT_LOCKED",
      `${a.name}: needs no attention, and not sent by this run: ${locked.message}`,
      "a running watch --upload sends it by itself; else stop that run first and run wopack upload again",
      a.name,
    );
    return { archive: a.name, result: "failed", problem: p, warnings: [] };
  });
}

/** An archive this run does not send, because the platform asked to wait while another was sent. */
function heldBackOutcome(archive: string, held: { archive: string; retryAfterMs: number }): UploadOutcome {
  const p = problem(
    "E_UPLOAD_HELD_BACK",
    `${archive}: not sent by this run: the platform asked to wait ${Math.round(held.retryAfterMs / 1000)} s (Retry-After) while ${held.archive} was sent, and the next archive would meet the same refusal`,
    "the next run sends it (wopack watch --upload waits as asked by itself)",
    archive,
  );
  return { archive, result: "failed", problem: p, retryAfterMs: held.retryAfterMs, warnings: [] };
}

/**
 * Sends archives one after another in the background while the caller goes on (pack --upload overlaps
 * packing the next archive with sending the last one). Run under the caller's lock on --out.
 */
export class Sender {
  private chain: Promise<void> = Promise.resolve();
  /** the moves --uploaded-to makes, one at a time: an upload's own, and watch's tries again (retryMoves) */
  private moves: Promise<unknown> = Promise.resolve();
  private readonly outcomes: UploadOutcome[] = [];
  private stopped: unknown;
  private retry: { firstMs: number; maxMs: number } | undefined;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /**
   * with retryFailed(): the platform asked the client to wait (Retry-After) until then (ms since epoch, capped at
   * the backoff's maximum): no archive of the queue is sent before, not only the one that was answered so
   */
  pausedUntil: number | undefined;
  /** how long that pause was asked for */
  private pauseMs = 0;
  /**
   * without retryFailed() (a one-shot upload, pack --upload): the archive the platform asked to wait out
   * (Retry-After) for longer than this run waits, after which this run sends nothing more
   */
  private heldBack: { archive: string; retryAfterMs: number } | undefined;
  /** told when the queue starts or stops waiting for the platform (pausedUntil) */
  onPause?: (until: number | undefined) => void;
  /** with retryFailed(): the archives whose upload failed, and when each is tried again (ms since epoch) */
  readonly retrying = new Map<string, { attempts: number; nextAt: number; problem: Problem; platformAsked: boolean }>();

  /** told of each archive's outcome as it comes (watch turns them into events); `retrying` already says what comes next */
  onOutcome?: (o: UploadOutcome) => void;
  /** told once when sending stops for good (refused credentials, an interruption, the journal unwritable) */
  onStop?: (err: unknown) => void;
  /** told when an archive's upload begins (watch shows it; a stuck one is then seen) */
  onStart?: (archive: string) => void;

  /** its own copy of what it was given (never written onto the caller's), with its own queue of moves */
  private readonly settings: Parameters<typeof uploadArchive>[2];

  private constructor(
    private readonly out: string,
    private readonly journal: UploadJournal,
    settings: Readonly<Parameters<typeof uploadArchive>[2]>,
  ) {
    this.settings = { ...settings, oneMove: (move) => this.oneMove(move) };
    // a stop ends the waits for a retry at once (what was not sent is sent by the next run)
    settings.signal?.addEventListener("abort", () => this.cancelRetries(), { once: true });
  }

  private oneMove<T>(move: () => Promise<T>): Promise<T> {
    const done = this.moves.then(move);
    this.moves = done.catch(() => undefined);
    return done;
  }

  static async open(
    out: string,
    options: Omit<UploadOptions, "out" | "archives">,
    credentials = resolveCredentials(options.config, options.env),
  ): Promise<Sender> {
    const { url, key } = credentials;
    const journal = await readUploads(out);
    await compactUploads(out, journal, options.signal).catch((err) => {
      if (err instanceof WopackError) throw err;
      throw ioError(err, `cannot rewrite the upload journal in ${out}`);
    });
    const orphans = await forgetEndedSessions(out, journal);
    const log = options.logger ?? silentLogger;
    const clock = options.now ?? systemClock;
    const uploadedTo = options.uploadedTo ?? options.config.upload.uploadedTo;
    const moves = await finishMoves(out, journal, uploadedTo, () => clock().toISOString(), options.signal);
    for (const w of [...moves.warnings, ...moves.notMoved.map((m) => m.problem)]) log.warn(`${w.code}: ${w.message}`);
    const api = options.api ?? httpApi(url, key, { signal: options.signal, timeoutMs: options.requestTimeoutMs });
    for (const { archive, batchId } of orphans) {
      // (one try: a batch left is said, with what to do)
      const deleted = await api.deleteBatch(batchId);
      const what = `${archive}: batch ${batchId} was made for it by a run stopped before it journaled it, and the archive is no longer in ${out}`;
      if (deleted.ok || deleted.kind === "gone") log.info(`${what}; the batch held nothing and is deleted on the platform`);
      else
        log.warn(
          `W_BATCH_LEFT: ${what}; the batch holds nothing, and deleting it failed: delete batch ${batchId} on the platform`,
        );
    }
    const sender = new Sender(out, journal, {
      out,
      api,
      key,
      urls: [url],
      log,
      clock,
      signal: options.signal,
      maxElapsedMs: options.config.upload.maxElapsed,
      retries: options.retries ?? options.config.upload.retries,
      rateBytesPerSec: options.rateBytesPerSec ?? options.config.upload.rate,
      uploadedTo,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      onWait: options.onWait,
      sleep: options.sleep,
    });
    // (uploaded by an earlier run and still not moved: this run's work not done either)
    for (const m of moves.notMoved)
      sender.outcomes.push({
        archive: m.archive,
        result: "already",
        batchId: m.batchId,
        notMovedTo: m.to,
        warnings: [m.problem],
      });
    return sender;
  }

  /** Queues an archive just committed (pack --upload, watch --upload). */
  enqueueCommitted(report: ArchiveReport): void {
    this.enqueue(sendable(report));
  }

  /** Queues an archive; it is sent after those queued before it. */
  enqueue(a: ArchiveToSend): void {
    this.chain = this.chain.then(async () => {
      if (this.stopped) return;
      if (this.heldBack) {
        const outcome = heldBackOutcome(a.name, this.heldBack);
        this.outcomes.push(outcome);
        this.onOutcome?.(outcome);
        return;
      }
      try {
        await this.waitForPlatform();
        // (stopped while waiting: nothing of it was sent, and the next run sends it; no upload was interrupted)
        if (this.stopped || this.settings.signal?.aborted) return;
        this.onStart?.(a.name);
        const outcome = await uploadArchive(a, this.journal, { ...this.settings, outcomeTold: this.onOutcome !== undefined });
        this.outcomes.push(outcome);
        this.scheduleRetry(a, outcome);
        // (a run that does not wait, as watch does: the rest of its queue is not sent into the same refusal)
        if (!this.retry && outcome.result === "failed" && outcome.retryAfterMs !== undefined)
          this.heldBack = { archive: a.name, retryAfterMs: outcome.retryAfterMs };
        this.onOutcome?.(outcome);
      } catch (err) {
        this.stopped = err; // refused credentials, an interruption, the journal unwritable: stop sending
        this.cancelRetries();
        this.onStop?.(err);
      }
    });
  }

  /**
   * A long-running sender (watch --upload): an archive whose upload failed is queued again after
   * `firstMs`, doubling at each failure in a row up to `maxMs`, or after the pause the platform asked for
   * (Retry-After, capped at `maxMs`) when that is longer. Without it, a failed archive waits for the next run.
   */
  retryFailed(policy: { firstMs: number; maxMs: number }): void {
    this.retry = policy;
  }

  private scheduleRetry(a: ArchiveToSend, outcome: UploadOutcome): void {
    const previous = this.retrying.get(a.name);
    clearTimeout(this.timers.get(a.name));
    this.timers.delete(a.name);
    this.retrying.delete(a.name);
    if (outcome.result !== "failed" || !this.retry || !outcome.problem) return;
    const attempts = (previous?.attempts ?? 0) + 1;
    const backoff = Math.min(this.retry.maxMs, this.retry.firstMs * 2 ** (attempts - 1));
    const asked = Math.min(this.retry.maxMs, outcome.retryAfterMs ?? 0);
    const wait = Math.max(backoff, asked);
    const now = this.settings.clock().getTime();
    const nextAt = now + wait;
    const askedUntil = now + asked;
    if (asked > 0 && askedUntil > (this.pausedUntil ?? 0)) {
      this.pausedUntil = askedUntil;
      this.pauseMs = asked;
      this.onPause?.(this.pausedUntil);
    }
    this.retrying.set(a.name, { attempts, nextAt, problem: outcome.problem, platformAsked: asked > backoff });
    this.timers.set(
      a.name,
      setTimeout(() => {
        this.timers.delete(a.name);
        this.enqueue(a);
      }, wait),
    );
  }

  /** The platform asked to wait (Retry-After): the next archive waits too (an interruption ends the wait). */
  private async waitForPlatform(): Promise<void> {
    // (never longer than asked, whatever the wall clock does meanwhile: set back, it would stretch the wait)
    const left = Math.min(this.pauseMs, (this.pausedUntil ?? 0) - this.settings.clock().getTime());
    if (left > 0) {
      const { signal } = this.settings;
      try {
        await (this.settings.sleep ?? ((ms: number) => delay(ms, undefined, signal ? { signal } : {})))(left, signal);
      } catch (err) {
        if (!signal?.aborted) throw err;
        return;
      }
    }
    if (this.pausedUntil === undefined) return;
    this.pausedUntil = undefined;
    this.onPause?.(undefined);
  }

  private cancelRetries(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /**
   * watch: the moves --uploaded-to did not do (its folder missing, an empty one not the same, a link there, a full
   * disk, a move cut short) tried again one at a time with an upload's own move, never beside it; not behind the
   * queue, which may be waiting out a pause the platform asked for: a move is local. The archives moved now.
   */
  retryMoves(): Promise<{ archive: string; to: string }[]> {
    const tried = this.oneMove(async () => {
      const { uploadedTo, clock, signal } = this.settings;
      if (this.stopped || signal?.aborted || !uploadedTo) return [];
      const waiting = uploadedNotMoved(this.journal).map((w) => w.archive);
      await finishMoves(this.out, this.journal, uploadedTo, () => clock().toISOString(), signal);
      return waiting.flatMap((archive) => {
        const to = this.journal.archives.get(archive)?.movedTo;
        return to ? [{ archive, to }] : [];
      });
    });
    return tried.catch((err) => {
      if (!this.stopped) {
        this.stopped = err; // interrupted, or the journal unwritable: stop sending
        this.cancelRetries();
        this.onStop?.(err);
      }
      return [];
    });
  }

  /**
   * The archives uploaded but not yet moved where --uploaded-to says, as the journal says; one no longer in
   * --out (moved by hand, pruned) waits for nothing (as `status` says), nor does any without --uploaded-to
   * (dropped on purpose: the archives stay in --out).
   */
  async uploadedNotMoved(): Promise<ReturnType<typeof uploadedNotMoved>> {
    if (!this.settings.uploadedTo) return [];
    const notMoved = uploadedNotMoved(this.journal);
    const left = await Promise.all(
      notMoved.map((w) => leftInOut(this.out, { archive: w.archive, moving: this.journal.archives.get(w.archive)?.moving })),
    );
    return notMoved.filter((_, i) => left[i]!.length > 0);
  }

  /** The archives that need attention, as the journal says (watch shows them). */
  needingAttention(): ReturnType<typeof needingAttention> {
    return needingAttention(this.journal);
  }

  /**
   * Queues the archives another process cleared (`upload --attention-cleared` beside a watch holding --out);
   * their names, and the journal's stamp (size and time) read. A retry already waiting for one is left to come.
   * With the stamp of the last call unchanged, the journal is not read again.
   */
  async adoptCleared(seen = ""): Promise<{ cleared: string[]; stamp: string }> {
    const st = await stat(uploadsPath(this.out)).catch(() => undefined);
    const stamp = st ? `${st.size}:${st.mtimeMs}:${st.ino}` : "";
    if (!stamp || stamp === seen) return { cleared: [], stamp };
    const cleared = await adoptCleared(this.out, this.journal);
    if (this.stopped || this.settings.signal?.aborted) return { cleared: [], stamp };
    for (const a of cleared.length ? await committedArchives(this.out) : [])
      if (cleared.includes(a.name) && !this.retrying.has(a.name)) this.enqueue(a);
    return { cleared, stamp };
  }

  /**
   * The archives committed before and never sent (or whose upload failed): queued first. One that needs
   * attention is queued to be reported, not sent (uploadArchive sends it again only with --attention-cleared).
   */
  async enqueueBacklog(): Promise<void> {
    for (const a of await committedArchives(this.out)) {
      const s = this.journal.archives.get(a.name);
      // (a twin of uploaded bytes too, once, when a stopped run made a batch for it: that batch goes)
      if (!s?.uploaded && (!this.journal.uploadedSha.has(a.sha256) || s?.creating)) this.enqueue(a);
    }
  }

  /** Waits for every queued archive; throws what stopped the sending (exit 5 for refused credentials). */
  async drain(): Promise<UploadOutcome[]> {
    await this.chain;
    if (this.stopped) throw this.stopped instanceof WopackError ? this.stopped : ioError(this.stopped, "uploading failed");
    return this.outcomes;
  }
}

/** A report's archive, as the uploader needs it. */
export function sendable(report: ArchiveReport): ArchiveToSend {
  return { name: report.archive, path: report.path, sha256: report.sha256, bytes: report.bytes };
}

/** Every archive committed in --out whose report is beside it, oldest first. */
export async function committedArchives(out: string, ledger?: LedgerState): Promise<(ArchiveToSend & { createdAt: string })[]> {
  ledger ??= await readLedger(out);
  const found: (ArchiveToSend & { createdAt: string })[] = [];
  for (const name of ledger.archives) {
    const file = path.join(out, name);
    const report = await readFile(file + REPORT_SUFFIX, "utf8")
      .then((t) => JSON.parse(t) as { sha256?: unknown; bytes?: unknown; createdAt?: unknown })
      .catch(() => undefined);
    if (typeof report?.sha256 !== "string" || typeof report.bytes !== "number") continue; // moved by --uploaded-to
    found.push({ name, path: file, sha256: report.sha256, bytes: report.bytes, createdAt: String(report.createdAt ?? "") });
  }
  found.sort((a, b) => codeUnitOrder(a.createdAt, b.createdAt) || codeUnitOrder(a.name, b.name));
  return found;
}

function pick(all: ArchiveToSend[], wanted: string[], out: string): ArchiveToSend[] {
  return wanted.map((w) => {
    const name = path.basename(w);
    const a = all.find((x) => x.name === name);
    if (!a || (path.isAbsolute(w) && path.dirname(w) !== out)) {
      throw new WopackError(
        "usage",
        "E_UPLOAD_NOT_COMMITTED",
        `${w}: not an archive committed in ${out}`,
        "name archives that wopack pack committed in --out (see wopack status)",
      );
    }
    return a;
  });
}
