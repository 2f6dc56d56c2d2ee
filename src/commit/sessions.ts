// An upload session's URL carries its bearer token (upload_id): whoever holds it can write to the session.
// SPEC §12 keeps every token out of the journal, yet a restart must resume the session: its URL is kept here,
// one small file per archive (0600, fsynced, in place before the journal line that names the batch), and
// removed once the archive is uploaded or the session is given up.
import { createHash } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { isGone } from "../core/errors.js";
import { faultPoint } from "../core/fault.js";
import { exists, syncDir } from "./files.js";
import { stateDir } from "./paths.js";
import type { UploadJournal } from "./uploads.js";

interface KeptSession {
  batchId: string;
  uploadUrl: string;
}

function sessionsDir(out: string): string {
  return path.join(stateDir(out), "sessions");
}

/** One archive's file: named by a hash, so that any archive name makes a safe, short file name. */
function sessionPath(out: string, archive: string): string {
  return path.join(sessionsDir(out), `${createHash("sha256").update(archive).digest("hex").slice(0, 32)}.json`);
}

/** Keeps a new batch's session URL for `archive` (over an older batch's), on disk before this returns. */
export async function keepSession(out: string, archive: string, session: KeptSession): Promise<void> {
  const dir = sessionsDir(out);
  // (made now: its entry in .wopack made durable too, or a power cut could lose the folder with the file)
  if (await mkdir(dir, { recursive: true, mode: 0o700 })) await syncDir(stateDir(out));
  const file = sessionPath(out, archive);
  const tmp = `${file}.${process.pid}.tmp`;
  await rm(tmp, { force: true }); // (a file left by a crash keeps its mode: made anew, 0600)
  const fh = await open(tmp, "wx", 0o600);
  try {
    await fh.writeFile(JSON.stringify({ archive, ...session }));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await syncDir(dir);
  faultPoint("session-kept");
}

/** The session kept for this archive (of whichever batch), or undefined (none, or damaged: as if lost). */
export async function keptSession(out: string, archive: string): Promise<KeptSession | undefined> {
  const text = await readFile(sessionPath(out, archive), "utf8").catch((err: NodeJS.ErrnoException) => {
    if (isGone(err)) return undefined;
    throw err;
  });
  let kept: Partial<KeptSession> | undefined;
  try {
    kept = text === undefined ? undefined : JSON.parse(text);
  } catch {
    kept = undefined;
  }
  return typeof kept?.batchId === "string" && typeof kept.uploadUrl === "string"
    ? { batchId: kept.batchId, uploadUrl: kept.uploadUrl }
    : undefined;
}

/** The session URL kept for this archive's batch; undefined when none is (or it is another batch's). */
export async function keptSessionUrl(out: string, archive: string, batchId: string): Promise<string | undefined> {
  const kept = await keptSession(out, archive);
  return kept?.batchId === batchId ? kept.uploadUrl : undefined;
}

/** The archive's session will not be resumed again (uploaded, abandoned, or needing a person): its URL goes. */
export async function forgetSession(out: string, archive: string): Promise<void> {
  await rm(sessionPath(out, archive), { force: true });
}

/**
 * Removes the kept URLs of sessions the journal no longer resumes (its archive uploaded, abandoned, needing
 * a person): what a run cut short between journaling that and removing it left. One whose batch was made
 * but never journaled (the journal's last word on the archive is a creation) stays for the sender to adopt,
 * unless its archive is no longer in --out: then nothing will send it, and it is returned (its batch holds
 * nothing of ours, for the caller to delete on the platform).
 */
export async function forgetEndedSessions(out: string, journal: UploadJournal): Promise<{ archive: string; batchId: string }[]> {
  const orphans: { archive: string; batchId: string }[] = [];
  const dir = sessionsDir(out);
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const file = path.join(dir, name);
    let kept: Partial<KeptSession> & { archive?: string };
    try {
      kept = JSON.parse(await readFile(file, "utf8"));
    } catch {
      kept = {}; // (damaged, or a temporary file a crash left)
    }
    const state = kept.archive === undefined ? undefined : journal.archives.get(kept.archive);
    const adoptable = state?.creating && !state.batchId && !state.uploaded;
    if (adoptable && !(await exists(path.join(out, kept.archive!)))) {
      if (typeof kept.batchId === "string") orphans.push({ archive: kept.archive!, batchId: kept.batchId });
      await rm(file, { force: true });
    } else if (!adoptable && (!state?.batchId || state.batchId !== kept.batchId || state.uploaded))
      await rm(file, { force: true });
  }
  return orphans;
}
