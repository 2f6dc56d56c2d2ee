// The index of packed pictures on disk, in <out>/.wopack/ beside the ledger (docs/photo-checks.md, "The index"):
// pictures.journal, appended and fsynced once per archive BEFORE the archive is put in place, and
// pictures.snapshot, the compacted whole, written atomically. A journal record counts only once the ledger holds
// its archive as committed, so a crash at any point leaves nothing of an uncommitted archive behind.

import { open, readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { exists, syncDir, writeFileAtomic } from "../commit/files.js";
import { readLedger } from "../commit/ledger.js";
import { holdsLock } from "../commit/lock.js";
import { lockPath, stateDir, tmpDir } from "../commit/paths.js";
import { faultPoint } from "../core/fault.js";
import {
  type Columns,
  ColumnsBuilder,
  encodeRecord,
  encodeSnapshot,
  JOURNAL_HEADER,
  type JournalRecord,
  journalHeader,
  type NewPicture,
  readJournal,
  readSnapshot,
  snapshotGeneration,
} from "./pictureFormat.js";

export type { NewPicture } from "./pictureFormat.js";

export function journalPath(out: string): string {
  return path.join(stateDir(out), "pictures.journal");
}
export function snapshotPath(out: string): string {
  return path.join(stateDir(out), "pictures.snapshot");
}

/**
 * The most bytes of an index file that are read: far above what wopack writes (a million pictures take about
 * 64 MB), so a larger file is damage; read, it would hold the memory it is (or fail past 2 GiB) on every run.
 */
export const MAX_INDEX_FILE_BYTES = 1024 * 1024 * 1024;

/** A file's bytes; undefined when it is missing; "too large" past MAX_INDEX_FILE_BYTES (not read). */
async function readOrNothing(file: string): Promise<Buffer | undefined | "too large"> {
  try {
    if ((await stat(file)).size > MAX_INDEX_FILE_BYTES) return "too large";
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

export interface OutboxPictures {
  out: string;
  /** the snapshot's then the journal's committed pictures */
  parts: Columns[];
  /** the snapshot could not be read (damaged): its pictures are not compared */
  snapshotDamaged: boolean;
  /** journal records that could not be read between good ones */
  damaged: number;
  tornBytes: number;
  /** journal records that do not count: of archives the ledger does not hold (a crash before the commit, a
   * failed one), or an earlier attempt at a name committed later */
  ignored: number;
  /** the last record of each archive name the ledger does not hold (yet: recovery may adopt its archive) */
  pending: JournalRecord[];
  generation: number;
}

/**
 * One outbox's pictures: the snapshot, then the journal's records of archives `committed` holds (the last
 * record of an archive name counts: an earlier one is of an attempt that failed). Of a journal older than the
 * snapshot (a compaction that stopped between its two renames), the records of archives the snapshot holds
 * are skipped; a journal newer than the snapshot read (another process compacting meanwhile) means read both
 * again.
 */
export async function readOutbox(out: string, committed: ReadonlySet<string>): Promise<OutboxPictures> {
  for (let attempt = 0; ; attempt++) {
    const snapBytes = await readOrNothing(snapshotPath(out));
    const journalBytes = await readOrNothing(journalPath(out));
    const snap = snapBytes && snapBytes !== "too large" ? readSnapshot(snapBytes) : undefined;
    const journal =
      journalBytes === "too large"
        ? { generation: undefined, records: [], damaged: 1, tornBytes: 0 }
        : journalBytes && readJournal(journalBytes);
    const generation = snap?.generation ?? 0;
    if (journal?.generation !== undefined && journal.generation > generation && attempt < 3) continue;
    const read: OutboxPictures = {
      out,
      parts: snap ? [snap.columns] : [],
      snapshotDamaged: snapBytes !== undefined && !snap,
      damaged: journal?.damaged ?? 0,
      tornBytes: journal?.tornBytes ?? 0,
      ignored: 0,
      pending: [],
      generation: Math.max(generation, journal?.generation ?? 0),
    };
    if (!journal) return read;
    // a journal older than the snapshot: a compaction stopped between its renames; what it folded is there
    const folded =
      snap && journal.generation !== undefined && journal.generation < generation
        ? new Set(Array.from(snap.columns.archName, (id) => snap.columns.strings.get(id)))
        : undefined;
    const records = folded ? journal.records.filter((rec) => !folded.has(rec.archive)) : journal.records;
    const last = new Map<string, JournalRecord>();
    for (const rec of records) last.set(rec.archive, rec);
    read.pending = [...last.values()].filter((rec) => !committed.has(rec.archive));
    read.ignored = records.length - last.size + read.pending.length;
    const builder = new ColumnsBuilder();
    for (const rec of records) {
      if (last.get(rec.archive) !== rec || !committed.has(rec.archive)) continue;
      const a = builder.archive(rec.archive, rec.at);
      for (const p of rec.pictures) builder.push(p.hi, p.lo, p.sha, p.wo, p.entry, a);
    }
    const columns = builder.build();
    if (columns.n) read.parts.push(columns);
    return read;
  }
}

/** The first bytes of a file (fewer when it is shorter, none when it is missing). */
async function head(file: string, bytes: number): Promise<Buffer> {
  const fh = await open(file, "r").catch(() => undefined);
  if (!fh) return Buffer.alloc(0);
  try {
    const b = Buffer.alloc(bytes);
    return b.subarray(0, (await fh.read(b, 0, bytes, 0)).bytesRead);
  } finally {
    await fh.close();
  }
}

/** Puts a journal in place (atomically) that follows snapshot `generation`, with these records (else empty). */
async function resetJournal(out: string, generation: number, records: readonly Buffer[] = []): Promise<void> {
  await writeFileAtomic(journalPath(out), Buffer.concat([journalHeader(generation), ...records]), tmpDir(out));
  await syncDir(stateDir(out));
}

/**
 * Appends an archive's pictures to the journal and fsyncs it. Called by the commit step once the archive's
 * report is in place and before the archive is (commit/commit.ts), so that the ledger never holds an archive
 * whose pictures were not written; a record whose archive never got committed is ignored, then compacted away.
 */
export async function appendPictures(out: string, archive: string, pictures: readonly NewPicture[], at: Date): Promise<void> {
  if (!pictures.length) return;
  // (a journal older than the snapshot is appended to as it is: readers skip what the snapshot holds)
  if (!(await head(journalPath(out), JOURNAL_HEADER)).length)
    await resetJournal(out, snapshotGeneration(await head(snapshotPath(out), 12)));
  const journal = await open(journalPath(out), "a");
  try {
    await journal.write(encodeRecord(archive, at.getTime(), pictures));
    await journal.sync();
  } finally {
    await journal.close();
  }
}

/** Journal bytes past which it is folded into the snapshot (and past a quarter of the snapshot's size). */
export const COMPACT_AFTER_BYTES = 4 * 1024 * 1024;

/**
 * Folds the journal's committed pictures into a new snapshot and starts a new journal: snapshot first (temp,
 * fsync, rename), then the journal (the same), so that a crash between leaves a journal older than the
 * snapshot, which readers ignore. The record of an archive that is in --out but not in the ledger (a crash
 * after it was put in place: recovery adopts it) is carried into the new journal; the others of archives
 * not committed are dropped. Run under the lock on --out. Returns whether it compacted.
 */
export async function compactPictures(out: string, force = false): Promise<boolean> {
  const sizes = await Promise.all(
    [journalPath(out), snapshotPath(out)].map((f) =>
      stat(f).then(
        (s) => s.size,
        () => 0,
      ),
    ),
  );
  const [journal, stored] = sizes as [number, number];
  // (a snapshot too large to be read is compacted as if there were none: else never, so never dropped)
  const snapshot = stored > MAX_INDEX_FILE_BYTES ? 0 : stored;
  if (!force && (journal < COMPACT_AFTER_BYTES || journal < snapshot / 4)) return false;
  if (!journal && !stored) return false;
  const ledger = await readLedger(out);
  const read = await readOutbox(out, ledger.archives);
  const [first, ...rest] = read.parts;
  const builder = first ? ColumnsBuilder.from(first) : new ColumnsBuilder();
  for (const part of rest) builder.add(part);
  const carried: Buffer[] = [];
  for (const rec of read.pending) if (await exists(path.join(out, rec.archive))) carried.push(rec.raw);
  const generation = read.generation + 1;
  await writeFileAtomic(snapshotPath(out), encodeSnapshot(builder.build(), builder.strings, generation), tmpDir(out));
  await syncDir(stateDir(out));
  faultPoint("pictures-compacting");
  await resetJournal(out, generation, carried);
  return true;
}

/**
 * Damage found in this outbox's index (a record or a snapshot that does not check, a file too large) is told
 * once, by the run that found it: when this process holds the lock on `out` (never in a dry run), the index
 * is compacted at once, without what could not be read, under the same rules as any compaction; else (and
 * before) every run read the damage again and told it again until the journal grew past COMPACT_AFTER_BYTES.
 * Returns why it could not be compacted, if it could not (the next run tries again).
 */
export async function repairPictures(out: string): Promise<string | undefined> {
  if (!holdsLock(lockPath(out))) return undefined;
  try {
    await compactPictures(out, true);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The outboxes beside `out` (the other shards', by convention) that hold an index of pictures. */
export async function siblingOutboxes(out: string): Promise<string[]> {
  const parent = path.dirname(out);
  const found: string[] = [];
  for (const name of (await readdir(parent).catch(() => [] as string[])).sort()) {
    const sibling = path.join(parent, name);
    if (sibling === out) continue;
    const files = await readdir(stateDir(sibling)).catch(() => [] as string[]);
    if (files.includes("pictures.journal") || files.includes("pictures.snapshot")) found.push(sibling);
  }
  return found;
}
