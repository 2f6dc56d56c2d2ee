// The ledger: every committed work order with the fingerprint of its content, append-only.

import { lstat, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Clock } from "../core/clock.js";
import { ioError } from "../core/errors.js";
import type { MoveItem } from "../core/types.js";
import { appendLines, syncDir, writeFileAtomic } from "./files.js";
import { stateDir, tmpDir } from "./paths.js";

export type LedgerRecord =
  | {
      type: "commit";
      id: string;
      fingerprint: string;
      archive: string;
      at: string;
      moves?: MoveItem[];
      /** written by compaction: its moves are done, and kept only to say what they moved (for prune) */
      moved?: true;
    }
  | { type: "moved"; id: string; archive: string; at: string }
  /** written by compaction: every archive committed so far, so that recovery never adopts one twice */
  | { type: "archives"; names: string[]; at: string; kept?: number }
  /** the --on-archive command ran for an archive (the last one read counts) */
  | { type: "hook"; archive: string; ok: boolean; exitCode: number | null; at: string };

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
  /** archive -> when it was committed (its last commit record; for one known only from compaction, then) */
  archiveAt: Map<string, string>;
  /** line numbers (from 1) that could not be read: a torn append, or damage */
  damaged: number[];
  /** archives whose --on-archive command ran and failed, and has not succeeded since */
  hookFailed: Set<string>;
  /** the moves (--move-to) of every commit record read, with what each packed: what prune may delete */
  moves: MoveItem[];
  /** every commit record with moves, in ledger order: compaction keeps those whose folders are still there */
  withMoves: Extract<LedgerRecord, { type: "commit" }>[];
  /** how many records the last compaction wrote: the next one is due once the ledger has doubled since */
  compactedTo: number;
}

function isRecord(rec: unknown): rec is LedgerRecord {
  const r = rec as Partial<Record<string, unknown>> | null;
  if (typeof r !== "object" || r === null) return false;
  if (r.type === "archives") return Array.isArray(r.names) && r.names.every((n) => typeof n === "string");
  if (r.type === "hook") return typeof r.archive === "string" && typeof r.ok === "boolean";
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
    archiveAt: new Map(),
    damaged: [],
    hookFailed: new Set(),
    moves: [],
    withMoves: [],
    compactedTo: 0,
  };
  let text = "";
  try {
    text = await readFile(ledgerPath(out), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(err, `cannot read the ledger ${ledgerPath(out)}`);
  }
  const pending = new Map<string, Extract<LedgerRecord, { type: "commit" }>>();
  const timed = new Set<string>();
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
      if (typeof rec.kept === "number") state.compactedTo = rec.kept;
      for (const name of rec.names) {
        state.archives.add(name);
        if (!state.archiveAt.has(name)) state.archiveAt.set(name, rec.at);
      }
      continue;
    }
    if (rec.type === "hook") {
      if (rec.ok) state.hookFailed.delete(rec.archive);
      else state.hookFailed.add(rec.archive);
      continue;
    }
    const key = `${rec.archive}\0${rec.id}`;
    if (rec.type === "commit") {
      state.commits.add(key);
      state.fingerprints.set(rec.id, rec.fingerprint);
      state.latest.set(rec.id, rec);
      state.archives.add(rec.archive);
      // (a commit record's time wins over a compaction's, which is later than the commit it stands for)
      const at = state.archiveAt.get(rec.archive);
      if (!at || !timed.has(rec.archive) || rec.at > at) state.archiveAt.set(rec.archive, rec.at);
      timed.add(rec.archive);
      if (rec.moves?.length) {
        if (!rec.moved) pending.set(key, rec);
        state.moves.push(...rec.moves);
        state.withMoves.push(rec);
      }
    } else pending.delete(key);
  }
  state.pendingMoves = [...pending.values()];
  return state;
}

/**
 * What a shard (--shard) counts as packed: the last commit of each work order in its own ledger and in the
 * ledgers of the folders beside its --out (the other shards' outboxes, siblings by convention), so that a
 * work order that falls to another shard after the number of shards changed is not packed again, and an id
 * that differs only in case from one another shard packed is seen (shards hash ids as spelled). The
 * others' ledgers are only read.
 */
export async function shardLatest(out: string, own: LedgerState): Promise<LedgerState["latest"]> {
  const latest = new Map(own.latest);
  const parent = path.dirname(out);
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    const sibling = path.join(parent, name);
    if (sibling === out) continue;
    const theirs = await readLedger(sibling).catch(() => undefined);
    for (const [id, rec] of theirs?.latest ?? []) {
      const mine = latest.get(id);
      if (!mine || rec.at > mine.at) latest.set(id, rec);
    }
  }
  return latest;
}

export async function appendLedger(out: string, records: readonly LedgerRecord[]): Promise<void> {
  await appendLines(
    ledgerPath(out),
    records.map((r) => JSON.stringify(r)),
  );
}

/** Records past which a ledger is rewritten with only what it still needs. */
const COMPACT_AFTER_RECORDS = 20_000;

/**
 * Rewrites a long ledger (atomically) as: the names of all archives committed, then each work order's last
 * commit, with its moves (marked done unless still pending: prune deletes only what a move recorded), and
 * before them every older commit whose move is pending, or with only its moves into folders still in
 * --move-to that no later commit moved into (prune needs them, keyed by folder, and the commit's time, to
 * take that folder; once prune took it, the next compaction forgets it). So the ledger stays bounded by the
 * folders still there. The next compaction is due once the ledger has doubled since (not at every start,
 * which would check every folder again). Run under the lock.
 */
export async function compactLedger(out: string, ledger: LedgerState, clock: Clock, force = false): Promise<boolean> {
  if (
    !force &&
    (ledger.records < COMPACT_AFTER_RECORDS || ledger.records < Math.max(ledger.latest.size + 1, ledger.compactedTo) * 2)
  )
    return false;
  const pending = new Set(ledger.pendingMoves);
  const at = clock().toISOString();
  const done = (rec: Extract<LedgerRecord, { type: "commit" }>) =>
    pending.has(rec) || !rec.moves?.length ? rec : { ...rec, moved: true as const };
  const latest = new Set(ledger.latest.values());
  const claimed = new Set<string>();
  for (const rec of latest) for (const m of rec.moves ?? []) claimed.add(movedFolder(m));
  const older: LedgerRecord[] = [];
  // (newest first, so that a folder moved into again after prune took it is kept for its last commit only)
  for (const rec of [...ledger.withMoves].reverse()) {
    if (latest.has(rec)) continue;
    if (pending.has(rec)) {
      older.push(rec);
      continue;
    }
    const moves: MoveItem[] = [];
    const folders = new Map<string, boolean>(); // (a commit's root photos all go into one folder)
    for (const m of rec.moves!) {
      const folder = movedFolder(m);
      if (!m.packed?.length || claimed.has(folder)) continue; // (moved whole: nothing recorded prune could delete)
      if (!folders.has(folder)) folders.set(folder, !(await surelyGone(folder)));
      if (folders.get(folder)) moves.push(m);
    }
    for (const folder of folders.keys()) claimed.add(folder);
    if (moves.length) older.push({ ...rec, moves, moved: true });
  }
  const records: LedgerRecord[] = [...older.reverse()];
  // (older commits go first, so that the last commit of each work order stays the one read last)
  for (const rec of latest) records.push(done(rec));
  for (const archive of [...ledger.hookFailed].sort()) records.push({ type: "hook", archive, ok: false, exitCode: null, at });
  records.unshift({ type: "archives", names: [...ledger.archives].sort(), at, kept: records.length + 1 });
  await writeFileAtomic(ledgerPath(out), records.map((r) => JSON.stringify(r) + "\n").join(""), tmpDir(out));
  await syncDir(stateDir(out));
  return true;
}

/**
 * Whether a folder in --move-to is gone for sure: missing (ENOENT) from a parent that is there. Any other error,
 * or a parent not there (--move-to not mounted at this path, a share not up yet), is no proof: its records stay.
 */
async function surelyGone(folder: string): Promise<boolean> {
  const gone = await lstat(folder).then(
    () => false,
    (err: NodeJS.ErrnoException) => err.code === "ENOENT",
  );
  return (
    gone &&
    (await lstat(path.dirname(folder)).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  );
}

/** The folder a move made in --move-to (a root photo's: the folder made for it). */
export function movedFolder(m: MoveItem): string {
  return m.packed?.[0]?.rel === "" ? path.dirname(m.to) : m.to;
}
