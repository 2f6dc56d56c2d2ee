// Moving a work order's sources out of the staging folder (--move-to, --failed-to), so that only what was
// packed leaves: a photo added or replaced while the archive was written stays behind for the next round.
import type { Stats } from "node:fs";
import { constants } from "node:fs";
import { lstat, mkdir, open, opendir, readFile, readlink, rename, rm, rmdir, symlink, utimes } from "node:fs/promises";
import path from "node:path";
import { type Problem, problem } from "../core/errors.js";
import type { FileStamp, LeftBehind, MoveItem } from "../core/types.js";
import { isIgnoredName } from "../spec/ignore.js";
import { copyFileWhole, copySynced, exists, partialName, syncDir } from "./files.js";

/** A work order's files as the plan saw them: packed ones and the folder's ignored ones, with size and mtime. */
export interface WorkOrderFiles {
  id: string;
  folder?: string;
  sources: string[];
  stamps?: { packed: FileStamp[]; alongside: FileStamp[] };
}

/**
 * Where a work order's files go when it leaves the staging folder (to --move-to or --failed-to): its
 * folder becomes `<dir>/<id>` (or `<id>.2`, ... when taken), and its root files go inside it.
 */
export async function planMoves(
  wo: WorkOrderFiles,
  staging: string,
  dir: string,
): Promise<{ target: string; moves: MoveItem[] }> {
  const target = await freeName(dir, wo.id);
  const moves: MoveItem[] = [];
  const inFolder = (s: FileStamp) => wo.folder !== undefined && s.rel.startsWith(`${wo.folder}/`);
  const inner = (s: FileStamp) => ({ ...s, rel: s.rel.slice(wo.folder!.length + 1) });
  if (wo.folder) {
    const item: MoveItem = { from: path.join(staging, wo.folder), to: target };
    if (wo.stamps) {
      item.packed = wo.stamps.packed.filter(inFolder).map(inner);
      item.alongside = wo.stamps.alongside.filter(inFolder).map(inner);
    }
    moves.push(item);
  }
  for (const rel of wo.sources) {
    if (rel.includes("/")) continue;
    const item: MoveItem = { from: path.join(staging, rel), to: path.join(target, rel) };
    const stamp = wo.stamps?.packed.find((s) => s.rel === rel);
    if (stamp) item.packed = [{ ...stamp, rel: "" }];
    moves.push(item);
  }
  return { target, moves };
}

/** A name under `dir` not taken yet: "<name>", then "<name>.2", "<name>.3", ... */
export async function freeName(dir: string, name: string, taken: ReadonlySet<string> = new Set()): Promise<string> {
  for (let i = 1; ; i++) {
    const candidate = path.join(dir, i === 1 ? name : `${name}.${i}`);
    if (!taken.has(candidate) && !(await exists(candidate))) return candidate;
  }
}

/**
 * Carries out one move; safe to repeat after a crash (what already arrived is skipped). A folder that
 * holds exactly what was packed (and its junk) is renamed whole; otherwise its packed files move one by
 * one, metadata.json and parameters.json are copied (what stays behind still needs them), and the rest
 * stays in staging. Returns the paths left behind because they are new or changed.
 */
export async function moveItem(item: MoveItem): Promise<LeftBehind> {
  if (!item.packed) return moveWhole(item.from, item.to);
  const st = await lstat(item.from).catch(() => undefined);
  if (!st) return []; // moved already (an interrupted run's move being finished), or removed meanwhile
  if (!st.isDirectory()) {
    const [stamp] = item.packed;
    if (!stamp || !sameStamp(st, stamp)) return [item.from];
    await mkdir(path.dirname(item.to), { recursive: true });
    await moveFile(item.from, item.to); // (over an interrupted copy of it, as below)
    return [];
  }
  const now = await listFiles(item.from);
  const expected = [...item.packed, ...(item.alongside ?? [])];
  const unchanged = now.size === expected.length && expected.every((s) => sameStamp(now.get(s.rel), s));
  if (unchanged && !(await exists(item.to))) return moveWhole(item.from, item.to);
  await rm(partialName(item.to), { recursive: true, force: true }); // (a whole copy cut short: moved file by file now)
  const packed = new Set(item.packed.map((s) => s.rel));
  const left: LeftBehind = [];
  for (const stamp of item.packed) {
    const current = now.get(stamp.rel);
    if (current && !sameStamp(current, stamp)) left.push(path.join(item.from, stamp.rel));
  }
  for (const rel of now.keys()) if (!packed.has(rel) && !rel.split("/").some(isIgnoredName)) left.push(path.join(item.from, rel));
  for (const stamp of item.packed) {
    const current = now.get(stamp.rel);
    const from = path.join(item.from, stamp.rel);
    const to = path.join(item.to, stamp.rel);
    if (!current || !sameStamp(current, stamp)) continue; // moved already, or changed: it stays
    // (a file already at `to` is an interrupted copy of this one, whole or cut short: the target folder was
    // free when the commit named it, so what is in it is ours; it is written again from the source)
    await mkdir(path.dirname(to), { recursive: true });
    if (describes(stamp.rel)) await copyOver(from, to);
    else await moveFile(from, to);
  }
  await finishFolder(item, now);
  return left.sort();
}

const describes = (rel: string) => rel === "metadata.json" || rel === "parameters.json";

/**
 * When nothing is left of a folder whose photos moved one by one but the copies of its metadata.json and
 * parameters.json (kept for a submission that might follow) and its junk and marker as they were, it goes
 * too, as a whole rename would have taken it: else that folder, or its empty sub-folders, would wait in
 * staging for ever. Anything else in it (a photo added, a download in progress) keeps it all.
 */
async function finishFolder(item: MoveItem, seen: Map<string, FileStamp>): Promise<void> {
  const now = await listFiles(item.from);
  const alongside = new Map((item.alongside ?? []).map((s) => [s.rel, s]));
  for (const [rel, st] of now) {
    const junk = alongside.get(rel);
    if (junk && sameStamp(st, junk) && sameStamp(seen.get(rel), junk)) continue;
    if (!describes(rel)) return;
    const copy = await readNoFollow(path.join(item.to, rel));
    if (!copy?.equals(await readFile(path.join(item.from, rel)))) return;
  }
  for (const rel of now.keys()) {
    if (describes(rel))
      await rm(path.join(item.from, rel)); // (its copy is in the target)
    else {
      await mkdir(path.dirname(path.join(item.to, rel)), { recursive: true });
      await moveFile(path.join(item.from, rel), path.join(item.to, rel));
    }
  }
  await removeEmptyFolders(item.from);
}

/** Removes `dir` and the folders under it that hold nothing (no file is ever removed). */
export async function removeEmptyFolders(dir: string): Promise<void> {
  for await (const d of await opendir(dir).catch(() => [])) {
    if (d.isDirectory()) await removeEmptyFolders(path.join(dir, d.name));
  }
  await rmdir(dir).catch(() => undefined); // (ENOTEMPTY: something stays, and so does its folder)
}

function sameStamp(st: Pick<Stats, "size" | "mtimeMs"> | undefined, stamp: Pick<FileStamp, "size" | "mtimeMs">): boolean {
  return st !== undefined && st.size === stamp.size && st.mtimeMs === stamp.mtimeMs;
}

/** Every file under a folder (paths inside it, "/"-separated), with size and mtime. */
async function listFiles(dir: string): Promise<Map<string, FileStamp>> {
  const files = new Map<string, FileStamp>();
  const walk = async (abs: string, rel: string) => {
    for await (const d of await opendir(abs)) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      const st = await lstat(path.join(abs, d.name)).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) await walk(path.join(abs, d.name), r);
      else files.set(r, { rel: r, size: st.size, mtimeMs: st.mtimeMs });
    }
  };
  await walk(dir, "");
  return files;
}

/**
 * Moves a file or folder, across filesystems too (copy, then remove the original). The copy is whole or
 * not at all, so that a cut copy never shows under its name, and on disk before the original goes. Across
 * filesystems only what was copied is removed, each file checked again (size, mtime) just before: a photo
 * that came or changed during the copy, or anything not a file, folder or link (a FIFO), stays and is given
 * back, as do the folders that still hold it. A copy that fails (a full disk) is removed, the sources untouched.
 */
export async function moveWhole(from: string, to: string): Promise<LeftBehind> {
  await mkdir(path.dirname(to), { recursive: true });
  try {
    await rename(from, to);
    return [];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
  }
  if ((await lstat(from)).isFile()) {
    await copyFileWhole(from, to);
    await rm(from);
    return [];
  }
  const tmp = partialName(to);
  await rm(tmp, { recursive: true, force: true });
  const copied: Copied[] = [];
  const left: LeftBehind = [];
  try {
    await copyTreeSynced(from, tmp, copied, left);
    if (await exists(to)) throw new Error(`${to} exists already; the folder is not moved over it`);
    await rename(tmp, to);
  } catch (err) {
    // (a copy cut short by a full or read-only disk: left there, it would keep that disk full until the next move)
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  await syncDir(path.dirname(to));
  for (const c of copied) {
    const now = await lstat(c.path).catch(() => undefined);
    const same = c.link !== undefined ? now?.isSymbolicLink() && (await readlink(c.path)) === c.link : sameStamp(now, c);
    if (same) await rm(c.path);
    else if (now) left.push(c.path);
  }
  await removeEmptyFolders(from);
  return left;
}

/** A file or link copied by copyTreeSynced, as it was when copied: removed from the source only if still so. */
interface Copied extends Pick<FileStamp, "size" | "mtimeMs"> {
  path: string;
  link?: string;
}

/**
 * Copies a folder into `to` (a fresh partial name), every file and folder in it fsynced; notes each file and
 * link copied, and leaves out (in `left`) what is neither: opening a FIFO to copy it would wait for ever.
 */
async function copyTreeSynced(from: string, to: string, copied: Copied[], left: LeftBehind): Promise<void> {
  await mkdir(to);
  for await (const d of await opendir(from)) {
    const [src, dst] = [path.join(from, d.name), path.join(to, d.name)];
    if (d.isDirectory()) await copyTreeSynced(src, dst, copied, left);
    else if (d.isSymbolicLink()) {
      const link = await readlink(src);
      await symlink(link, dst);
      copied.push({ path: src, size: 0, mtimeMs: 0, link });
    } else if (d.isFile()) {
      const st = await lstat(src);
      await copySynced(src, dst);
      copied.push({ path: src, size: st.size, mtimeMs: st.mtimeMs });
    } else left.push(src);
  }
  const st = await lstat(from);
  await utimes(to, st.atime, st.mtime);
  await syncDir(to);
}

/**
 * Copies a (small) file over what is at `to`, unless that is the same bytes already; its times kept. Whole or
 * not at all, and never through a link at `to` (in a shared folder it would have the copy written over its target).
 */
async function copyOver(from: string, to: string): Promise<void> {
  const [a, b] = await Promise.all([readFile(from), readNoFollow(to)]);
  if (b?.equals(a)) return;
  await copyFileWhole(from, to);
}

/** A file's bytes; undefined when it is missing or a link (not read through). */
async function readNoFollow(file: string): Promise<Buffer | undefined> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
  try {
    return await fh?.readFile();
  } finally {
    await fh?.close();
  }
}

/** Moves one file over what is at `to`, across filesystems too (copy over it, then remove the original). */
async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
    await copyFileWhole(from, to);
    await rm(from);
  }
}

/** Files a move left in staging because they came (or changed) after their work order was packed. */
export function leftBehindWarnings(id: string, left: readonly string[], staging: string): Problem[] {
  return left.map((abs) => {
    const rel = path.relative(staging, abs).split(path.sep).join("/");
    return problem(
      "W_LEFT_IN_STAGING",
      `${rel}: added or changed after work order ${id} was packed; it stays in staging`,
      "nothing to do: it is packed as a new submission of the work order once it settles",
      rel,
    );
  });
}
