import { link, open, readdir, readFile, rename, rm, unlink } from "node:fs/promises";
import path from "node:path";
import { ioError, type Problem, problem } from "../core/errors.js";

import type { LeftBehind, MoveItem, Recovery } from "../core/types.js";
import { exists, moveItem } from "./moves.js";

/** wopack's own state inside --out: the lock, the ledger and unfinished temporary files. */
export function stateDir(out: string): string {
  return path.join(out, ".wopack");
}
export function tmpDir(out: string): string {
  return path.join(stateDir(out), "tmp");
}
/** Where the native HEIC decoder marks the files it is decoding (images/heicDecoder.ts). */
export function decodingDir(out: string): string {
  return path.join(stateDir(out), "decoding");
}

/** The lock file that keeps one writer per --out (lock.ts). */
export function lockPath(out: string): string {
  return path.join(stateDir(out), "lock");
}

// ---------- ledger ----------

export type LedgerRecord =
  | { type: "commit"; id: string; fingerprint: string; archive: string; at: string; moves?: MoveItem[] }
  | { type: "moved"; id: string; archive: string; at: string }
  /** written by compaction: every archive committed so far, so that recovery never adopts one twice */
  | { type: "archives"; names: string[]; at: string };

export interface LedgerState {
  /** id -> fingerprint of the last committed content */
  fingerprints: Map<string, string>;
  /** id -> its last commit record */
  latest: Map<string, Extract<LedgerRecord, { type: "commit" }>>;
  /** records read, to decide when the ledger is worth compacting */
  records: number;
  archives: Set<string>;
  /** commits whose sources were still to be moved when the run stopped */
  pendingMoves: Extract<LedgerRecord, { type: "commit" }>[];
  /** "archive\0id" of every commit record read */
  commits: Set<string>;
  /** line numbers (from 1) that could not be read: a torn append, or damage */
  damaged: number[];
}

function isRecord(rec: unknown): rec is LedgerRecord {
  const r = rec as Partial<Record<string, unknown>> | null;
  if (typeof r !== "object" || r === null) return false;
  if (r.type === "archives") return Array.isArray(r.names) && r.names.every((n) => typeof n === "string");
  return (r.type === "commit" || r.type === "moved") && typeof r.id === "string" && typeof r.archive === "string";
}

export function ledgerPath(out: string): string {
  return path.join(stateDir(out), "ledger.jsonl");
}

/**
 * Reads the append-only ledger. A line that cannot be read (torn by a crash mid-append, or damaged) is
 * skipped and its number kept: recovery restores what it held from the reports beside the archives.
 */
export async function readLedger(out: string): Promise<LedgerState> {
  const state: LedgerState = {
    fingerprints: new Map(),
    latest: new Map(),
    records: 0,
    archives: new Set(),
    pendingMoves: [],
    commits: new Set(),
    damaged: [],
  };
  let text = "";
  try {
    text = await readFile(ledgerPath(out), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(err, `cannot read the ledger ${ledgerPath(out)}`);
  }
  const pending = new Map<string, Extract<LedgerRecord, { type: "commit" }>>();
  for (const [i, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      rec = undefined;
    }
    if (!isRecord(rec)) {
      state.damaged.push(i + 1);
      continue;
    }
    state.records++;
    if (rec.type === "archives") {
      for (const name of rec.names) state.archives.add(name);
      continue;
    }
    const key = `${rec.archive}\0${rec.id}`;
    if (rec.type === "commit") {
      state.commits.add(key);
      state.fingerprints.set(rec.id, rec.fingerprint);
      state.latest.set(rec.id, rec);
      state.archives.add(rec.archive);
      if (rec.moves?.length) pending.set(key, rec);
    } else pending.delete(key);
  }
  state.pendingMoves = [...pending.values()];
  return state;
}

export async function appendLedger(out: string, records: readonly LedgerRecord[]): Promise<void> {
  if (!records.length) return;
  const fh = await open(ledgerPath(out), "a+");
  try {
    // After a crash mid-append the file may end in a torn line: start on a fresh one, or the first new
    // record would be glued to it and lost.
    const { size } = await fh.stat();
    const last = Buffer.alloc(1);
    if (size > 0) await fh.read(last, 0, 1, size - 1);
    const lead = size > 0 && last[0] !== 0x0a ? "\n" : "";
    await fh.appendFile(lead + records.map((r) => JSON.stringify(r) + "\n").join(""));
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Records past which a ledger is rewritten with only what it still needs. */
const COMPACT_AFTER_RECORDS = 20_000;

/**
 * Rewrites a long ledger (atomically) as: the names of all archives committed, then each work order's last
 * commit, with its moves if they are still pending. Run under the lock.
 */
export async function compactLedger(out: string, ledger: LedgerState, force = false): Promise<boolean> {
  const needed = ledger.latest.size + 1;
  if (!force && (ledger.records < COMPACT_AFTER_RECORDS || ledger.records < needed * 2)) return false;
  const pending = new Set(ledger.pendingMoves);
  const at = new Date().toISOString();
  const records: LedgerRecord[] = [{ type: "archives", names: [...ledger.archives].sort(), at }];
  // A pending move of an older commit (the work order was packed again since) must not be forgotten; it
  // goes first, so that the last commit of each work order stays the one read last.
  for (const rec of ledger.pendingMoves) if (ledger.latest.get(rec.id) !== rec) records.push(rec);
  for (const rec of ledger.latest.values()) {
    const { moves, ...rest } = rec;
    records.push(pending.has(rec) && moves ? rec : rest);
  }
  await writeFileAtomic(ledgerPath(out), records.map((r) => JSON.stringify(r) + "\n").join(""), tmpDir(out));
  await syncDir(stateDir(out));
  return true;
}

// ---------- files ----------

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `content` to `tmp` and flushes it to disk: the first half of putting a file in place whole. */
async function writeSynced(tmp: string, content: string): Promise<void> {
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes a file so that readers see the old content or the whole new one, never part of it. */
export async function writeFileAtomic(file: string, content: string, tmpFolder: string): Promise<void> {
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

// ---------- recovery ----------

export const REPORT_SUFFIX = ".report.json";

/** What wopack writes beside an archive, as far as recovery needs it; undefined for anything else. */
function readOwnReport(
  text: string,
  archive: string,
): { workOrders: { id: string; fingerprint: string; moves?: MoveItem[] }[] } | undefined {
  let report: unknown;
  try {
    report = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = report as { archive?: unknown; workOrders?: unknown };
  if (typeof r !== "object" || r === null || r.archive !== archive || !Array.isArray(r.workOrders)) return undefined;
  const valid = r.workOrders.every(
    (wo: { id?: unknown; fingerprint?: unknown; moves?: unknown }) =>
      typeof wo?.id === "string" && typeof wo.fingerprint === "string" && (wo.moves === undefined || Array.isArray(wo.moves)),
  );
  return valid ? (r as ReturnType<typeof readOwnReport>) : undefined;
}

/**
 * Run under the lock before anything else: removes unfinished temporary files, brings the ledger up to
 * date with archives that were committed just before a crash, and finishes interrupted source moves.
 * What it cannot repair (a report it did not write, a folder that cannot be moved) is skipped with a
 * coded warning and left for the next run: recovery never stops new work.
 */
export async function recover(out: string): Promise<Recovery> {
  const result: Recovery = { adopted: [], discarded: [], movesFinished: [], skipped: [], leftBehind: [] };
  for (const name of await readdir(tmpDir(out))) {
    if (!name.startsWith("lock."))
      await rm(path.join(tmpDir(out), name), { recursive: true, force: true }).catch(() => undefined);
  }
  const ledger = await readLedger(out);
  // (a damaged ledger is compacted by its restore below, once what the damage held is back)
  if (!ledger.damaged.length && (await compactLedger(out, ledger))) Object.assign(ledger, await readLedger(out));
  const records: LedgerRecord[] = [];
  for (const name of (await readdir(out)).sort()) {
    if (!name.endsWith(".zip" + REPORT_SUFFIX)) continue;
    const archive = name.slice(0, -REPORT_SUFFIX.length);
    if (ledger.archives.has(archive)) continue;
    const text = await readFile(path.join(out, name), "utf8").catch(() => "");
    const report = readOwnReport(text, archive);
    if (!report) {
      result.skipped.push(
        problem(
          "W_RECOVERY_FOREIGN_REPORT",
          `${path.join(out, name)}: not a report wopack wrote for ${archive} (empty, unreadable or another format); left as it is`,
          "remove or rename that file if it does not belong in the output folder",
          name,
        ),
      );
      continue;
    }
    if (!(await exists(path.join(out, archive)))) {
      await rm(path.join(out, name), { force: true });
      result.discarded.push(name);
      continue;
    }
    const at = new Date().toISOString();
    for (const wo of report.workOrders) {
      const rec: LedgerRecord = { type: "commit", id: wo.id, fingerprint: wo.fingerprint, archive, at };
      if (wo.moves?.length) rec.moves = wo.moves;
      records.push(rec);
      if (rec.moves) ledger.pendingMoves.push(rec);
    }
    result.adopted.push(archive);
  }
  await appendLedger(out, records);
  if (ledger.damaged.length) {
    const restored = await restoreFromReports(out, ledger);
    result.skipped.push(
      problem(
        "W_LEDGER_DAMAGED",
        `${ledgerPath(out)}: line${ledger.damaged.length > 1 ? "s" : ""} ${ledger.damaged.join(", ")} could not be read (a crash mid-write, or damage); ${restored} commit${restored === 1 ? "" : "s"} restored from the archives' reports, and the ledger rewritten`,
        "nothing to do if it followed a crash; if it happens without one, check that disk",
        path.basename(ledgerPath(out)),
      ),
    );
  }
  for (const rec of ledger.pendingMoves) {
    try {
      result.leftBehind.push(...(await finishMoves(out, rec)));
      result.movesFinished.push(rec.id);
    } catch (err) {
      result.skipped.push(moveFailed(rec.id, err));
    }
  }
  return result;
}

/**
 * After a damaged ledger: every work order in a report beside its archive whose commit the ledger lost is
 * recorded again (the newest report for a work order wins), then the ledger is rewritten without the
 * damaged lines. Returns how many commits were restored.
 */
async function restoreFromReports(out: string, ledger: LedgerState): Promise<number> {
  const reports: { archive: string; createdAt: string; workOrders: { id: string; fingerprint: string }[] }[] = [];
  for (const name of await readdir(out)) {
    if (!name.endsWith(".zip" + REPORT_SUFFIX)) continue;
    const archive = name.slice(0, -REPORT_SUFFIX.length);
    const text = await readFile(path.join(out, name), "utf8").catch(() => "");
    const report = readOwnReport(text, archive);
    if (report && (await exists(path.join(out, archive)))) {
      const createdAt = (JSON.parse(text) as { createdAt?: unknown }).createdAt;
      reports.push({ archive, createdAt: typeof createdAt === "string" ? createdAt : "", workOrders: report.workOrders });
    }
  }
  const order = (r: { archive: string; createdAt: string }) => `${r.createdAt}\0${r.archive}`;
  reports.sort((a, b) => (order(a) < order(b) ? -1 : 1));
  const when = new Map(reports.map((r) => [r.archive, order(r)]));
  const at = new Date().toISOString();
  const records: LedgerRecord[] = [];
  for (const r of reports) {
    for (const wo of r.workOrders) {
      if (ledger.commits.has(`${r.archive}\0${wo.id}`)) continue;
      const latest = ledger.latest.get(wo.id);
      // a later commit of the same work order (a new submission) is kept as the latest
      if (latest && (when.get(latest.archive) ?? latest.archive) > order(r)) continue;
      const rec: LedgerRecord = { type: "commit", id: wo.id, fingerprint: wo.fingerprint, archive: r.archive, at };
      records.push(rec);
      ledger.latest.set(wo.id, rec);
    }
  }
  await appendLedger(out, records);
  await compactLedger(out, await readLedger(out), true);
  return records.length;
}

/** A committed work order whose sources could not be moved: it stays packed, the move is tried again. */
export function moveFailed(id: string, err: unknown): Problem {
  return problem(
    "W_MOVE_FAILED",
    `work order ${id} is packed, but moving its sources failed (${(err as Error)?.message ?? String(err)}); they stay in staging`,
    "fix the permissions or free the space named there; every run tries the move again (the work order is not packed twice)",
    id,
  );
}

/**
 * Moves a committed work order's sources to --move-to (what is already there is skipped, so a move
 * interrupted half-way can be finished) and records that in the ledger. Returns the files left behind
 * because they were added or changed after the work order was packed.
 */
export async function finishMoves(
  out: string,
  rec: { id: string; archive: string; moves?: MoveItem[] | undefined },
): Promise<LeftBehind> {
  if (!rec.moves?.length) return [];
  const left: LeftBehind = [];
  for (const item of rec.moves) left.push(...(await moveItem(item)));
  await appendLedger(out, [{ type: "moved", id: rec.id, archive: rec.archive, at: new Date().toISOString() }]);
  return left;
}
