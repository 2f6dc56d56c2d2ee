// One committed archive sent to the platform exactly once (SPEC §12): every step is written to the upload
// journal before it is taken, a restart resumes the same session, and a second batch is made only when
// the first is provably not accepted.
import { createHash } from "node:crypto";
import { type FileHandle, open, stat } from "node:fs/promises";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { moveItem } from "../commit/moves.js";
import { REPORT_SUFFIX } from "../commit/recovery.js";
import { appendUploads, type UploadJournal, type UploadRecord } from "../commit/uploads.js";
import type { Clock } from "../core/clock.js";
import { interruptedError, type Problem, problem, WopackError } from "../core/errors.js";
import type { Logger, UploadOutcome, UploadProgress } from "../core/types.js";
import { type Api, type Batch, CHUNK_SIZE, type Outcome, statusLooksFailed } from "./protocol.js";
import { backoffMs } from "./retry.js";

/** A committed archive, as its report describes it. */
export interface ArchiveToSend {
  name: string;
  path: string;
  sha256: string;
  bytes: number;
}

export interface UploadSettings {
  out: string;
  api: Api;
  /** replaced by [key] wherever a server's words are shown */
  key: string;
  log: Logger;
  clock: Clock;
  signal?: AbortSignal | undefined;
  /** give up on one archive after this long of failing requests (default 30 minutes) */
  maxElapsedMs?: number | undefined;
  /** at most this many retries of one request in a row */
  retries?: number | undefined;
  /** bytes per second, at most (default: as fast as the line goes) */
  rateBytesPerSec?: number | undefined;
  /** move the archive and its report here once the platform confirmed it */
  uploadedTo?: string | undefined;
  onProgress?: (p: UploadProgress) => void;
}

const OFFSET_EVERY_MS = 1_000;

/** SHA-256 of a file's bytes fed in order from 0; a gap (a resumed upload) is read from the file first. */
class PrefixHash {
  private readonly hash = createHash("sha256");
  private upTo = 0;

  constructor(private readonly fh: FileHandle) {}

  async feed(chunk: Buffer, from: number): Promise<void> {
    while (this.upTo < from) {
      const gap = Buffer.alloc(Math.min(CHUNK_SIZE, from - this.upTo));
      const { bytesRead } = await this.fh.read(gap, 0, gap.length, this.upTo);
      if (bytesRead === 0) break;
      this.hash.update(gap.subarray(0, bytesRead));
      this.upTo += bytesRead;
    }
    // (a chunk sent again after a partial confirmation overlaps what is hashed already)
    if (from + chunk.length > this.upTo) {
      this.hash.update(chunk.subarray(this.upTo - from));
      this.upTo = from + chunk.length;
    }
  }

  digest(): string {
    return this.hash.copy().digest("hex");
  }
}

class ArchiveFailed extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message);
  }
}

/** The platform refused the key (401/403): nothing more is sent. Exit 5. */
export function credentialsRefused(detail: string): WopackError {
  return new WopackError(
    "credentials",
    "E_UPLOAD_CREDENTIALS",
    `the platform refused the upload credentials (${detail}); nothing more was sent`,
    "check WOPACK_API_KEY (or upload.keyFile) and that the key may create batches on this site",
  );
}

export async function uploadArchive(a: ArchiveToSend, journal: UploadJournal, s: UploadSettings): Promise<UploadOutcome> {
  const state = journal.archives.get(a.name);
  if (state?.uploaded) return { archive: a.name, result: "already", batchId: state.uploaded.batchId, warnings: [] };
  const twin = journal.uploadedSha.get(a.sha256);
  if (twin && twin !== a.name) {
    const w = problem(
      "W_UPLOAD_DUPLICATE",
      `${a.name}: the same bytes were uploaded already, as ${twin}; not sent again`,
      "nothing to do; remove the copy if it is not wanted",
      a.name,
    );
    return { archive: a.name, result: "already", warnings: [w] };
  }
  const run = new Upload(a, journal, s);
  try {
    return await run.send(state?.batchId && state.uploadUrl ? { batchId: state.batchId, uploadUrl: state.uploadUrl } : undefined);
  } catch (err) {
    if (!(err instanceof ArchiveFailed)) throw err;
    await run.record({ type: "failed", archive: a.name, code: err.problem.code, message: err.problem.message, at: run.now() });
    return { archive: a.name, result: "failed", problem: err.problem, warnings: run.warnings };
  }
}

class Upload {
  readonly warnings: Problem[] = [];
  private readonly deadline: number;

  constructor(
    private readonly a: ArchiveToSend,
    private readonly journal: UploadJournal,
    private readonly s: UploadSettings,
  ) {
    this.deadline = performance.now() + (s.maxElapsedMs ?? 30 * 60_000);
  }

  now(): string {
    return this.s.clock().toISOString();
  }

  record(rec: UploadRecord): Promise<void> {
    return appendUploads(this.s.out, [rec], this.journal);
  }

  async send(resume: Batch | undefined): Promise<UploadOutcome> {
    await this.checkSize();
    let batch = resume;
    for (;;) {
      batch ??= await this.createBatch();
      if ((await this.sendSession(batch)) === "complete" || (await this.settleGone(batch))) return this.uploaded(batch);
      batch = undefined;
    }
  }

  private async uploaded(batch: Batch): Promise<UploadOutcome> {
    const { a, s } = this;
    await this.record({ type: "uploaded", archive: a.name, sha256: a.sha256, batchId: batch.batchId, at: this.now() });
    s.onProgress?.({ archive: a.name, sent: a.bytes, total: a.bytes });
    s.log.info(`uploaded ${a.name} (batch ${batch.batchId})`);
    if (s.uploadedTo) {
      const to = path.resolve(s.uploadedTo);
      try {
        await moveItem({ from: a.path, to: path.join(to, a.name) });
        await moveItem({ from: a.path + REPORT_SUFFIX, to: path.join(to, a.name + REPORT_SUFFIX) });
        await this.record({ type: "moved", archive: a.name, to, at: this.now() });
      } catch (err) {
        this.warnings.push(
          problem(
            "W_UPLOADED_NOT_MOVED",
            `${a.name}: uploaded, but cannot be moved to ${to} (${(err as Error).message})`,
            "check that folder; the archive stays in --out and is not sent again",
            a.name,
          ),
        );
      }
    }
    return { archive: a.name, result: "uploaded", batchId: batch.batchId, warnings: this.warnings };
  }

  private async checkSize(): Promise<void> {
    const st = await stat(this.a.path).catch(() => undefined);
    if (!st || st.size !== this.a.bytes) {
      throw new ArchiveFailed(
        problem(
          "E_UPLOAD_ARCHIVE_CHANGED",
          `${this.a.name}: ${st ? `${st.size} bytes, but its report says ${this.a.bytes}` : "not in --out any more"}; not sent`,
          "an archive must not change after it is committed: pack the work orders again with --repack",
          this.a.name,
        ),
      );
    }
  }

  private async createBatch(): Promise<Batch> {
    const { a } = this;
    await this.record({ type: "intent", archive: a.name, sha256: a.sha256, bytes: a.bytes, at: this.now() });
    const batch = await this.retrying("creating a batch", () => this.s.api.createBatch(a.name.replace(/\.zip$/i, "")));
    if (!batch.ok) throw this.failure(batch.kind, batch.detail, "creating a batch");
    await this.record({
      type: "batch",
      archive: a.name,
      batchId: batch.value.batchId,
      uploadUrl: batch.value.uploadUrl,
      at: this.now(),
    });
    this.s.log.info(`${a.name}: batch ${batch.value.batchId} created`);
    return batch.value;
  }

  /** Sends what the session does not hold yet; "complete" or "gone". */
  private async sendSession(batch: Batch): Promise<"complete" | "gone"> {
    const { a, s } = this;
    const ask = () =>
      this.retrying("asking the upload session where it stands", () => s.api.querySession(batch.uploadUrl, a.bytes));
    let state = await ask();
    const fh = await open(a.path, "r");
    try {
      const started = performance.now();
      let sentHere = 0;
      // the SHA-256 of exactly the bytes sent, so that the last chunk goes only if they are the report's
      const hash = new PrefixHash(fh);
      for (;;) {
        if (!state.ok) {
          if (state.kind === "gone") return "gone";
          throw this.failure(state.kind, state.detail, "uploading");
        }
        if (state.value.complete) return "complete";
        const from = state.value.confirmed;
        await this.noteOffset(batch, from);
        const length = Math.min(CHUNK_SIZE, a.bytes - from);
        const chunk = Buffer.alloc(length);
        const { bytesRead } = await fh.read(chunk, 0, length, from);
        if (bytesRead !== length) await this.checkSize();
        const last = from + length === a.bytes;
        if (last) {
          await hash.feed(chunk, from);
          if (hash.digest() !== a.sha256) throw this.changed();
        }
        await this.pace(started, sentHere);
        const sending = s.api.putChunk(batch.uploadUrl, chunk, from, a.bytes);
        if (!last) await hash.feed(chunk, from); // while the chunk is on its way
        const put = await sending;
        sentHere += length;
        if (put.ok || put.kind !== "retry") {
          state = put;
          continue;
        }
        // how much of it arrived is the session's to say: ask it (retrying) once the pause is over
        await this.pause(0, put.retryAfterMs, `uploading (${put.detail})`);
        state = await ask();
      }
    } finally {
      await fh.close();
    }
  }

  private lastNoted = -1;
  private lastRecorded = 0;

  /**
   * Progress, and the offset for `wopack status`, written at most once a second: a restart does not need
   * it (the session says where it stands), so it costs no fsync per chunk.
   */
  private async noteOffset(batch: Batch, confirmed: number): Promise<void> {
    if (confirmed === this.lastNoted) return;
    this.lastNoted = confirmed;
    this.s.onProgress?.({ archive: this.a.name, sent: confirmed, total: this.a.bytes });
    if (confirmed > 0 && performance.now() - this.lastRecorded >= OFFSET_EVERY_MS) {
      this.lastRecorded = performance.now();
      await this.record({ type: "offset", archive: this.a.name, batchId: batch.batchId, confirmed, at: this.now() });
    }
  }

  /** The last chunk is not sent: the bytes no longer have the SHA-256 of the report (a changed archive). */
  private changed(): ArchiveFailed {
    return new ArchiveFailed(
      problem(
        "E_UPLOAD_ARCHIVE_CHANGED",
        `${this.a.name}: its bytes no longer have the SHA-256 of its report; the last chunk was not sent, so the platform never completes it`,
        "an archive must not change after it is committed: pack the work orders again with --repack",
        this.a.name,
      ),
    );
  }

  /**
   * The session is gone (expired, or cancelled). The batch is asked for its status first: a failed or
   * missing batch is given up; a live one is deleted, and only a deleted one is given up. One the platform
   * will not delete counts as accepted. So an archive never ends in two accepted batches.
   */
  private async settleGone(batch: Batch): Promise<boolean> {
    const { a, s } = this;
    const status = await this.retrying("asking for the batch's status", () => s.api.batchStatus(batch.batchId));
    let reason: string;
    if (status.ok && statusLooksFailed(status.value.status)) reason = `the batch failed (${status.value.status})`;
    else if (!status.ok && status.kind === "gone") reason = "the batch is gone too";
    else if (!status.ok) throw this.failure(status.kind, status.detail, "asking for the batch's status");
    else {
      const deleted = await this.retrying("deleting the batch", () => s.api.deleteBatch(batch.batchId));
      if (!deleted.ok && deleted.kind === "auth") throw credentialsRefused(this.redact(deleted.detail));
      if (!deleted.ok && deleted.kind !== "gone") {
        this.warnings.push(
          problem(
            "W_UPLOAD_SESSION_GONE",
            `${a.name}: the upload session is gone, but the platform keeps batch ${batch.batchId} (status ${status.value.status}) and would not delete it; counted as uploaded`,
            "check that batch on the platform",
            a.name,
          ),
        );
        return true;
      }
      reason = `the upload session is gone; batch deleted (status was ${status.value.status})`;
    }
    await this.record({ type: "abandoned", archive: a.name, batchId: batch.batchId, reason, at: this.now() });
    s.log.warn(`${a.name}: ${reason}; a new batch is made`);
    return false;
  }

  /** A request retried while the answer says so (network, 408, 429, 5xx), within the retry bounds. */
  private async retrying<T>(what: string, request: () => Promise<Outcome<T>>): Promise<Outcome<T>> {
    for (let attempt = 0; ; attempt++) {
      this.s.signal?.throwIfAborted();
      const r = await request();
      if (r.ok || r.kind !== "retry") return r;
      if (attempt >= (this.s.retries ?? 20))
        return { ...r, kind: "fail", detail: `${r.detail} (gave up after ${attempt + 1} tries)` };
      await this.pause(attempt, r.retryAfterMs, `${what} (${r.detail})`);
    }
  }

  private async pause(attempt: number, retryAfterMs: number | undefined, what: string): Promise<void> {
    const wait = retryAfterMs ?? backoffMs(attempt);
    if (performance.now() + wait > this.deadline) {
      throw new ArchiveFailed(
        problem(
          "E_UPLOAD_GAVE_UP",
          `${this.a.name}: ${this.redact(what)}; still failing after the time allowed for one archive`,
          "the next run resumes it where it stopped; check the network or raise upload.maxElapsed",
          this.a.name,
        ),
      );
    }
    this.s.log.debug(`${this.a.name}: ${this.redact(what)}; retrying in ${Math.round(wait)} ms`);
    await sleep(wait, this.s.signal);
  }

  /** --upload-rate: waits until the bytes sent so far are within the rate. */
  private async pace(started: number, sent: number): Promise<void> {
    const rate = this.s.rateBytesPerSec;
    if (!rate) return;
    const ahead = (sent / rate) * 1000 - (performance.now() - started);
    if (ahead > 0) await sleep(ahead, this.s.signal);
  }

  private failure(kind: "retry" | "auth" | "gone" | "fail", detail: string, what: string): Error {
    const words = this.redact(detail);
    if (kind === "auth") return credentialsRefused(words);
    return new ArchiveFailed(
      problem(
        "E_UPLOAD_REFUSED",
        `${this.a.name}: the platform refused ${what} (${words})`,
        "the next run tries again; if it keeps failing, check the archive against the platform's rules (wopack validate)",
        this.a.name,
      ),
    );
  }

  private redact(text: string): string {
    return this.s.key ? text.split(this.s.key).join("[key]") : text;
  }
}

/** A pause that an interruption ends at once (as an interruption, exit 130). */
async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : {});
  } catch (err) {
    throw signal?.aborted ? interruptedError() : err;
  }
}
