// What pack and watch tell their log as they go: one event per archive, refusal, warning and failure.
import type { Problem } from "../core/errors.js";
import type { ArchiveReport, PackResult, RefusedReport, WatchEvent } from "../core/types.js";

/** A committed archive: what it holds and what it cost (the log's and the metrics' `packed` line). */
export function packedEvent(archive: ArchiveReport): WatchEvent {
  const ids = archive.workOrders.map((w) => w.id);
  const entries = archive.workOrders.flatMap((w) => w.entries);
  const conversions: Record<string, number> = {};
  for (const e of entries) if (e.conversion && e.format) conversions[e.format] = (conversions[e.format] ?? 0) + 1;
  return {
    event: "packed",
    message: `packed ${ids.join(", ")} into ${archive.archive}`,
    archive: archive.path,
    workOrders: ids,
    photos: entries.length,
    bytes: archive.bytes,
    sha256: archive.sha256,
    durationMs: archive.durationMs ?? null,
    conversions,
    /** per photo check that ran: photos passed and warned of (SPEC §15) */
    photoChecks: archive.photoChecks ?? {},
    review: archive.reviewPage ?? null,
  };
}

/**
 * Every warning of a run (the plan's, and each packed work order's) as an event. `seen` (watch: one per
 * session) keeps a warning about the same file from being told again on every pass.
 */
export function warningEvents(result: Pick<PackResult, "warnings" | "packed">, seen?: Set<string>): WatchEvent[] {
  const events: WatchEvent[] = [];
  // (a run's warnings hold each packed work order's too: packOnce's withTotals)
  const owner = new Map(result.packed.flatMap((w) => w.warnings.map((p) => [p, w.id] as const)));
  const all = result.warnings.map((p) => (owner.has(p) ? { ...p, workOrder: owner.get(p) } : p));
  for (const w of all) {
    const key = `${w.code}\0${w.path ?? ""}\0${w.message}`;
    if (seen?.has(key)) continue;
    seen?.add(key);
    events.push({ ...w, event: "warning", message: `${w.code}: ${w.message} (hint: ${w.hint})` });
  }
  return events;
}

/** A work order pack refused, with every problem (watch tells its own, once it moved the folder). */
export function refusedEvent(wo: RefusedReport): WatchEvent {
  const problems = wo.problems.map((p) => `${p.code} ${p.message} (hint: ${p.hint})`).join("; ");
  return { event: "refused", message: `refused ${wo.id}: ${problems}`, workOrder: wo.id, problems: wo.problems };
}

/** What a move that failed tells the log (the work order stays; the next run moves it). */
export function moveFailedEvent(p: Problem): WatchEvent {
  return { event: "error", message: `${p.code}: ${p.message} (hint: ${p.hint})`, code: p.code, path: p.path };
}

/** Failed hooks and moves, then every warning: what a run's result tells the log once, when it is over. */
function outcomeEvents(result: PackResult, seen?: Set<string>): WatchEvent[] {
  const events: WatchEvent[] = [];
  for (const hook of result.hooks.filter((h) => !h.ok)) {
    const message = `--on-archive failed for ${hook.archive} (exit ${hook.exitCode ?? "?"}); the archive is kept`;
    events.push({ event: "error", message, archive: hook.archive, exitCode: hook.exitCode });
  }
  for (const p of result.moveFailures) events.push(moveFailedEvent(p));
  events.push(...warningEvents(result, seen));
  return events;
}

/** A pack run's result as events: archives were told as they were committed (packedEvent). */
export function packEvents(result: PackResult): WatchEvent[] {
  return [...result.refused.map(refusedEvent), ...outcomeEvents(result)];
}

/**
 * A watch pass's result as events: archives were told as they were committed (packedEvent), refusals are
 * told once moved (watch's refuse()).
 */
export function resultEvents(result: PackResult, seenWarnings: Set<string>): WatchEvent[] {
  const events: WatchEvent[] = [];
  for (const wo of result.planned ?? []) {
    const photos = `${wo.photos.length} photo${wo.photos.length === 1 ? "" : "s"}`;
    events.push({ event: "planned", message: `dry run: would pack ${wo.id} (${photos})`, workOrder: wo.id, photos: wo.photos });
  }
  events.push(...outcomeEvents(result, seenWarnings));
  return events;
}
