// Repairs at start what an interrupted run left: adopted archives, finished moves, a damaged ledger.

import { readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import type { Clock } from "../core/clock.js";
import { type Problem, problem } from "../core/errors.js";
import type { LeftBehind, MoveItem, Recovery } from "../core/types.js";
import { exists } from "./files.js";
import { appendLedger, compactLedger, type LedgerRecord, type LedgerState, ledgerPath, readLedger } from "./ledger.js";
import { removeDeadDrafts } from "./lock.js";
import { moveItem } from "./moves.js";
import { tmpDir } from "./paths.js";

export const REPORT_SUFFIX = ".report.json";

/** What wopack writes beside an archive, as far as recovery needs it; undefined for anything else. */
function readOwnReport(
  text: string,
  archive: string,
): { createdAt: string; workOrders: { id: string; fingerprint: string; moves?: MoveItem[] }[] } | undefined {
  let report: unknown;
  try {
    report = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = report as { archive?: unknown; createdAt?: unknown; workOrders?: unknown };
  if (typeof r !== "object" || r === null || r.archive !== archive || !Array.isArray(r.workOrders)) return undefined;
  const valid = r.workOrders.every(
    (wo: { id?: unknown; fingerprint?: unknown; moves?: unknown }) =>
      typeof wo?.id === "string" && typeof wo.fingerprint === "string" && (wo.moves === undefined || Array.isArray(wo.moves)),
  );
  if (!valid) return undefined;
  const workOrders = r.workOrders as { id: string; fingerprint: string; moves?: MoveItem[] }[];
  return { createdAt: typeof r.createdAt === "string" ? r.createdAt : "", workOrders };
}

/**
 * Run under the lock before anything else: removes unfinished temporary files, brings the ledger up to
 * date with archives that were committed just before a crash, and finishes interrupted source moves.
 * What it cannot repair (a report it did not write, a folder that cannot be moved) is skipped with a
 * coded warning and left for the next run: recovery never stops new work.
 */
export async function recover(out: string, clock: Clock): Promise<Recovery> {
  const result: Recovery = { adopted: [], discarded: [], movesFinished: [], skipped: [], leftBehind: [] };
  for (const name of await readdir(tmpDir(out))) {
    if (!name.startsWith("lock."))
      await rm(path.join(tmpDir(out), name), { recursive: true, force: true }).catch(() => undefined);
  }
  // (a holder draft is another process's while it claims a lock: only a dead one's goes)
  await removeDeadDrafts(tmpDir(out), clock());
  const ledger = await readLedger(out);
  // (a damaged ledger is compacted by its restore below, once what the damage held is back)
  if (!ledger.damaged.length && (await compactLedger(out, ledger, clock))) Object.assign(ledger, await readLedger(out));
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
    const at = clock().toISOString();
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
    const restored = await restoreFromReports(out, ledger, clock);
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
      result.leftBehind.push(...(await finishMoves(out, rec, clock)));
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
async function restoreFromReports(out: string, ledger: LedgerState, clock: Clock): Promise<number> {
  const reports: { archive: string; createdAt: string; workOrders: { id: string; fingerprint: string }[] }[] = [];
  for (const name of await readdir(out)) {
    if (!name.endsWith(".zip" + REPORT_SUFFIX)) continue;
    const archive = name.slice(0, -REPORT_SUFFIX.length);
    const text = await readFile(path.join(out, name), "utf8").catch(() => "");
    const report = readOwnReport(text, archive);
    if (report && (await exists(path.join(out, archive)))) {
      reports.push({ archive, ...report });
    }
  }
  const order = (r: { archive: string; createdAt: string }) => `${r.createdAt}\0${r.archive}`;
  reports.sort((a, b) => (order(a) < order(b) ? -1 : 1));
  const when = new Map(reports.map((r) => [r.archive, order(r)]));
  const at = clock().toISOString();
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
  await compactLedger(out, await readLedger(out), clock, true);
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
  clock: Clock,
): Promise<LeftBehind> {
  if (!rec.moves?.length) return [];
  const left: LeftBehind = [];
  for (const item of rec.moves) left.push(...(await moveItem(item)));
  await appendLedger(out, [{ type: "moved", id: rec.id, archive: rec.archive, at: clock().toISOString() }]);
  return left;
}
