// The upload journal: what happened to each archive on its way to the platform, append-only and fsynced
// before the step it records is taken (SPEC §12). Beside the ledger, in its own file: a 2 GB upload adds
// a record per confirmed chunk, which the ledger of commits need not carry.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { ioError, isGone } from "../core/errors.js";
import { appendLines, syncDir, writeFileAtomic } from "./files.js";
import { withShortLock } from "./lock.js";
import { stateDir, tmpDir } from "./paths.js";

export type UploadRecord =
  /** about to create a batch for this archive (its SHA-256 and size from its report) */
  | { type: "intent"; archive: string; sha256: string; bytes: number; at: string }
  /**
   * the platform created it: the session is resumed from here after any crash, its URL (whose upload_id is a
   * bearer token) redacted here and kept whole in .wopack/sessions (sessions.ts) until the session ends
   */
  | { type: "batch"; archive: string; batchId: string; uploadUrl: string; at: string }
  /** the session holds this many bytes */
  | { type: "offset"; archive: string; batchId: string; confirmed: number; at: string }
  /** the last chunk is about to be sent (the SHA-256 of every byte sent matched the report's) */
  | { type: "final"; archive: string; batchId: string; at: string }
  /** the session said complete: the archive reached the platform, once */
  | { type: "uploaded"; archive: string; sha256: string; batchId: string; at: string }
  /** the session is gone and its batch was deleted or had failed: a new batch may be made */
  | { type: "abandoned"; archive: string; batchId: string; reason: string; at: string }
  /** this archive could not be sent (a refusal that retrying does not cure); the next run tries again */
  | { type: "failed"; archive: string; code: string; message: string; at: string }
  /**
   * the platform keeps a batch that may hold part of this archive and would not delete it: not uploaded,
   * not sent again until the operator has looked (and names it to `wopack upload`); prune keeps it
   */
  | { type: "attention"; archive: string; batchId: string; reason: string; at: string }
  /**
   * the operator dealt with the batch that needed attention (`upload --attention-cleared`): the archive may be
   * sent again; appended beside a running watch too, which adopts it (adoptCleared) and sends the archive
   */
  | { type: "cleared"; archive: string; batchId: string; at: string }
  /** creating a batch got no usable answer (a 5xx, a dropped connection): the platform may keep an empty batch */
  | { type: "maybeBatch"; archive: string; detail: string; at: string }
  /** the platform's status of the batch, as last asked */
  | { type: "status"; archive: string; batchId: string; status: string; at: string }
  /** --uploaded-to is about to move the archive and its report there (a run cut short finishes it) */
  | { type: "moving"; archive: string; to: string; at: string }
  /** the archive and its report were moved by --uploaded-to; `folder`: that folder's device:inode then */
  | { type: "moved"; archive: string; to: string; folder?: string; at: string }
  /**
   * --uploaded-to did not move it (the folder missing or not the same, a link or another file under its name, a
   * full or read-only disk): `code` says which, for `status` and a running watch, which tries again
   */
  | { type: "moveRefused"; archive: string; to: string; code?: string; reason: string; at: string }
  /** a run not given --uploaded-to (dropped on purpose): the refused move is given up, the archive stays in --out */
  | { type: "moveDropped"; archive: string; to: string; at: string }
  /** compaction: everything known of one archive */
  | ({ type: "state" } & UploadState);

export interface UploadState {
  archive: string;
  sha256?: string | undefined;
  bytes?: number | undefined;
  batchId?: string | undefined;
  uploadUrl?: string | undefined;
  confirmed: number;
  /** the last chunk of this batch was sent (after the SHA-256 check): only then may its session say complete */
  finalSent?: boolean | undefined;
  /**
   * a batch creation was journaled (intent) and no batch since: a session kept for the archive now is that
   * creation's batch, made but never journaled (kill -9 between keepSession and the batch line), to adopt
   */
  creating?: boolean | undefined;
  uploaded?: { batchId: string; at: string } | undefined;
  /**
   * the last failure, kept until a later try gets further than `progress` (the bytes its batch held then, -1 without
   * a batch): a new batch made, or more bytes confirmed; a try that fails sooner (or is stopped) leaves it said
   */
  failed?: { code: string; message: string; at: string; progress?: number | undefined } | undefined;
  /** a batch holding (part of) this archive that the platform would not delete: it needs a person */
  attention?: { batchId: string; reason: string; at: string } | undefined;
  /** the last batch an operator cleared (`upload --attention-cleared`): the proof a running watch adopts */
  cleared?: { batchId: string; at: string } | undefined;
  status?: { status: string; at: string } | undefined;
  /**
   * the batch creations whose answer was lost since the archive was last uploaded or cleared, folded: the empty
   * batches the platform may keep, for an operator to delete (the API lists no batches, so their ids are unknown)
   */
  maybeBatches?: MaybeBatches | undefined;
  /** where --uploaded-to began to move it: while not movedTo, the next run finishes the move */
  moving?: string | undefined;
  movedTo?: string | undefined;
  /** the device:inode of the folder it was moved into (`movedTo` may later name another: an unmounted disk's) */
  movedInto?: string | undefined;
  /** the move --uploaded-to last refused, why, and since when: the same refusal is not warned of again */
  moveRefused?: { to: string; code?: string | undefined; reason: string; at?: string | undefined } | undefined;
  /** when it was last touched */
  at: string;
}

export interface MaybeBatches {
  count: number;
  first: string;
  last: string;
  /** the last lost answer's words (redacted) */
  detail: string;
}

export interface UploadJournal {
  archives: Map<string, UploadState>;
  /** SHA-256 -> the archive uploaded with that content: the same bytes are never sent twice */
  uploadedSha: Map<string, string>;
  records: number;
}

export function uploadsPath(out: string): string {
  return path.join(stateDir(out), "uploads.jsonl");
}

/**
 * Every writer of the journal holds this lock for the moment it writes: `status --refresh` appends beside a `watch`
 * that holds the lock on --out, and a compaction must not rename a rewrite over a record appended meanwhile.
 */
function withJournalLock<T>(out: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  return withShortLock(`${uploadsPath(out)}.lock`, tmpDir(out), fn, { signal });
}

function apply(journal: UploadJournal, rec: UploadRecord): void {
  const before = journal.archives.get(rec.archive) ?? { archive: rec.archive, confirmed: 0, at: rec.at };
  let s: UploadState = { ...before, at: rec.at };
  switch (rec.type) {
    case "state": {
      const { type: _, ...state } = rec;
      s = { ...state, maybeBatches: foldedMaybe(state.maybeBatches) };
      break;
    }
    case "intent":
      Object.assign(s, { sha256: rec.sha256, bytes: rec.bytes, attention: undefined, creating: true });
      break;
    case "batch":
      Object.assign(s, { batchId: rec.batchId, uploadUrl: rec.uploadUrl, confirmed: 0, finalSent: undefined });
      s.creating = undefined;
      if ((s.failed?.progress ?? -1) < 0) s.failed = undefined;
      break;
    case "final":
      if (rec.batchId === s.batchId) s.finalSent = true;
      break;
    case "attention":
      Object.assign(s, { attention: { batchId: rec.batchId, reason: rec.reason, at: rec.at }, failed: undefined });
      if (s.batchId === rec.batchId)
        Object.assign(s, { batchId: undefined, uploadUrl: undefined, confirmed: 0, finalSent: undefined });
      break;
    case "cleared":
      if (s.attention?.batchId === rec.batchId) s.attention = undefined;
      s.cleared = { batchId: rec.batchId, at: rec.at };
      s.maybeBatches = undefined; // (the operator looked at the platform)
      break;
    case "offset":
      if (rec.batchId === s.batchId) s.confirmed = rec.confirmed;
      if (s.failed && rec.confirmed > (s.failed.progress ?? -1)) s.failed = undefined;
      break;
    case "uploaded":
      Object.assign(s, { uploaded: { batchId: rec.batchId, at: rec.at }, sha256: rec.sha256, confirmed: s.bytes ?? s.confirmed });
      Object.assign(s, { failed: undefined, attention: undefined, maybeBatches: undefined });
      break;
    case "abandoned":
      if (s.batchId === rec.batchId)
        Object.assign(s, { batchId: undefined, uploadUrl: undefined, confirmed: 0, finalSent: undefined });
      break;
    case "failed":
      s.failed = { code: rec.code, message: rec.message, at: rec.at, progress: s.batchId ? s.confirmed : -1 };
      break;
    case "status":
      s.status = { status: rec.status, at: rec.at };
      break;
    case "maybeBatch":
      s.maybeBatches = {
        count: (s.maybeBatches?.count ?? 0) + 1,
        first: s.maybeBatches?.first ?? rec.at,
        last: rec.at,
        detail: rec.detail,
      };
      break;
    case "moving":
      s.moving = rec.to;
      break;
    case "moved":
      s.movedTo = rec.to;
      s.movedInto = rec.folder;
      s.moveRefused = undefined;
      break;
    case "moveRefused":
      s.moveRefused = { to: rec.to, code: rec.code, reason: rec.reason, at: rec.at };
      break;
    case "moveDropped":
      s.moveRefused = undefined;
      s.moving = undefined;
      break;
  }
  journal.archives.set(rec.archive, s);
  if (s.uploaded && s.sha256) journal.uploadedSha.set(s.sha256, rec.archive);
}

/** A compacted state's lost creations: folded already, or the list an older wopack kept. */
function foldedMaybe(m: unknown): MaybeBatches | undefined {
  if (!Array.isArray(m)) return m && typeof m === "object" ? (m as MaybeBatches) : undefined;
  const list = m as { at: string; detail: string }[];
  if (!list.length) return undefined;
  return { count: list.length, first: list[0]!.at, last: list.at(-1)!.at, detail: list.at(-1)!.detail };
}

/** Reads the journal; a torn last line (a crash mid-append) is skipped. */
export async function readUploads(out: string): Promise<UploadJournal> {
  const journal: UploadJournal = { archives: new Map(), uploadedSha: new Map(), records: 0 };
  let text = "";
  try {
    text = await readFile(uploadsPath(out), "utf8");
  } catch (err) {
    if (!isGone(err)) throw ioError(err, `cannot read the upload journal ${uploadsPath(out)}`);
  }
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    let rec: UploadRecord;
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof rec?.archive !== "string" || typeof rec.type !== "string") continue;
    journal.records++;
    apply(journal, rec);
  }
  return journal;
}

/**
 * Appends and fsyncs records, then applies them to `journal` (when given). `signal` ends a wait for the
 * journal's lock (E_INTERRUPTED, nothing appended).
 */
export async function appendUploads(
  out: string,
  records: UploadRecord[],
  journal?: UploadJournal,
  signal?: AbortSignal,
): Promise<void> {
  await withJournalLock(
    out,
    () =>
      appendLines(
        uploadsPath(out),
        records.map((r) => JSON.stringify(r)),
      ),
    signal,
  );
  if (journal) {
    for (const r of records) apply(journal, r);
    journal.records += records.length;
  }
}

/**
 * The archives uploaded but not yet moved where --uploaded-to says: the move refused or failed (the folder missing, an
 * empty folder that is not the one earlier archives went into, a link or a name taken there, a full or read-only disk);
 * they wait in --out, oldest refusal first.
 */
export function uploadedNotMoved(
  journal: UploadJournal,
): { archive: string; to: string; code?: string; reason: string; at: string }[] {
  return [...journal.archives.values()]
    .filter((s) => s.uploaded && s.moveRefused)
    .map((s) => {
      const { to, code, reason, at } = s.moveRefused!;
      return { archive: s.archive, to, ...(code ? { code } : {}), reason, at: at ?? s.at };
    })
    .sort((x, y) => x.at.localeCompare(y.at) || x.archive.localeCompare(y.archive));
}

/** The archives that need attention (a batch that may hold part of them stays on the platform), oldest first. */
export function needingAttention(journal: UploadJournal): { archive: string; batchId: string; reason: string; at: string }[] {
  return [...journal.archives.values()]
    .filter((s) => s.attention && !s.uploaded && !s.movedTo)
    .map((s) => ({ archive: s.archive, ...s.attention! }))
    .sort((x, y) => x.at.localeCompare(y.at) || x.archive.localeCompare(y.archive));
}

/**
 * Appends a "cleared" record for each named archive that needs attention (read afresh, under the journal's
 * own lock: this may run beside a watch that holds the lock on --out); the names of those cleared.
 */
export async function clearAttention(out: string, archives: string[], at: string, signal?: AbortSignal): Promise<string[]> {
  return withJournalLock(
    out,
    async () => {
      const now = await readUploads(out);
      const recs = needingAttention(now)
        .filter((n) => archives.includes(n.archive))
        .map((n): UploadRecord => ({ type: "cleared", archive: n.archive, batchId: n.batchId, at }));
      if (recs.length)
        await appendLines(
          uploadsPath(out),
          recs.map((r) => JSON.stringify(r)),
        );
      return recs.map((r) => r.archive);
    },
    signal,
  );
}

/**
 * A long-running reader of the journal (watch's sender) learns the archives another process cleared since
 * it read it (`upload --attention-cleared` beside it); their names. Only a "cleared" record of the very batch
 * that needed attention counts: a journal that is missing or was cut back (moved aside, restored from a
 * backup) clears nothing.
 */
export async function adoptCleared(out: string, journal: UploadJournal): Promise<string[]> {
  const waiting = needingAttention(journal);
  if (!waiting.length) return [];
  const disk = await readUploads(out);
  const cleared = waiting.filter((w) => disk.archives.get(w.archive)?.cleared?.batchId === w.batchId);
  for (const c of cleared) apply(journal, { type: "cleared", archive: c.archive, batchId: c.batchId, at: c.at });
  return cleared.map((c) => c.archive);
}

/**
 * Rewrites a long journal as one state record per archive (atomically); the SHA-256 guard is kept. What it
 * rewrites is read again under the journal's lock, so a record another process appended since `journal` was
 * read is carried over (and `journal` learns it).
 */
export async function compactUploads(out: string, journal: UploadJournal, signal?: AbortSignal): Promise<void> {
  if (journal.records < 2_000 || journal.records < journal.archives.size * 4) return;
  await withJournalLock(
    out,
    async () => {
      const now = await readUploads(out);
      // (an uploaded archive's session is over: its URL, whole in an older wopack's journal, is not carried over)
      const lines = [...now.archives.values()].map(
        (s) => JSON.stringify({ type: "state", ...s, ...(s.uploaded ? { uploadUrl: undefined } : {}) }) + "\n",
      );
      await writeFileAtomic(uploadsPath(out), lines.join(""), tmpDir(out));
      await syncDir(stateDir(out));
      journal.archives = now.archives;
      journal.uploadedSha = now.uploadedSha;
      journal.records = now.archives.size;
    },
    signal,
  );
}
