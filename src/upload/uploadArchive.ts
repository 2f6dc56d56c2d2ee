// One committed archive sent to the platform exactly once (SPEC §12): every step is written to the upload
// journal before it is taken, a restart resumes the same session, and a second batch is made only when
// the first is provably not accepted.
import { open, stat } from "node:fs/promises";
import path from "node:path";
import { forgetSession, keepSession, keptSession, keptSessionUrl } from "../commit/sessions.js";
import { appendUploads, type UploadJournal, type UploadRecord } from "../commit/uploads.js";
import type { Clock } from "../core/clock.js";
import { type Problem, problem, WopackError } from "../core/errors.js";
import { faultPoint } from "../core/fault.js";
import { isRedacted, redact, secretsOf } from "../core/redact.js";
import type { UploadOutcome, UploadProgress } from "../core/types.js";
import { ChunkBuffers, hashFile } from "./archiveBytes.js";
import { compareObject } from "./objectCheck.js";
import {
  type Api,
  type Batch,
  CHUNK_SIZE,
  CHUNK_UNIT,
  type ObjectDigests,
  type Outcome,
  type SessionState,
  statusLooksFailed,
} from "./protocol.js";
import { type RequestSettings, Requests } from "./requests.js";
import { type RunningHash, runningSha256 } from "./sha256.js";
import { moveUploaded } from "./uploadedTo.js";
import {
  ArchiveFailed,
  archiveChanged,
  attentionProblem,
  credentialsRefused,
  insecureProblem,
  interrupted,
  maybeMadeProblem,
  NeedsAttention,
  protocolProblem,
  refusal,
  Unproven,
} from "./uploadProblems.js";

/** A committed archive, as its report describes it. */
export interface ArchiveToSend {
  name: string;
  path: string;
  sha256: string;
  bytes: number;
}

export interface UploadSettings extends RequestSettings {
  out: string;
  api: Api;
  /** redacted wherever a server's words are shown */
  key: string;
  /** URLs whose credentials (userinfo, query tokens) are redacted too: the platform's URL */
  urls?: readonly string[] | undefined;
  clock: Clock;
  /** move the archive and its report here once the platform confirmed it */
  uploadedTo?: string | undefined;
  /** runs that move one at a time with the sender's other moves (watch retries them beside a paused queue) */
  oneMove?: (<T>(move: () => Promise<T>) => Promise<T>) | undefined;
  onProgress?: (p: UploadProgress) => void;
  /** bytes per chunk, a multiple of 256 KiB (default CHUNK_SIZE) */
  chunkBytes?: number | undefined;
  /** the caller tells each upload itself (watch's "uploaded" event): the sender's own line is debug */
  outcomeTold?: boolean | undefined;
}

const OFFSET_EVERY_MS = 1_000;
/** Answers in a row that move the session on by less than a 256 KiB unit, before the archive fails. */
const MAX_STALLS = 3;
/** The largest chunk a fast line grows to. */
const MAX_CHUNK = 2 * CHUNK_SIZE;
/** New batches one run makes for one archive whose sessions keep going away. */
const MAX_BATCHES = 3;

export async function uploadArchive(a: ArchiveToSend, journal: UploadJournal, s: UploadSettings): Promise<UploadOutcome> {
  const state = journal.archives.get(a.name);
  if (state?.uploaded) return { archive: a.name, result: "already", batchId: state.uploaded.batchId, warnings: [] };
  if (state?.attention) {
    const { batchId, reason } = state.attention;
    return { archive: a.name, result: "attention", batchId, problem: attentionProblem(a.name, batchId, reason), warnings: [] };
  }
  const twin = journal.uploadedSha.get(a.sha256);
  if (twin && twin !== a.name) {
    const w = problem(
      "W_UPLOAD_DUPLICATE",
      `${a.name}: the same bytes were uploaded already, as ${twin}; not sent again`,
      "nothing to do; remove the copy if it is not wanted",
      a.name,
    );
    // a batch made for this archive by a run stopped before it journaled it holds nothing: it goes too
    if (state?.creating) await new Upload(a, journal, s).dropKept(`the same bytes were uploaded as ${twin}`);
    return { archive: a.name, result: "already", warnings: [w] };
  }
  const run = new Upload(a, journal, s);
  try {
    if (state?.batchId) return await run.send(await resumable(s.out, a.name, state.batchId, state.uploadUrl), true);
    return await run.send(state?.creating ? await run.adopt() : undefined, false);
  } catch (err) {
    if (s.signal?.aborted) throw interrupted(s.signal);
    if (err instanceof NeedsAttention) {
      return { archive: a.name, result: "attention", problem: err.problem, warnings: run.warnings };
    }
    // (a refused key stops every upload: the archive it stopped says so too, until a later try gets further)
    const failed =
      err instanceof ArchiveFailed ? err.problem : err instanceof WopackError && err.kind === "credentials" ? err : undefined;
    if (!failed) throw err;
    await run.record({ type: "failed", archive: a.name, code: failed.code, message: failed.message, at: run.now() });
    if (!(err instanceof ArchiveFailed)) throw err;
    const asked = err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs };
    return { archive: a.name, result: "failed", problem: err.problem, ...asked, warnings: run.warnings };
  }
}

/**
 * The batch to resume and its session URL: kept beside the journal (sessions.ts), or, from an older wopack,
 * whole in the journal; "" when neither holds it (the session cannot be resumed: see lostSession).
 */
async function resumable(out: string, archive: string, batchId: string, journaled: string | undefined): Promise<Batch> {
  const kept = await keptSessionUrl(out, archive, batchId);
  return { batchId, uploadUrl: kept ?? (journaled && !isRedacted(journaled) ? journaled : "") };
}

class Upload {
  readonly warnings: Problem[] = [];
  private readonly requests: Requests;
  /** the known secrets (the key, the platform URL's), and each session URL's bearer upload_id once known */
  private readonly secrets: string[];
  private readonly redact = (text: string): string => redact(text, this.secrets);

  constructor(
    private readonly a: ArchiveToSend,
    private readonly journal: UploadJournal,
    private readonly s: UploadSettings,
  ) {
    this.secrets = [...(s.key ? [s.key] : []), ...(s.urls ?? []).flatMap((u) => (u ? secretsOf(u) : []))];
    this.requests = new Requests(a.name, s, this.redact);
  }

  now(): string {
    return this.s.clock().toISOString();
  }

  /** The offset record being written while the next chunk travels: awaited (and its error seen) by the next record. */
  private offsetWrite: Promise<void> = Promise.resolve();

  async record(rec: UploadRecord): Promise<void> {
    await this.offsetWrite;
    await appendUploads(this.s.out, [rec], this.journal, this.s.signal);
    if (rec.type === "uploaded" || rec.type === "abandoned" || rec.type === "attention") {
      faultPoint("session-ended");
      await forgetSession(this.s.out, this.a.name);
    }
  }

  /**
   * The batch an earlier run made and kept the session of, but was stopped before it journaled (kill -9
   * between keepSession and the batch line): journaled now and sent to, never a second made beside it. It is
   * safe to adopt: wopack sends nothing to a batch before it is journaled, so the session holds nothing of
   * ours (one that claims bytes breaks the protocol, and its batch is deleted as any such).
   */
  async adopt(): Promise<Batch | undefined> {
    const kept = await this.journalKept();
    if (kept)
      this.s.log.info(
        `${this.a.name}: batch ${kept.batchId}, made by a run stopped before it journaled it, is used (no second batch made)`,
      );
    return kept;
  }

  /** The batch kept for this archive but never journaled, journaled now (its URL redacted); undefined when none is. */
  private async journalKept(): Promise<Batch | undefined> {
    const kept = await keptSession(this.s.out, this.a.name);
    if (!kept) return undefined;
    const uploadUrl = redact(kept.uploadUrl, secretsOf(kept.uploadUrl));
    await this.record({ type: "batch", archive: this.a.name, batchId: kept.batchId, uploadUrl, at: this.now() });
    return kept;
  }

  /**
   * The archive will not be sent (`why`): a batch made for it and kept, but never journaled (it holds nothing:
   * see adopt), is journaled, deleted on the platform if it lets, and given up; its kept session URL goes.
   */
  async dropKept(why: string): Promise<void> {
    const { a, s } = this;
    const kept = await this.journalKept();
    if (!kept) return;
    const deleted = await this.requests.retrying("deleting the batch", () => s.api.deleteBatch(kept.batchId));
    const done = deleted.ok ? "deleted" : deleted.kind === "gone" ? "gone already" : `left (${this.redact(deleted.detail)})`;
    const reason = `${why}; the batch a stopped run made for it holds nothing: ${done} on the platform`;
    await this.record({ type: "abandoned", archive: a.name, batchId: kept.batchId, reason, at: this.now() });
    s.log.warn(`${a.name}: batch ${kept.batchId}: ${reason}`);
  }

  /** `resumed`: `resume` is a journaled batch an earlier run may have sent part of the archive to. */
  async send(resume: Batch | undefined, resumed: boolean): Promise<UploadOutcome> {
    await this.checkSize();
    if (resume && !resume.uploadUrl) await this.lostSession(resume);
    let batch = resume;
    let lastGone = "";
    for (let made = 0; ; ) {
      if (!batch) {
        if (made++ >= MAX_BATCHES) {
          throw new ArchiveFailed(
            protocolProblem(
              this.a.name,
              this.redact,
              `the platform dropped the upload session of ${MAX_BATCHES} new batches in a row (the last: ${lastGone})`,
            ),
          );
        }
        batch = await this.createBatch();
      }
      let end: Awaited<ReturnType<Upload["sendSession"]>>;
      try {
        end = await this.sendSession(batch, made === 0 && resumed);
      } catch (err) {
        if (!(err instanceof Unproven)) throw err;
        await this.settleUnproven(batch, err.problem);
        throw new ArchiveFailed(err.problem);
      }
      if (!("gone" in end)) {
        if (end.digests) await this.checkObject(batch, end.digests, end.crc32c);
        return this.uploaded(batch);
      }
      await this.settleGone(batch, end.gone);
      lastGone = end.gone;
      batch = undefined;
    }
  }

  private async uploaded(batch: Batch): Promise<UploadOutcome> {
    const { a, s } = this;
    await this.record({ type: "uploaded", archive: a.name, sha256: a.sha256, batchId: batch.batchId, at: this.now() });
    s.onProgress?.({ archive: a.name, sent: a.bytes, total: a.bytes });
    (s.outcomeTold ? s.log.debug : s.log.info).call(s.log, `uploaded ${a.name} (batch ${batch.batchId})`);
    const move = () => moveUploaded(s.out, this.journal, a, s.uploadedTo!, () => this.now(), s.signal);
    const w = s.uploadedTo ? await (s.oneMove ? s.oneMove(move) : move()) : undefined;
    if (w) {
      s.log.warn(`${w.code}: ${w.message} (hint: ${w.hint})`); // (watch's log too: it tells the outcome as "uploaded")
      this.warnings.push(w);
    }
    const notMoved = w && s.uploadedTo ? { notMovedTo: path.resolve(s.uploadedTo) } : {};
    return { archive: a.name, result: "uploaded", batchId: batch.batchId, ...notMoved, warnings: this.warnings };
  }

  /**
   * The session's last answer named the stored object's digests: they must be the archive's. Bytes that
   * differ are on the platform in a completed batch: a person must look (never "uploaded", not sent again).
   */
  private async checkObject(batch: Batch, digests: ObjectDigests, sentCrc32c: number | undefined): Promise<void> {
    const differs = await compareObject(this.a.path, this.a.sha256, digests, sentCrc32c).catch(
      (err: NodeJS.ErrnoException) =>
        `the archive cannot be read again to check the platform's digest of it (${err.code ?? err.message})`,
    );
    if (!differs) return;
    const reason = this.redact(differs);
    await this.record({ type: "attention", archive: this.a.name, batchId: batch.batchId, reason, at: this.now() });
    const p = attentionProblem(this.a.name, batch.batchId, reason);
    this.s.log.warn(`${p.code}: ${p.message}`);
    throw new NeedsAttention(p);
  }

  /**
   * A batch to resume whose session URL is not kept any more (its file under .wopack/sessions removed by hand):
   * whether the batch holds the archive is unknown, so it is neither deleted nor sent to again: a person looks.
   */
  private async lostSession(batch: Batch): Promise<never> {
    const reason = "its upload session's URL is no longer kept in .wopack/sessions, so the session cannot be resumed";
    await this.record({ type: "attention", archive: this.a.name, batchId: batch.batchId, reason, at: this.now() });
    const p = attentionProblem(this.a.name, batch.batchId, reason);
    this.s.log.warn(`${p.code}: ${p.message}`);
    throw new NeedsAttention(p);
  }

  private async checkSize(): Promise<void> {
    const st = await stat(this.a.path).catch(() => undefined);
    if (!st || st.size !== this.a.bytes) {
      const what = st ? `${st.size} bytes, but its report says ${this.a.bytes}` : "not in --out any more";
      throw archiveChanged(this.a.name, `${what}; not sent`);
    }
  }

  private async createBatch(): Promise<Batch> {
    const { a } = this;
    await this.record({ type: "intent", archive: a.name, sha256: a.sha256, bytes: a.bytes, at: this.now() });
    const filename = a.name.replace(/\.zip$/i, "");
    let lost = false;
    const batch = await this.requests
      .retrying("creating a batch", async () => {
        const r = await this.s.api.createBatch(filename);
        if (!r.ok && r.kind === "retry" && r.lost) {
          lost = true;
          await this.record({ type: "maybeBatch", archive: a.name, detail: this.redact(r.detail), at: this.now() });
        }
        return r;
      })
      .finally(() => lost && this.warnMaybeMade(filename));
    if (!batch.ok) {
      if (batch.kind === "fail" && batch.batchId) await this.deleteUnusable(batch.batchId);
      throw refusal(this.a.name, this.redact, batch.kind, batch.detail, "creating a batch", this.s.urls?.[0]);
    }
    // the session URL on disk first, kept apart: the journal line names it without its token (SPEC §12)
    await keepSession(this.s.out, a.name, batch.value);
    const uploadUrl = redact(batch.value.uploadUrl, secretsOf(batch.value.uploadUrl));
    await this.record({ type: "batch", archive: a.name, batchId: batch.value.batchId, uploadUrl, at: this.now() });
    faultPoint("batch-journaled");
    this.s.log.info(`${a.name}: batch ${batch.value.batchId} created`);
    return batch.value;
  }

  /**
   * Creations whose answer was lost may each have made a batch, which the API cannot find again (it lists no
   * batches by name): each loss is journaled as it happens; one warning per try of the archive says them all, folded.
   */
  private warnMaybeMade(filename: string): void {
    const m = this.journal.archives.get(this.a.name)?.maybeBatches;
    if (!m) return;
    const p = maybeMadeProblem(this.a.name, filename, m);
    this.s.log.warn(`${p.code}: ${p.message} (hint: ${p.hint})`);
    this.warnings.push(p);
  }

  /**
   * Sends what the session does not hold yet, one chunk at a time, each only once the one before is
   * confirmed; complete (proven: wopack sent the last chunk, after the SHA-256 of every byte sent
   * matched the report), with the digests the session named for the stored object and, when this run sent
   * the last chunk, the CRC32C of every byte (if kept); or "gone". Every loop is bounded: retries in a row,
   * answers that make no progress, and the bytes of the archive.
   */
  private async sendSession(
    batch: Batch,
    resumed: boolean,
  ): Promise<{ gone: string } | { digests?: ObjectDigests | undefined; crc32c?: number | undefined }> {
    const { a, s } = this;
    this.secrets.push(...secretsOf(batch.uploadUrl)); // (a server may name its upload_id outside the URL)
    const total = a.bytes;
    // only wopack holds the session URL: what a resumed session holds at first, it sent in an earlier run
    let finalSent = resumed && this.journal.archives.get(a.name)?.finalSent === true;
    let first = true;
    let confirmed = 0; // the bytes the session holds, all of them hashed
    let hash = runningSha256();
    let sent: { from: number; data: Buffer; hashed: RunningHash } | undefined; // the last chunk sent, not yet confirmed
    let retries = 0;
    let stalls = 0;
    let chunk = s.chunkBytes ?? CHUNK_SIZE;
    // the next chunk, read and hashed (on from this chunk's hash) while this one is on its way
    let ahead: { from: number; length: number; data: Promise<Buffer>; hashed: Promise<RunningHash> } | undefined;
    const query = () => this.requests.call(() => s.api.querySession(batch.uploadUrl, total));
    const stall = async (what: string): Promise<Outcome<SessionState>> => {
      if (++stalls >= MAX_STALLS)
        throw new Unproven(protocolProblem(this.a.name, this.redact, `${what} (${stalls} answers in a row)`));
      s.log.debug(`${a.name}: ${this.redact(what)}; asking the session again`);
      await this.requests.pause(stalls, undefined, what);
      return query();
    };
    const fh = await open(a.path, "r");
    const buffers = new ChunkBuffers(Math.min(total, s.chunkBytes ?? MAX_CHUNK));
    /** The chunk at `from`, read, and hashed on from `before` (the hash of every byte up to `from`). */
    const readAhead = (from: number, before: RunningHash | Promise<RunningHash>) => {
      const length = Math.min(chunk, total - from);
      const data = buffers.read(fh, from, length);
      const hashed = Promise.all([before, data]).then(([h, d]) => h.copy().update(d));
      data.catch(() => undefined); // (read again, and its error seen, if it is used)
      hashed.catch(() => undefined);
      return { from, length, data, hashed };
    };
    try {
      const started = performance.now();
      let sentHere = 0;
      // a new session holds nothing: its first chunk is read and hashed while the session is asked
      if (!resumed && total > 0) ahead = readAhead(0, hash);
      let answer = await query();
      for (;;) {
        if (!answer.ok) {
          if (answer.kind === "gone") return { gone: this.redact(answer.detail) };
          // (checked on every session request, so a session an older wopack journaled is refused too)
          if (answer.kind === "insecure")
            throw new Unproven(insecureProblem(a.name, this.redact(`batch ${batch.batchId}: ${answer.detail}`)));
          if (answer.kind === "protocol") {
            answer = await stall(answer.detail);
            continue;
          }
          if (answer.kind !== "retry") throw refusal(this.a.name, this.redact, answer.kind, answer.detail, "uploading");
          if (++retries > (s.retries ?? 20))
            throw refusal(
              this.a.name,
              this.redact,
              "retry",
              `${answer.detail}; gave up after ${retries} tries`,
              "uploading",
              "the upload session",
            );
          await this.requests.pause(retries - 1, answer.retryAfterMs, `uploading (${answer.detail})`, answer.retryAfterNote);
          answer = await query();
          continue;
        }
        const at = answer.value;
        if (at.complete) {
          if (finalSent) {
            const all = sent && sent.from + sent.data.length === total ? sent.hashed : undefined;
            return { digests: at.digests, crc32c: all?.crc32c() };
          }
          throw new Unproven(
            protocolProblem(
              this.a.name,
              this.redact,
              `the upload session says complete, but wopack sent only ${sent ? sent.from + sent.data.length : confirmed} of its ${total} bytes`,
            ),
          );
        }
        const c = at.confirmed;
        if (first && resumed && c <= total) {
          // the bytes an earlier run sent: hashed from the file, as that run read them
          await hashFile(fh, hash, c);
          confirmed = c;
        } else if (c > total) {
          answer = await stall(`the session claims ${c} bytes of an archive of ${total}`);
          continue;
        } else if (c < confirmed) {
          answer = await stall(`the session went back from ${confirmed} bytes to ${c}`);
          continue;
        } else if (c > confirmed) {
          if (!sent || sent.from !== confirmed || c > sent.from + sent.data.length) {
            answer = await stall(
              `the session claims ${c} bytes, but wopack sent it ${sent ? sent.from + sent.data.length : confirmed}`,
            );
            continue;
          }
          if (c === sent.from + sent.data.length) hash = sent.hashed;
          else await hash.update(sent.data.subarray(0, c - sent.from));
          if (c - confirmed >= CHUNK_UNIT || c === sent.from + sent.data.length) {
            stalls = 0;
            retries = 0;
          } else if (++stalls >= MAX_STALLS) {
            // (a session that keeps a few bytes of each chunk would take an archive for ever, a chunk a byte)
            const what = `the session took ${c - confirmed} of the ${sent.data.length} bytes sent (${stalls} answers in a row under ${CHUNK_UNIT})`;
            throw new Unproven(protocolProblem(this.a.name, this.redact, what));
          }
          confirmed = c;
        } else if (!first) {
          // no progress
          if (c === total) {
            answer = await stall("the session holds every byte but does not say complete");
            continue;
          }
          if (++stalls >= MAX_STALLS)
            throw new Unproven(
              protocolProblem(this.a.name, this.redact, `the session took no bytes (${stalls} answers in a row)`),
            );
        }
        first = false;
        if (confirmed === total) {
          answer = await stall("the session holds every byte but does not say complete");
          continue;
        }
        this.noteOffset(batch, confirmed);
        const from = confirmed;
        // (read ahead on `hash` as it now stands: the chunk before was confirmed whole)
        const pre = ahead?.from === from ? ahead : undefined;
        if (ahead && !pre) await Promise.allSettled([ahead.data, ahead.hashed]); // (its buffer is read into next)
        ahead = undefined;
        const length = pre ? pre.length : Math.min(chunk, total - from);
        const data = pre ? await pre.data : await buffers.read(fh, from, length);
        if (data.length !== length) await this.checkSize();
        // the hash of every byte up to this chunk's end: of this very buffer, on another thread with the binding
        const hashing = pre ? pre.hashed : hash.copy().update(data);
        hashing.catch(() => undefined); // (awaited below, unless the request throws first)
        const last = from + length === total;
        if (last) {
          if ((await hashing).hex() !== a.sha256) throw archiveChanged(this.a.name);
          if (!finalSent) await this.record({ type: "final", archive: a.name, batchId: batch.batchId, at: this.now() });
          finalSent = true;
        }
        await this.requests.pace(started, sentHere);
        const began = performance.now();
        const putting = this.requests.call(() => s.api.putChunk(batch.uploadUrl, data, from, total));
        // while the chunk is on its way: the next one from the disk, hashed once this one is (sent only once
        // this one is confirmed), so that no confirmation waits for a hash, nor the last chunk for its check
        if (!last) ahead = readAhead(from + length, hashing);
        answer = await putting;
        sent = { from, data, hashed: await hashing };
        sentHere += length;
        // a fast line takes larger chunks: fewer round trips, each still confirmed before the next
        if (!s.chunkBytes && performance.now() - began < 500 && chunk < MAX_CHUNK) chunk *= 2;
      }
    } finally {
      await fh.close();
    }
  }

  private lastNoted = -1;
  private lastRecorded = 0;

  /**
   * Progress, and the offset for `wopack status`, written at most once a second and while the next chunk
   * travels: a restart does not need it (the session says where it stands), so no chunk waits for its fsync.
   */
  private noteOffset(batch: Batch, confirmed: number): void {
    if (confirmed === this.lastNoted) return;
    this.lastNoted = confirmed;
    this.s.onProgress?.({ archive: this.a.name, sent: confirmed, total: this.a.bytes });
    if (confirmed > 0 && performance.now() - this.lastRecorded >= OFFSET_EVERY_MS) {
      this.lastRecorded = performance.now();
      // (not waited for: its fsync would hold the next chunk, and the line sits idle meanwhile)
      this.offsetWrite = this.record({ type: "offset", archive: this.a.name, batchId: batch.batchId, confirmed, at: this.now() });
      this.offsetWrite.catch(() => undefined);
    }
  }

  /**
   * The session is gone (expired, or cancelled). The batch is asked for its status first: a failed or
   * missing batch is given up; a live one is deleted, and only a deleted one is given up. One the platform
   * will not delete needs attention: it may hold part of the archive, and a second batch could make two.
   */
  private async settleGone(batch: Batch, why: string): Promise<void> {
    const { a, s } = this;
    const status = await this.requests.retrying("asking for the batch's status", () => s.api.batchStatus(batch.batchId));
    let reason: string;
    if (status.ok && statusLooksFailed(status.value.status)) reason = `the batch failed (${status.value.status})`;
    else if (!status.ok && status.kind === "gone") reason = "the batch is gone too";
    else if (!status.ok)
      throw refusal(this.a.name, this.redact, status.kind, status.detail, "asking for the batch's status", this.s.urls?.[0]);
    else {
      await this.deleteOrAttention(batch, `the upload session is gone (${why}; batch status ${status.value.status})`);
      reason = `the upload session is gone (${why}); batch deleted (status was ${status.value.status})`;
    }
    await this.record({ type: "abandoned", archive: a.name, batchId: batch.batchId, reason, at: this.now() });
    s.log.warn(`${a.name}: ${reason}; a new batch is made`);
  }

  /**
   * A batch the platform made but answered without a session to send to holds nothing: it is deleted, so that
   * each try (watch retries for hours) does not leave another empty batch on the platform.
   */
  private async deleteUnusable(batchId: string): Promise<void> {
    const deleted = await this.requests.retrying("deleting the batch", () => this.s.api.deleteBatch(batchId));
    const done = deleted.ok ? "deleted" : deleted.kind === "gone" ? "gone already" : `left (${this.redact(deleted.detail)})`;
    this.s.log.warn(`${this.a.name}: batch ${batchId} came without an upload session: ${done} on the platform`);
  }

  /** A session that broke the protocol is not used again: its batch is deleted, or needs attention. */
  private async settleUnproven(batch: Batch, p: Problem): Promise<void> {
    const why = p.message.replace(`${this.a.name}: `, "").replace(/; (not uploaded|nothing was sent there)$/, "");
    const done = await this.deleteOrAttention(batch, why);
    await this.record({ type: "abandoned", archive: this.a.name, batchId: batch.batchId, reason: p.message, at: this.now() });
    this.s.log.warn(`${this.a.name}: batch ${batch.batchId} ${done} on the platform (${p.code}: ${why})`);
  }

  /** "deleted", or "gone already"; a batch the platform will not delete needs attention (thrown). */
  private async deleteOrAttention(batch: Batch, why: string): Promise<string> {
    const deleted = await this.requests.retrying("deleting the batch", () => this.s.api.deleteBatch(batch.batchId));
    if (deleted.ok) return "deleted";
    if (deleted.kind === "gone") return "gone already";
    if (deleted.kind === "auth") throw credentialsRefused(this.redact(deleted.detail));
    const how = deleted.kind === "retry" ? "got no usable answer" : "was refused";
    const reason = `${this.redact(why)}; deleting the batch ${how} (${this.redact(deleted.detail)})`;
    await this.record({ type: "attention", archive: this.a.name, batchId: batch.batchId, reason, at: this.now() });
    const p = attentionProblem(this.a.name, batch.batchId, reason);
    this.s.log.warn(`${p.code}: ${p.message}`);
    throw new NeedsAttention(p);
  }
}
