// `wopack prune`: retention for what is done. Committed archives (with their report and review page) and
// the work orders moved to processed/ once they are older than a cut-off; a dry run unless told to delete.
// Never anything not committed. Once this outbox uploads at all, never an archive the platform has not
// confirmed, nor the sources of one: a work order's folders go only when every archive that holds any
// submission of it is old enough and (when uploading) confirmed, so a refused batch can be packed again.
import { lstat, readdir, readFile, readlink, realpath, rm, stat } from "node:fs/promises";
import path from "node:path";
import { type LedgerState, readLedger } from "../commit/ledger.js";
import { REPORT_SUFFIX } from "../commit/recovery.js";
import { readUploads, type UploadJournal, type UploadState } from "../commit/uploads.js";
import type { Config } from "../config/schema.js";
import { type Clock, systemClock } from "../core/clock.js";
import { type Problem, problem } from "../core/errors.js";
import { type FileStamp, type Logger, type MoveItem, silentLogger } from "../core/types.js";
import { codeUnitOrder, reviewPath } from "../spec/names.js";
import { type Standing, standingOf, uploadAccepted } from "../upload/sameBytes.js";
import { realPathOf, requireFolder } from "./folders.js";
import { deleteRecorded, movedFolders, movedHere, type RecordedFiles, recordedFiles, sortFolder } from "./pruneSources.js";
import { openOutput } from "./session.js";

export interface PruneOptions {
  out: string;
  /** keep what is younger than this many ms */
  olderThanMs: number;
  /** also prune the work orders moved here (--move-to) */
  processed?: string | undefined;
  /** delete; without it, only say what would go */
  delete?: boolean;
  /**
   * The config (upload.url) and environment (WOPACK_API_URL; default process.env): once a platform is
   * configured the outbox uploads, so nothing unconfirmed goes even before the first upload was tried.
   */
  config?: Config | undefined;
  env?: NodeJS.ProcessEnv;
  now?: Clock;
  logger?: Logger;
}

export interface PruneItem {
  path: string;
  bytes: number;
  /** when it was committed (an archive) or its work order's last commit (a processed folder) */
  committedAt: string;
}

export interface PruneResult {
  dryRun: boolean;
  pruned: PruneItem[];
  /** older than the cut-off but kept, and why (not uploaded yet, not in the ledger); a code when refused */
  kept: { path: string; reason: string; code?: string }[];
  /** due, but deleting it failed (a busy mount, a read-only disk): left, maybe in part, with the error */
  failed: { path: string; reason: string }[];
  bytes: number;
  /** what the operator should know (W_PRUNE_PROCESSED_EMPTY: --processed empty, a disk not mounted there?) */
  warnings: Problem[];
}

/** What prune knows of one archive the ledger has committed. */
interface ArchiveFacts {
  name: string;
  /** where it is in --out (it may be gone: moved by --uploaded-to, or pruned before) */
  path: string;
  /** its report is beside it in --out */
  present: boolean;
  committedAt: string;
  old: boolean;
  /** why it must stay, though old; undefined when it may go */
  unconfirmed?: string | undefined;
  /** the work orders it holds (from the ledger and its report) */
  ids: Set<string>;
  /** its work orders' moves to --move-to, as its report records them */
  moves: MoveItem[];
}

export async function prune(o: PruneOptions): Promise<PruneResult> {
  const out = path.resolve(o.out);
  await requireFolder(out, "E_OUT_MISSING", "the output folder", "give the --out folder pack writes archives to");
  // under the lock: a pack publishing meanwhile never loses the archive it is writing
  const session = await openOutput(out, o.logger ?? silentLogger, o.now ?? systemClock);
  try {
    return await pruneHeld({ ...o, out });
  } finally {
    await session.release();
  }
}

/** prune, by a run that holds the lock on --out already (watch, between its passes). */
export async function pruneHeld(o: PruneOptions): Promise<PruneResult> {
  const out = path.resolve(o.out);
  const cutoff = (o.now ?? systemClock)().getTime() - o.olderThanMs;
  const result: PruneResult = { dryRun: !o.delete, pruned: [], kept: [], failed: [], bytes: 0, warnings: [] };
  const uploads = await readUploads(out);
  const uploading = uploads.archives.size > 0 || Boolean((o.env ?? process.env).WOPACK_API_URL?.trim() || o.config?.upload.url);
  const ledger = await readLedger(out);
  const archives = await archiveFacts(out, ledger, uploads, uploading, cutoff);
  for (const a of [...archives.values()].sort(
    (x, y) => codeUnitOrder(x.committedAt, y.committedAt) || codeUnitOrder(x.name, y.name),
  )) {
    if (!a.old) continue;
    if (!a.present) {
      // (its archive left --out, moved by --uploaded-to or pruned: a page left behind goes, not kept for ever)
      if (!a.unconfirmed && !(await lstat(a.path).catch(() => undefined)))
        await take(reviewPath(a.path), a.committedAt, result, o.delete);
      continue;
    }
    if (a.unconfirmed) {
      result.kept.push({ path: a.path, reason: a.unconfirmed });
      continue;
    }
    // (the archive first: one that could not be deleted keeps its report, so that it stays known)
    for (const file of [a.path, a.path + REPORT_SUFFIX, reviewPath(a.path)])
      if (!(await take(file, a.committedAt, result, o.delete))) break;
  }
  if (o.processed) {
    const moves = [...ledger.moves, ...[...archives.values()].flatMap((a) => a.moves)];
    await pruneProcessed(
      path.resolve(o.processed),
      archives,
      { files: recordedFiles(moves), folders: movedFolders(moves) },
      result,
      o.delete,
    );
  }
  result.pruned.sort((x, y) => codeUnitOrder(x.path, y.path));
  return result;
}

/**
 * Every archive the ledger has committed: when, what it holds, and whether it may go. Once the outbox
 * uploads at all (the journal has a record, or a platform is configured), an archive may go only when
 * status would say `uploaded` (standingOf: its own upload, or the same bytes'): failed, in progress, needing
 * attention, or never tried all keep it.
 */
async function archiveFacts(
  out: string,
  ledger: LedgerState,
  uploads: UploadJournal,
  uploading: boolean,
  cutoff: number,
): Promise<Map<string, ArchiveFacts>> {
  const facts = new Map<string, ArchiveFacts>();
  for (const name of ledger.archives) {
    const file = path.join(out, name);
    const report = await readFile(file + REPORT_SUFFIX, "utf8")
      .then((t) => JSON.parse(t) as { sha256?: unknown; createdAt?: unknown; workOrders?: { id?: unknown; moves?: unknown }[] })
      .catch(() => undefined);
    const state = uploads.archives.get(name);
    // (status's rule: a repack of bytes already uploaded counts as uploaded, unless it needs attention itself)
    const standing = standingOf(uploads, name, typeof report?.sha256 === "string" ? report.sha256 : state?.sha256);
    const committedAt = typeof report?.createdAt === "string" ? report.createdAt : (ledger.archiveAt.get(name) ?? "");
    const ids = new Set<string>();
    const moves: MoveItem[] = [];
    for (const wo of Array.isArray(report?.workOrders) ? report.workOrders : []) {
      if (typeof wo?.id === "string") ids.add(wo.id);
      if (Array.isArray(wo?.moves)) moves.push(...(wo.moves as MoveItem[]));
    }
    const present = typeof report?.sha256 === "string";
    facts.set(name, {
      name,
      path: file,
      present,
      committedAt,
      old: Date.parse(committedAt) < cutoff,
      unconfirmed: moveUnfinished(state)
        ? `its move to ${state?.moving} (--uploaded-to) is not finished: the next upload run finishes it`
        : present && (await movedAway(state, out))
          ? `journaled as moved to ${state?.movedTo} (--uploaded-to), yet still here: what is there under its name is not it (a link?), so this is the only copy`
          : uploading && !uploadAccepted(standing.state)
            ? unconfirmedReason(standing)
            : undefined,
      ids,
      moves,
    });
  }
  for (const key of ledger.commits) {
    const [archive, id] = key.split("\0") as [string, string];
    facts.get(archive)?.ids.add(id);
  }
  return facts;
}

/** An --uploaded-to move begun and not finished: the archive in --out is the copy that move is to keep. */
function moveUnfinished(state: UploadState | undefined): boolean {
  return state?.moving !== undefined && state.movedTo !== state.moving;
}

/**
 * Journaled as moved by --uploaded-to to a folder that is not --out (an older wopack journaled "moved" when
 * a link to the archive stood under its name there): the archive still in --out is then the only copy.
 */
async function movedAway(state: UploadState | undefined, out: string): Promise<boolean> {
  return state?.movedTo !== undefined && (await realPathOf(state.movedTo)) !== (await realPathOf(out));
}

function unconfirmedReason({ state, sameAs }: Standing): string {
  const of = sameAs ? ` (the same bytes as ${sameAs})` : "";
  if (!state) return "not uploaded yet";
  if (state.attention && !state.uploaded)
    return `needs attention: the platform keeps batch ${state.attention.batchId} with part of it and would not delete it`;
  if (state.uploaded && state.status)
    return `refused by the platform after the upload${of}: its batch says ${state.status.status}`;
  if (state.failed) return `not confirmed by the platform: the upload failed${of} (${state.failed.code})`;
  return `not confirmed by the platform yet${of}`;
}

/**
 * The folders in processed/ (a work order's id, or id.N for a later submission): one goes only when every
 * archive that holds any submission of its work order may go (old enough and, when uploading, confirmed).
 * Which submission a folder holds is not known, so none goes before all may. Even then only the files the
 * ledger recorded as moved there go; anything else (a photo added since, one changed or replaced) stays,
 * and so does its folder.
 */
async function pruneProcessed(
  given: string,
  archives: Map<string, ArchiveFacts>,
  recorded: { files: RecordedFiles; folders: Map<string, Set<string>> },
  result: PruneResult,
  remove: boolean | undefined,
): Promise<void> {
  const self = await lstat(given).catch(() => undefined);
  if (self?.isSymbolicLink()) {
    result.kept.push({
      path: given,
      reason: `a link (to ${await readlink(given)}), not the folder --move-to made: not deleted through (give --processed its real path)`,
    });
    return;
  }
  // (a linked parent: what goes is deleted by its real path, never through the link)
  const dir = await realpath(given).catch(() => given);
  const holders = new Map<string, ArchiveFacts[]>();
  for (const a of archives.values()) for (const id of a.ids) holders.set(id, [...(holders.get(id) ?? []), a]);
  const names = await readdir(dir).catch(() => []);
  if (!names.length) result.warnings.push(...emptyProcessed(given, dir, recorded.folders, holders));
  for (const name of names.sort(codeUnitOrder)) {
    const full = path.join(dir, name);
    if (name.endsWith(".errors.json")) continue;
    const held = holdersOf(holders, name);
    if (!held) {
      result.kept.push({ path: full, reason: "not in the ledger: never committed from this --out" });
      continue;
    }
    if (!held.some((a) => a.old)) continue; // all recent: not due yet
    const young = held.find((a) => !a.old);
    const unconfirmed = held.find((a) => a.unconfirmed);
    if (young) result.kept.push({ path: full, reason: `also in ${young.name}, committed ${young.committedAt}: not due yet` });
    else if (unconfirmed)
      result.kept.push({ path: full, reason: `the sources of ${unconfirmed.name}, ${unconfirmed.unconfirmed}` });
    else {
      const committedAt = held
        .map((a) => a.committedAt)
        .sort()
        .at(-1)!;
      await takeRecorded(full, recorded.files.get(name), recorded.folders.get(name), committedAt, result, remove);
    }
  }
}

/**
 * --processed empty (or gone) though the ledger records folders moved there whose archive is still in --out:
 * prune deletes an archive before its sources, so those were not pruned; a disk not mounted there, most likely.
 */
function emptyProcessed(
  given: string,
  dir: string,
  folders: Map<string, Set<string>>,
  holders: Map<string, ArchiveFacts[]>,
): Problem[] {
  const missing = [...folders.values()]
    .flatMap((paths) => [...paths])
    .filter((f) => [given, dir].includes(path.dirname(f)))
    .filter((f) => {
      const name = path.basename(f);
      return (holdersOf(holders, name) ?? []).some((a) => a.present);
    });
  if (!missing.length) return [];
  return [
    problem(
      "W_PRUNE_PROCESSED_EMPTY",
      `--processed ${given} is empty, but the ledger records ${missing.length} folder${missing.length === 1 ? "" : "s"} --move-to moved there whose archive${missing.length === 1 ? " is" : "s are"} still in --out (e.g. ${missing[0]}): a disk not mounted there?; nothing deleted in it`,
      "mount the disk that holds them and run prune again; if they were removed by hand, nothing is to be done",
      given,
    ),
  ];
}

/** The archives that hold a processed folder's work order (its id, or id.N for a later submission). */
function holdersOf(holders: Map<string, ArchiveFacts[]>, folder: string): ArchiveFacts[] | undefined {
  return holders.get(folder) ?? holders.get(folder.replace(/\.\d+$/, ""));
}

function notMovedHere(folder: string, made: ReadonlySet<string> | undefined): PruneResult["kept"][number] {
  const where = made?.size
    ? `--move-to moved it into ${[...made].join(" or ")}`
    : "the ledger records no folder of this name moved";
  return {
    path: folder,
    code: "E_PRUNE_NOT_MOVED_HERE",
    reason: `not the folder --move-to made (a copy, or a link or bind mount of another folder): ${where}; nothing deleted in it (give --processed that folder)`,
  };
}

/** Deletes (or lists) the files of one due processed folder that the ledger recorded; says what stays. */
async function takeRecorded(
  folder: string,
  recorded: Map<string, FileStamp[]> | undefined,
  made: ReadonlySet<string> | undefined,
  committedAt: string,
  result: PruneResult,
  remove: boolean | undefined,
): Promise<void> {
  if (!recorded) {
    result.kept.push({
      path: folder,
      reason: "the ledger records no files moved here (not a --move-to folder of this --out): which are packed is unknown",
    });
    return;
  }
  const st = await lstat(folder).catch(() => undefined);
  if (st?.isSymbolicLink()) {
    result.kept.push({
      path: folder,
      reason: `a link (to ${await readlink(folder)}), not the folder --move-to made: not deleted through`,
    });
    return;
  }
  if (!st?.isDirectory()) {
    result.kept.push({ path: folder, reason: "not a folder: --move-to moves work orders as folders" });
    return;
  }
  if (!(await movedHere(folder, made))) {
    result.kept.push(notMovedHere(folder, made));
    return;
  }
  const files = await sortFolder(folder, recorded).catch((err: Error) => err);
  if (files instanceof Error) {
    result.failed.push({ path: folder, reason: `not deleted: ${files.message}` });
    return;
  }
  result.kept.push(...files.others.map(({ file, reason }) => ({ path: file, reason })));
  const failed = remove ? await deleteRecorded(folder, files.recorded, !files.others.length) : [];
  result.failed.push(...failed.map(({ file, reason }) => ({ path: file, reason })));
  const add = (item: { path: string; bytes: number }) => {
    result.pruned.push({ ...item, committedAt });
    result.bytes += item.bytes;
  };
  // (the folder whole when nothing else was in it; else each file that went, and the folder stays)
  if (!files.others.length && !failed.length) add({ path: folder, bytes: sum(files.recorded) });
  else for (const f of files.recorded) if (!failed.some((x) => x.file === f.file)) add({ path: f.file, bytes: f.bytes });
}

const sum = (files: { bytes: number }[]) => files.reduce((n, f) => n + f.bytes, 0);

/** Deletes (or, in a dry run, lists) one item; false when deleting it failed (said in `result.failed`). */
async function take(file: string, committedAt: string, result: PruneResult, remove: boolean | undefined): Promise<boolean> {
  const bytes = await sizeOf(file);
  if (bytes === undefined) return true;
  if (remove) {
    try {
      await rm(file, { recursive: true, force: true });
    } catch (err) {
      result.failed.push({ path: file, reason: `not deleted, or only in part: ${(err as Error).message}` });
      return false;
    }
  }
  result.pruned.push({ path: file, bytes, committedAt });
  result.bytes += bytes;
  return true;
}

async function sizeOf(file: string): Promise<number | undefined> {
  const s = await stat(file).catch(() => undefined);
  if (!s) return undefined;
  if (!s.isDirectory()) return s.size;
  let total = 0;
  for (const e of await readdir(file, { recursive: true, withFileTypes: true }))
    if (e.isFile()) total += (await stat(path.join(e.parentPath, e.name))).size;
  return total;
}
