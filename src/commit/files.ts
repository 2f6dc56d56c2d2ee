// Files that readers see whole or not at all: synced, renamed or linked into place.
import { createHash } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { copyFile, link, lstat, open, rename, rm, unlink } from "node:fs/promises";
import path from "node:path";
import { faultPoint } from "../core/fault.js";

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `content` to `tmp` and flushes it to disk: the first half of putting a file in place whole. */
async function writeSynced(tmp: string, content: string | Uint8Array): Promise<void> {
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes a file so that readers see the old content or the whole new one, never part of it. */
export async function writeFileAtomic(file: string, content: string | Uint8Array, tmpFolder: string): Promise<void> {
  const tmp = path.join(tmpFolder, `${path.basename(file)}.${process.pid}.tmp`);
  await writeSynced(tmp, content);
  await rename(tmp, file);
}

/** Writes a new file under a name that must not exist yet (whole or not at all); false when it exists. */
export async function writeFileNoClobber(file: string, content: string, tmpFolder: string): Promise<boolean> {
  const tmp = path.join(tmpFolder, `${path.basename(file)}.${process.pid}.new`);
  await writeSynced(tmp, content);
  const done = await publishNoClobber(tmp, file).catch(async (err) => {
    await rm(tmp, { force: true });
    throw err;
  });
  if (!done) await rm(tmp, { force: true });
  return done;
}

/** Puts a finished file in place under a name that must not exist yet; false when it does. */
export async function publishNoClobber(tmp: string, final: string): Promise<boolean> {
  try {
    await link(tmp, final);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EXDEV") throw err;
    // A filesystem without hard links: check, then rename (we hold the lock on this folder).
    if (await exists(final)) return false;
    await rename(tmp, final);
    return true;
  }
  await unlink(tmp);
  return true;
}

/**
 * Where copyFileWhole writes before the rename: hidden, beside the target, never a name a reader waits for.
 * A name too long to take the extra 9 bytes within a file system's 255 (a photo's, say) is named by its hash.
 */
export function partialName(file: string): string {
  const base = path.basename(file);
  const name = Buffer.byteLength(base) <= 200 ? base : createHash("sha256").update(base).digest("hex").slice(0, 32);
  return path.join(path.dirname(file), `.${name}.partial`);
}

/**
 * Copies a file (to another disk) so that `to` holds the old content or all of the new, never part of it:
 * into partialName(to), its times kept, fsynced, renamed, the folder fsynced. A copy cut short (kill -9, a
 * full disk) leaves at most the partial name, which the next copy to `to` removes and creates anew: never
 * opened where it is, for a link there (in a shared folder) would have the copy written over its target.
 */
export async function copyFileWhole(from: string, to: string): Promise<void> {
  const tmp = partialName(to);
  try {
    await copySynced(from, tmp);
    await rename(tmp, to);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(path.dirname(to));
}

/**
 * Copies a file to a new name, its times kept, and flushes it to disk (the caller renames it into place).
 * Whatever is at `to` first (a partial copy cut short, or a link someone put there) is removed, and the copy
 * is created anew, never opened through a link: in a shared folder a link would have it written over its target.
 */
export async function copySynced(from: string, to: string): Promise<void> {
  await rm(to, { force: true });
  await copyFile(from, to, constants.COPYFILE_EXCL); // (O_CREAT|O_EXCL: a link put back meanwhile is refused)
  faultPoint("copy-partial");
  const st = await lstat(from);
  const fh = await open(to, constants.O_RDWR | constants.O_NOFOLLOW);
  try {
    await fh.utimes(st.atime, st.mtime);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Whether something (a file, folder or link) is at `p`. */
export async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Appends lines to a journal and fsyncs it. After a crash mid-append the file may end in a torn line: the
 * new lines start on a fresh one, or the first of them would be glued to it and lost.
 */
export async function appendLines(file: string, lines: readonly string[]): Promise<void> {
  if (!lines.length) return;
  const fh = await open(file, "a+");
  try {
    const { size } = await fh.stat();
    const last = Buffer.alloc(1);
    if (size > 0) await fh.read(last, 0, 1, size - 1);
    const lead = size > 0 && last[0] !== 0x0a ? "\n" : "";
    await fh.appendFile(lead + lines.map((l) => l + "\n").join(""));
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The SHA-256 (hex) of these bytes, or of a file's (read in 1 MiB chunks). */
export async function sha256Of(bytes: Buffer | string): Promise<string> {
  const hash = createHash("sha256");
  if (Buffer.isBuffer(bytes)) return hash.update(bytes).digest("hex");
  for await (const chunk of createReadStream(bytes, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
