// watch --http: the photo checks' part of the status (SPEC §15) as the status page draws it. Read
// tolerantly: the health file of an earlier version has none (the page then leaves the section out), and
// a count or finding that is missing or malformed counts as nothing rather than breaking the page.
import { checkOfCode, checkRank, checkWord, findingWord } from "../spec/findingWords.js";

export interface CheckCounts {
  /** findings that warned (W_PHOTO_*) */
  warned: number;
  /** findings that refused their work order (E_PHOTO_*) */
  refused: number;
}

/**
 * What the page draws of WatchStatus.photoChecks: the photos warned of and work orders refused, since
 * start and in the last pass; a row per check (images.checks.<name>) with its findings by outcome; the
 * newest findings (at most EVENT_FINDINGS).
 */
export interface PhotoChecksView {
  total: CheckCounts;
  lastPass: CheckCounts;
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
  const lastPass = isRecord(given.lastPass) ? given.lastPass : {};
  const total = byCheck(given.byCode);
  const pass = byCheck(lastPass.byCode);
  const checks = [...new Set([...total.keys(), ...pass.keys()])].sort(
    (a, b) => checkRank(a) - checkRank(b) || (a < b ? -1 : a > b ? 1 : 0),
  );
  const none = { warned: 0, refused: 0 };
  const recent = (Array.isArray(given.recent) ? given.recent : []).filter(
    (f): f is Record<string, unknown> & { code: string } => isRecord(f) && typeof f.code === "string",
  );
  return {
    total: { warned: count(given.warned), refused: count(given.refused) },
    lastPass: { warned: count(lastPass.warned), refused: count(lastPass.refused) },
    rows: checks.map((check) => ({
      check,
      word: checkWord(check),
      total: total.get(check) ?? none,
      lastPass: pass.get(check) ?? none,
    })),
    recent: recent.slice(0, EVENT_FINDINGS).map((f) => ({
      at: text(f.at),
      code: f.code,
      word: findingWord(f.code),
      outcome: f.code.startsWith("E_") ? "refused" : "warned",
      message: text(f.message) ?? "",
      workOrder: text(f.workOrder) ?? "",
      entry: text(f.entry),
      archive: text(f.archive),
    })),
    moreRecent: Math.max(0, recent.length - EVENT_FINDINGS),
  };
}

/** Findings by code (W_/E_PHOTO_*) as findings by check and outcome; a code of no check is left out. */
function byCheck(byCode: unknown): Map<string, CheckCounts> {
  const counts = new Map<string, CheckCounts>();
  if (!isRecord(byCode)) return counts;
  for (const [code, n] of Object.entries(byCode)) {
    const check = checkOfCode(code);
    if (!check) continue;
    const c = counts.get(check) ?? { warned: 0, refused: 0 };
    c[code.startsWith("E_") ? "refused" : "warned"] += count(n);
    counts.set(check, c);
  }
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
