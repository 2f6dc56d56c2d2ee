// What pack and watch tell their log as they go: one event per archive, refusal, warning and failure.
import type { ArchiveReport, PackResult, WatchEvent } from "../core/types.js";

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
    review: archive.reviewPage ?? null,
  };
}

/**
 * Every warning of a run (the plan's, and each packed work order's) as an event. `seen` (watch: one per
 * session) keeps a warning about the same file from being told again on every pass.
 */
export function warningEvents(result: Pick<PackResult, "warnings" | "packed">, seen?: Set<string>): WatchEvent[] {
  const events: WatchEvent[] = [];
  const all = [...result.warnings, ...result.packed.flatMap((w) => w.warnings.map((p) => ({ ...p, workOrder: w.id })))];
  for (const w of all) {
    const key = `${w.code}\0${w.path ?? ""}\0${w.message}`;
    if (seen?.has(key)) continue;
    seen?.add(key);
    events.push({ ...w, event: "warning", message: `${w.code}: ${w.message}` });
  }
  return events;
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
  for (const hook of result.hooks.filter((h) => !h.ok)) {
    const message = `--on-archive failed for ${hook.archive} (exit ${hook.exitCode ?? "?"}); the archive is kept`;
    events.push({ event: "error", message, archive: hook.archive });
  }
  for (const p of result.moveFailures) events.push({ event: "error", message: `${p.code}: ${p.message}`, code: p.code });
  events.push(...warningEvents(result, seenWarnings));
  return events;
}
