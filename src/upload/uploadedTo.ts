// --uploaded-to: an archive the platform confirmed, and its report, leave --out for another folder (often
// another disk). The move is journaled before it starts ("moving") and after it ends ("moved"), so a move
// cut short (kill -9, a full disk) is finished by the next run, and a reader of that folder never sees part
// of an archive under its name (commit/files.ts copyFileWhole).
import { lstat, open, readdir, readFile, readlink, rm, stat } from "node:fs/promises";
import path from "node:path";
import { exists, partialName, sha256Of } from "../commit/files.js";
import { moveWhole } from "../commit/moves.js";
import { REPORT_SUFFIX } from "../commit/recovery.js";
import { appendUploads, type UploadJournal } from "../commit/uploads.js";
import { type Problem, problem, WopackError } from "../core/errors.js";
import { reviewPath } from "../spec/names.js";

/** The files an archive's move takes from --out, in that order: the archive, its report, its review page. */
function movedFiles(name: string): string[] {
  return [name, name + REPORT_SUFFIX, reviewPath(name)];
}

/**
 * Which of an archive's files a refused move left in --out: once the move began (journaled `moving`), any of
 * `movedFiles` (the archive went and its review page was refused: a move to finish, and shown); before, the
 * archive or its report (both moved away by hand, the review page left: nothing waits).
 */
export async function leftInOut(out: string, s: { archive: string; moving?: string | undefined }): Promise<string[]> {
  const files = movedFiles(s.archive).slice(0, s.moving ? 3 : 2);
  const there = await Promise.all(files.map((f) => exists(path.join(out, f))));
  return files.filter((_, i) => there[i]);
}

/**
 * Moves an uploaded archive, then its report and its review page (its thumbnails: left behind, the outbox grows
 * every night), into `dir`; safe to repeat. A file already in `dir` under
 * the archive's name is an earlier move of it (whole: it was renamed into place) when its SHA-256 is the
 * report's; anything else there is never written over.
 */
async function moveArchive(out: string, name: string, sha256: string | undefined, dir: string): Promise<void> {
  for (const file of movedFiles(name)) {
    try {
      await moveFile(out, file, file === name ? sha256 : undefined, dir);
    } catch (err) {
      throw err instanceof WopackError ? err : new NotMoved(file, err as Error);
    }
  }
}

/** A link under a file's name in --uploaded-to: refused until someone removes it, so said once (moveRefused). */
class LinkThere extends Error {}

/** Another file or a folder under a file's name in --uploaded-to: never written over, refused until someone moves it. */
class NameTaken extends Error {}

/** One file of a move that failed: which one (the archive, or its report once the archive is there). */
class NotMoved extends Error {
  constructor(
    readonly file: string,
    err: Error,
  ) {
    super(err.message, { cause: err });
  }
}

async function moveFile(out: string, file: string, sha256: string | undefined, dir: string): Promise<void> {
  const from = path.join(out, file);
  const to = path.join(dir, file);
  if (!(await exists(from))) {
    await rm(partialName(to), { force: true }); // (moved already; what a cut copy left, if anything)
    return;
  }
  const there = await leftThere(from, to, sha256);
  if (there === "same") return; // (`dir` is --out itself, or a link to it: it is in place already)
  if (there === "link")
    throw new LinkThere(`${file} there is a link (to ${await readlink(to)}), not the archive; remove it and run upload again`);
  if (there === "other") throw new NameTaken(`another file or folder named ${file} is there already`);
  if (there === "whole")
    await rm(from); // an earlier run's move got as far as the rename
  else await moveWhole(from, to); // (over the cut copy an older wopack left under the name)
}

/**
 * What an earlier move left under the target's name: nothing, the whole file (its SHA-256 is the report's;
 * a report, its bytes), the start of it (a plain copy cut short, as moves left before they copied whole),
 * or another file. "same": the target is the very file (`dir` is --out, under its name or another), never
 * a copy to remove the original for. "link": a link under the name is never the archive, wherever it points
 * (one to the archive in --out was taken for "moved", and prune then deleted the only copy).
 */
async function leftThere(
  from: string,
  to: string,
  sha256: string | undefined,
): Promise<"none" | "same" | "whole" | "cut" | "other" | "link"> {
  const st = await lstat(to).catch(() => undefined);
  if (!st) return "none";
  if (st.isSymbolicLink()) return "link";
  if (!st.isFile()) return "other"; // (a folder, a FIFO: never read, never taken for the archive)
  const { size, dev, ino } = await stat(from);
  if (st.dev === dev && st.ino === ino) return "same";
  if (st.size === size && (sha256 ? (await sha256Of(to)) === sha256 : (await readFile(to)).equals(await readFile(from))))
    return "whole";
  return st.size < size && (await startsWith(from, to)) ? "cut" : "other";
}

/** Whether the file `part` holds the first bytes of `whole`. */
async function startsWith(whole: string, part: string): Promise<boolean> {
  const [a, b] = await Promise.all([open(whole, "r"), open(part, "r")]);
  try {
    const x = Buffer.alloc(1 << 20);
    const y = Buffer.alloc(1 << 20);
    for (let at = 0; ; ) {
      const { bytesRead } = await b.read(y, 0, y.length, at);
      if (bytesRead === 0) return true;
      await a.read(x, 0, bytesRead, at);
      if (!x.subarray(0, bytesRead).equals(y.subarray(0, bytesRead))) return false;
      at += bytesRead;
    }
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

/** Moves an uploaded archive to `dir`, journaled; a failure is a warning (the archive stays in --out). */
export async function moveUploaded(
  out: string,
  journal: UploadJournal,
  a: { name: string; sha256?: string | undefined },
  dir: string,
  now: () => string,
  signal?: AbortSignal,
): Promise<Problem | undefined> {
  const to = path.resolve(dir);
  const folder = await destinationFolder(a.name, to, journal);
  if (typeof folder !== "string") {
    // (journaled for `status`, once while the reason stays the same; nothing pins the move to this folder)
    if (!sameRefusal(journal.archives.get(a.name)?.moveRefused, to, folder.reason))
      await appendUploads(
        out,
        [{ type: "moveRefused", archive: a.name, to, code: folder.problem.code, reason: folder.reason, at: now() }],
        journal,
        signal,
      );
    return folder.problem;
  }
  try {
    if (journal.archives.get(a.name)?.moving !== to)
      await appendUploads(out, [{ type: "moving", archive: a.name, to, at: now() }], journal, signal);
    await moveArchive(out, a.name, a.sha256, to);
    await appendUploads(out, [{ type: "moved", archive: a.name, to, folder, at: now() }], journal, signal);
    return undefined;
  } catch (err) {
    if (err instanceof WopackError) throw err; // interrupted, or the journal unwritable: the run stops
    const file = err instanceof NotMoved ? err.file : a.name;
    const cause = err instanceof NotMoved ? err.cause : err;
    const code = cause instanceof NameTaken ? "E_UPLOADED_TO_NAME_TAKEN" : "W_UPLOADED_NOT_MOVED";
    // (journaled whatever the reason - a full disk, a read-only one, a name taken - so that `status` and a
    // running watch show it and the watch tries again; a link there is said once, the rest at every run)
    const reason = (err as Error).message;
    const said = sameRefusal(journal.archives.get(a.name)?.moveRefused, to, reason);
    if (said && cause instanceof LinkThere) return undefined;
    if (!said) await appendUploads(out, [{ type: "moveRefused", archive: a.name, to, code, reason, at: now() }], journal, signal);
    const its = `its ${file.endsWith(REPORT_SUFFIX) ? "report" : "review page"} ${file}`;
    const where =
      file === a.name ? "the archive and its report stay in --out" : `the archive is in ${to} already; ${its} stays in --out`;
    const fix =
      code === "E_UPLOADED_TO_NAME_TAKEN"
        ? `wopack never writes over it: move or rename ${path.join(to, file)} if it is not this archive's`
        : "check that folder (space, permissions, a read-only disk)";
    return problem(
      code,
      `${a.name}: uploaded, but ${file === a.name ? "it" : its} cannot be moved to ${to} (${reason})`,
      `${fix}; ${where}, the archive is not sent again, and the next upload run (or the running watch) finishes the move`,
      a.name,
    );
  }
}

function sameRefusal(was: { to: string; reason: string } | undefined, to: string, reason: string): boolean {
  return was?.to === to && was.reason === reason;
}

/**
 * --uploaded-to must be a folder already: never made, as an unmounted disk's mount point would be, and the
 * disk under it silently filled. Nor, when empty, another folder than the one earlier archives were moved
 * into under that path (the journal keeps its device:inode): that is an unmounted disk's mount point too.
 * Checked before the move is journaled, so nothing pins it there. Returns the folder's device:inode.
 */
async function destinationFolder(
  name: string,
  to: string,
  journal: UploadJournal,
): Promise<string | { problem: Problem; reason: string }> {
  const st = await stat(to).catch(() => undefined);
  if (!st?.isDirectory()) return destinationMissing(name, to, st !== undefined);
  const folder = `${st.dev}:${st.ino}`;
  const before = [...journal.archives.values()].filter((s) => s.movedTo === to && s.movedInto).map((s) => s.movedInto);
  if (!before.length || before.includes(folder) || (await readdir(to)).length) return folder;
  const reason = "it is empty and not the folder earlier archives were moved into: a disk not mounted there?";
  const p = problem(
    "E_UPLOADED_TO_NOT_THE_SAME",
    `${name}: uploaded, but --uploaded-to ${to} is not the folder earlier archives were moved into (device:inode ${folder}, was ${before.at(-1)}) and it is empty: a disk not mounted there?; not moved`,
    `mount the disk that holds the earlier archives; if this empty folder is meant to be used from now on, put any file in it (e.g. touch ${path.join(to, ".wopack-uploaded-to")}). The archive stays in --out, is not sent again, and the next upload run moves it`,
    name,
  );
  return { problem: p, reason };
}

function destinationMissing(name: string, to: string, exists: boolean): { problem: Problem; reason: string } {
  const reason = exists ? "it is not a folder" : "it does not exist (mount or create it)";
  const p = problem(
    "E_UPLOADED_TO_MISSING",
    `${name}: uploaded, but --uploaded-to ${to} ${exists ? "is not a folder" : "does not exist"}; not moved`,
    "mount or create that folder (wopack never creates it: an unmounted disk's mount point would fill the disk under it); the archive stays in --out and the next upload run moves it",
    name,
  );
  return { problem: p, reason };
}

/**
 * Where to finish an archive's move: where it began, unless --uploaded-to now names another folder and
 * nothing of the archive reached the first (it is still in --out, and no whole copy of it is there: the
 * report follows it, never goes alone); then the new folder, said in a warning.
 */
async function destinationOf(
  out: string,
  s: { archive: string; moving?: string | undefined; sha256?: string | undefined },
  uploadedTo: string | undefined,
): Promise<{ to: string | undefined; changed?: Problem }> {
  const given = uploadedTo === undefined ? undefined : path.resolve(uploadedTo);
  if (!s.moving || !given || given === s.moving || !(await exists(path.join(out, s.archive)))) return { to: s.moving ?? given };
  // (a copy across disks cut after it was renamed into place, before --out's was removed: it reached the
  // first folder whole, and is finished there as any cut move is)
  const there = await leftThere(path.join(out, s.archive), path.join(s.moving, s.archive), s.sha256).catch(() => "none");
  if (there === "whole" || there === "same") return { to: s.moving };
  await rm(partialName(path.join(s.moving, s.archive)), { force: true }).catch(() => undefined); // (what a cut copy left there)
  return {
    to: given,
    changed: problem(
      "W_UPLOADED_TO_CHANGED",
      `${s.archive}: its move to ${s.moving} was not finished; it goes to ${given} (--uploaded-to changed) instead`,
      "nothing of it is left in the first folder",
      s.archive,
    ),
  };
}

/**
 * The moves an earlier run began and did not finish (kill -9, a full disk): finished now, or warned of
 * again; one whose archive is still in --out goes to `uploadedTo` when that changed. With it, an archive uploaded and never moved (by a run without it, or an older wopack
 * whose move failed) that is still in --out, whole or its report, goes there too.
 */
export async function finishMoves(
  out: string,
  journal: UploadJournal,
  uploadedTo: string | undefined,
  now: () => string,
  signal?: AbortSignal,
): Promise<{ warnings: Problem[]; notMoved: NotMovedArchive[] }> {
  const warnings: Problem[] = [];
  const notMoved: NotMovedArchive[] = [];
  for (const s of [...journal.archives.values()]) {
    if (!s.uploaded || (s.movedTo && s.movedTo === (s.moving ?? s.movedTo))) continue;
    if (uploadedTo === undefined && s.moveRefused && (await dropMove(out, journal, s, now, signal))) continue;
    const { to, changed } = await destinationOf(out, s, uploadedTo);
    if (!to) continue;
    // (looked for only when there is somewhere to move it: without --uploaded-to, every archive ever uploaded
    // would cost two file checks at each start)
    if (!s.moving && !(await leftInOut(out, s)).length) continue;
    const w = await moveUploaded(out, journal, { name: s.archive, sha256: s.sha256 }, to, now, signal);
    if (changed && !w) warnings.push(changed);
    if (w) notMoved.push({ archive: s.archive, batchId: s.uploaded.batchId, to, problem: w });
  }
  return { warnings, notMoved };
}

/**
 * A run not given --uploaded-to (dropped on purpose) gives up a move refused earlier: the archive stays in --out,
 * which is no longer a fault (`status`, /healthz). Not one that reached its folder whole (its report left behind):
 * that is finished there, so the report follows it. Whether it was given up.
 */
async function dropMove(
  out: string,
  journal: UploadJournal,
  s: { archive: string; moving?: string | undefined; sha256?: string | undefined; moveRefused?: { to: string } | undefined },
  now: () => string,
  signal?: AbortSignal,
): Promise<boolean> {
  if (s.moving) {
    if (!(await exists(path.join(out, s.archive)))) return false; // (it reached that folder: its report follows)
    const there = await leftThere(path.join(out, s.archive), path.join(s.moving, s.archive), s.sha256).catch(() => "none");
    if (there === "whole" || there === "same") return false;
    await rm(partialName(path.join(s.moving, s.archive)), { force: true }).catch(() => undefined); // (what a cut copy left there)
  }
  const to = s.moving ?? s.moveRefused!.to;
  await appendUploads(out, [{ type: "moveDropped", archive: s.archive, to, at: now() }], journal, signal);
  return true;
}

/** An archive uploaded by an earlier run that still is not where --uploaded-to says, and why. */
export interface NotMovedArchive {
  archive: string;
  batchId: string;
  to: string;
  problem: Problem;
}
