// `wopack prune`: retention for what is done. Committed archives (with their report and review page) and
// the work orders moved to processed/ once they are older than a cut-off; a dry run unless told to delete.
// Never anything not committed; never an archive not uploaded once this outbox uploads at all.
import { readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { readLedger } from "../commit/ledger.js";
import { REPORT_SUFFIX } from "../commit/recovery.js";
import { readUploads } from "../commit/uploads.js";
import { type Clock, systemClock } from "../core/clock.js";
import { type Logger, silentLogger } from "../core/types.js";
import { reviewPath } from "../review/write.js";
import { codeUnitOrder } from "../spec/names.js";
import { requireFolder } from "./folders.js";
import { openOutput } from "./session.js";
import { committedArchives } from "./upload.js";

export interface PruneOptions {
  out: string;
  /** keep what is younger than this many ms */
  olderThanMs: number;
  /** also prune the work orders moved here (--move-to) */
  processed?: string | undefined;
  /** delete; without it, only say what would go */
  delete?: boolean;
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
  /** older than the cut-off but kept, and why (not uploaded yet, not in the ledger) */
  kept: { path: string; reason: string }[];
  bytes: number;
}

export async function prune(o: PruneOptions): Promise<PruneResult> {
  const out = path.resolve(o.out);
  await requireFolder(out, "E_OUT_MISSING", "the output folder", "give the --out folder pack writes archives to");
  const now = o.now ?? systemClock;
  const cutoff = now().getTime() - o.olderThanMs;
  // under the lock: a pack publishing meanwhile never loses the archive it is writing
  const session = await openOutput(out, o.logger ?? silentLogger, now);
  try {
    const result: PruneResult = { dryRun: !o.delete, pruned: [], kept: [], bytes: 0 };
    const ledger = await readLedger(out);
    const uploads = await readUploads(out);
    const uploading = uploads.archives.size > 0;
    for (const a of await committedArchives(out, ledger)) {
      if (!(Date.parse(a.createdAt) < cutoff)) continue;
      const sent = uploads.archives.get(a.name)?.uploaded || uploads.uploadedSha.has(a.sha256);
      if (uploading && !sent) {
        result.kept.push({ path: a.path, reason: "not uploaded yet" });
        continue;
      }
      for (const file of [a.path, a.path + REPORT_SUFFIX, reviewPath(a.path)]) await take(file, a.createdAt, result, o.delete);
    }
    if (o.processed) await pruneProcessed(path.resolve(o.processed), ledger.latest, cutoff, result, o.delete);
    result.pruned.sort((x, y) => codeUnitOrder(x.path, y.path));
    return result;
  } finally {
    await session.release();
  }
}

/** A work order's folder in processed/ (its id, or id.N for a later submission) once its last commit is old. */
async function pruneProcessed(
  dir: string,
  latest: Map<string, { at: string }>,
  cutoff: number,
  result: PruneResult,
  remove: boolean | undefined,
): Promise<void> {
  for (const name of (await readdir(dir).catch(() => [])).sort(codeUnitOrder)) {
    const full = path.join(dir, name);
    if (name.endsWith(".errors.json")) continue;
    const id = latest.has(name) ? name : name.replace(/\.\d+$/, "");
    const commit = latest.get(id);
    if (!commit) {
      result.kept.push({ path: full, reason: "not in the ledger: never committed from this --out" });
      continue;
    }
    if (Date.parse(commit.at) < cutoff) await take(full, commit.at, result, remove);
  }
}

async function take(file: string, committedAt: string, result: PruneResult, remove: boolean | undefined): Promise<void> {
  const bytes = await sizeOf(file);
  if (bytes === undefined) return;
  if (remove) await rm(file, { recursive: true, force: true });
  result.pruned.push({ path: file, bytes, committedAt });
  result.bytes += bytes;
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
