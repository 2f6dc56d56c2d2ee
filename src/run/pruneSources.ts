// What prune may delete of a work order's folder in processed/: only the files the ledger recorded as
// moved there (same path inside it, same size, same time), never one added, changed or replaced since.
import { lstat, opendir, rmdir, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { movedFolder } from "../commit/ledger.js";
import { removeEmptyFolders } from "../commit/moves.js";
import type { FileStamp, MoveItem } from "../core/types.js";

/** A processed folder's name (WO_1, WO_1.2) -> what was moved into it, by path inside it. */
export type RecordedFiles = Map<string, Map<string, FileStamp[]>>;

/**
 * Every file the ledger's moves put in a --move-to folder: a folder's packed files and the junk that went
 * along, and a root photo (its one stamp has rel ""). Keyed by the folder's name, so that a processed/
 * given by another path still finds it; a move recorded without stamps (moved whole) records nothing.
 */
export function recordedFiles(moves: readonly MoveItem[]): RecordedFiles {
  const recorded: RecordedFiles = new Map();
  const add = (folder: string, stamp: FileStamp) => {
    const files = recorded.get(folder) ?? new Map<string, FileStamp[]>();
    recorded.set(folder, files.set(stamp.rel, [...(files.get(stamp.rel) ?? []), stamp]));
  };
  for (const m of moves) {
    const [first] = m.packed ?? [];
    if (first?.rel === "") add(path.basename(path.dirname(m.to)), { ...first, rel: path.basename(m.to) });
    else for (const s of [...(m.packed ?? []), ...(m.alongside ?? [])]) add(path.basename(m.to), s);
  }
  return recorded;
}

/** A processed folder's name -> the folders of that name the ledger's moves made (their paths then). */
export function movedFolders(moves: readonly MoveItem[]): Map<string, Set<string>> {
  const folders = new Map<string, Set<string>>();
  for (const m of moves) {
    if (!m.packed?.length) continue;
    const folder = path.resolve(movedFolder(m));
    folders.set(path.basename(folder), (folders.get(path.basename(folder)) ?? new Set()).add(folder));
  }
  return folders;
}

/**
 * Whether `folder` is one a move made: the same folder (device and inode) as one of those paths, however
 * either is reached. A copy of processed/ (a backup, a bind of another folder) holds the same names and
 * stamps, and is not ours to delete.
 */
export async function movedHere(folder: string, made: ReadonlySet<string> | undefined): Promise<boolean> {
  const st = await lstat(folder).catch(() => undefined);
  if (!st) return false;
  for (const p of made ?? []) {
    const there = await stat(p).catch(() => undefined);
    if (there && there.dev === st.dev && there.ino === st.ino) return true;
  }
  return false;
}

export interface FolderFiles {
  /** files as recorded: they may go */
  recorded: { file: string; bytes: number; stamp: FileStamp }[];
  /** anything else in the folder, and why it stays */
  others: { file: string; reason: string }[];
}

/** Sorts what is in a processed folder now into what the ledger recorded and everything else. */
export async function sortFolder(dir: string, recorded: Map<string, FileStamp[]>): Promise<FolderFiles> {
  const result: FolderFiles = { recorded: [], others: [] };
  const walk = async (abs: string, rel: string) => {
    for await (const d of await opendir(abs)) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      const file = path.join(abs, d.name);
      const st = await lstat(file).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) {
        await walk(file, r);
        continue;
      }
      const stamps = recorded.get(r);
      const stamp = st.isFile() ? stamps?.find((s) => sameFile(st, s)) : undefined;
      if (stamp) result.recorded.push({ file, bytes: st.size, stamp });
      else result.others.push({ file, reason: whyKept(st, stamps) });
    }
  };
  await walk(dir, "");
  return result;
}

function whyKept(st: { size: number; isFile(): boolean }, stamps: FileStamp[] | undefined): string {
  if (!stamps) return "not packed: the ledger records no such file moved here (added since?)";
  if (!st.isFile()) return "not the file that was packed: it is a link or other special file now";
  if (stamps.every((s) => s.size !== st.size))
    return `changed since it was packed: ${st.size} bytes, the ledger recorded ${stamps.map((s) => s.size).join(" or ")}`;
  return "replaced since it was packed: same size, another modification time";
}

/**
 * Same size, and the same modification time within a millisecond: a copy across disks keeps the time only
 * so closely (cp's preserveTimestamps gave 734.999 for 735.309).
 */
function sameFile(st: { size: number; mtimeMs: number }, stamp: FileStamp): boolean {
  return st.size === stamp.size && Math.abs(st.mtimeMs - stamp.mtimeMs) < 1;
}

/** Every folder from `dir` down to `file`'s own is still a folder, not a link swapped in since it was sorted. */
async function foldersStillFolders(dir: string, file: string): Promise<boolean> {
  for (let d = path.dirname(file); ; d = path.dirname(d)) {
    const st = await lstat(d).catch(() => undefined);
    if (!st?.isDirectory()) return false;
    if (d === dir || d === path.dirname(d)) return d === dir;
  }
}

/**
 * Deletes the recorded files, each checked again just before (one changed meanwhile stays), then the
 * folders left empty; `whole` when nothing else was in the folder: then the folder itself must go, and
 * one that does not (a busy mount point) is a failure. Returns what was not deleted, and why.
 */
export async function deleteRecorded(
  dir: string,
  files: FolderFiles["recorded"],
  whole: boolean,
): Promise<{ file: string; reason: string }[]> {
  const failed: { file: string; reason: string }[] = [];
  for (const { file, stamp } of files) {
    try {
      const st = await lstat(file);
      if (!st.isFile() || !sameFile(st, stamp)) throw new Error("it changed while prune ran; kept");
      if (!(await foldersStillFolders(dir, file))) throw new Error("a folder on its way became a link while prune ran; kept");
      await unlink(file);
    } catch (err) {
      failed.push({ file, reason: `not deleted: ${(err as Error).message}` });
    }
  }
  await removeEmptyFolders(dir);
  if (whole && !failed.length)
    await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") failed.push({ file: dir, reason: `not deleted, or only in part: ${err.message}` });
    });
  return failed;
}
