// watch --http: the photo checks' part of the status (SPEC §15) as the status page draws it. Read
// tolerantly: the health file of an earlier version has none (the page then leaves the section out), and
// a count or finding that is missing or malformed counts as nothing rather than breaking the page.
import { checkRank, checkWord, findingWord } from "../spec/findingWords.js";

export interface CheckCounts {
  /** photos a check warned of */
  warned: number;
  /** work orders a check refused */
  refused: number;
}

/**
 * What the status (WatchStatus.photoChecks, in the health file and /state.json) holds of the photo
 * checks: per check (images.checks.<name>), since watch started and in the last pass that packed or
 * refused something, and the newest findings first.
 */
export interface PhotoChecksStatus {
  total: Record<string, CheckCounts>;
  lastPass: Record<string, CheckCounts>;
  recent: { at: string; code: string; message: string; workOrder: string; entry?: string; archive: string | null }[];
}

/** What the page draws: a row per check, and the newest findings (at most EVENT_FINDINGS). */
export interface PhotoChecksView {
  rows: { check: string; word: string; total: CheckCounts; lastPass: CheckCounts }[];
  recent: {
    at: string | null;
    code: string;
    word: string;
    outcome: "warned" | "refused";
    message: string;
    workOrder: string;
    entry: string | null;
    archive: string | null;
  }[];
  moreRecent: number;
}

/** the newest findings an /events message carries (/state.json has all the status keeps) */
export const EVENT_FINDINGS = 10;

/** The status's photo checks as the page draws them; null when the status has none (an earlier version's). */
export function photoChecksView(status: object): PhotoChecksView | null {
  const given = (status as { photoChecks?: unknown }).photoChecks;
  if (!isRecord(given)) return null;
  const total = countsOf(given.total);
  const lastPass = countsOf(given.lastPass);
  const checks = [...new Set([...total.keys(), ...lastPass.keys()])].sort(
    (a, b) => checkRank(a) - checkRank(b) || (a < b ? -1 : a > b ? 1 : 0),
  );
  const none = { warned: 0, refused: 0 };
  const recent = (Array.isArray(given.recent) ? given.recent : []).filter(
    (f): f is Record<string, unknown> & { code: string } => isRecord(f) && typeof f.code === "string",
  );
  return {
    rows: checks.map((check) => ({
      check,
      word: checkWord(check),
      total: total.get(check) ?? none,
      lastPass: lastPass.get(check) ?? none,
    })),
    recent: recent.slice(0, EVENT_FINDINGS).map((f) => ({
      at: text(f.at),
      code: f.code,
      word: findingWord(f.code),
      outcome: f.code.startsWith("E_") || f.outcome === "refused" ? "refused" : "warned",
      message: text(f.message) ?? "",
      workOrder: text(f.workOrder) ?? "",
      entry: text(f.entry),
      archive: text(f.archive),
    })),
    moreRecent: Math.max(0, recent.length - EVENT_FINDINGS),
  };
}

function countsOf(value: unknown): Map<string, CheckCounts> {
  const counts = new Map<string, CheckCounts>();
  if (!isRecord(value)) return counts;
  for (const [check, c] of Object.entries(value))
    if (isRecord(c)) counts.set(check, { warned: count(c.warned), refused: count(c.refused) });
  return counts;
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
