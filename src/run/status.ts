// `wopack status <out>`: where each committed archive stands on its way to the platform.
import path from "node:path";
import { readLedger } from "../commit/ledger.js";
import { heldByLiveRun } from "../commit/lock.js";
import { lockPath } from "../commit/paths.js";
import { appendUploads, type MaybeBatches, readUploads, type UploadJournal } from "../commit/uploads.js";
import type { Config } from "../config/schema.js";
import { type Clock, systemClock } from "../core/clock.js";
import { redact } from "../core/redact.js";
import { resolveCredentials } from "../upload/key.js";
import { type Api, BATCH_MISSING, httpApi, statusLooksFailed } from "../upload/protocol.js";
import { standingOf, uploadAccepted } from "../upload/sameBytes.js";
import { leftInOut } from "../upload/uploadedTo.js";
import { attentionProblem, credentialsRefused } from "../upload/uploadProblems.js";
import { checkOut } from "./folders.js";
import { committedArchives } from "./upload.js";

/** "attention": the platform keeps a batch with part of it that it would not delete (not uploaded) */
export type ArchiveState = "committed" | "uploading" | "uploaded" | "failed" | "attention";

export interface ArchiveStatus {
  archive: string;
  state: ArchiveState;
  bytes?: number;
  /** while uploading: bytes the platform confirmed */
  confirmed?: number;
  batchId?: string;
  /** the platform's word on the batch, as last asked (--refresh asks again) */
  platformStatus?: string;
  /** why it failed */
  problem?: { code: string; message: string };
  /** when it last changed (committed, or its upload's last step) */
  since: string;
  movedTo?: string;
  /** uploaded, and not moved where --uploaded-to said: why (a folder missing, an unmounted disk, a link there) */
  notMoved?: { to: string; code?: string; reason: string };
  /** committed, and to send again: the operator cleared its attention then (`upload --attention-cleared`) */
  attentionCleared?: string;
  /** the archive of the same bytes whose upload this one's stands for (pack --repack of unchanged work) */
  sameAs?: string;
  /**
   * batch creations whose answer was lost (W_BATCH_MAYBE_MADE) since the archive was last uploaded or cleared:
   * how many, the first and last time; the platform may keep an empty batch from each
   */
  maybeBatches?: MaybeBatches;
  /** --refresh could not learn the batch's status (the platform did not answer, or answered nonsense) */
  refreshError?: { code: "E_STATUS_NOT_REFRESHED"; message: string };
}

export interface StatusOptions {
  /** ask the platform for the status of batches not final yet (needs the URL and key) */
  refresh?: { config: Config; env?: NodeJS.ProcessEnv; api?: Api } | undefined;
  now?: Clock;
  /** stops --refresh between and during its requests (SIGINT/SIGTERM): it rejects with the signal's reason */
  signal?: AbortSignal | undefined;
}

/** One line per archive committed in --out (or moved from it after its upload), oldest first. */
export async function status(out: string, options: StatusOptions = {}): Promise<ArchiveStatus[]> {
  const dir = path.resolve(out);
  await checkOut(dir);
  const clock = options.now ?? systemClock;
  const journal = await readUploads(dir);
  const ledger = await readLedger(dir);
  const inOut = new Map((await committedArchives(dir, ledger)).map((a) => [a.name, a]));
  const notRefreshed = options.refresh
    ? await refresh(dir, journal, options.refresh, clock, options.signal)
    : new Map<string, string>();
  // (an archive whose move was refused part-way, its report or review page still here, is shown where it is not done)
  const refused = [...ledger.archives].filter((n) => !inOut.has(n) && journal.archives.get(n)?.moveRefused);
  const left = new Map(
    await Promise.all(
      refused.map(async (n) => [n, await leftInOut(dir, { archive: n, moving: journal.archives.get(n)?.moving })] as const),
    ),
  );
  const names = new Set(
    [...ledger.archives].filter((n) => inOut.has(n) || journal.archives.get(n)?.movedTo || left.get(n)?.length),
  );
  const lines: ArchiveStatus[] = [];
  const sending = await heldByLiveRun(lockPath(dir)); // (a run holds --out: a batch begun is being sent)
  for (const name of [...names].sort()) {
    const own = journal.archives.get(name);
    const a = inOut.get(name);
    const { state: s, sameAs } = standingOf(journal, name, a?.sha256);
    const line: ArchiveStatus = { archive: name, state: "committed", since: s?.at ?? a?.createdAt ?? "" };
    if (sameAs) line.sameAs = sameAs;
    if (a) line.bytes = a.bytes;
    if (s?.attention && !s.uploaded) {
      line.state = "attention";
      line.batchId = s.attention.batchId;
      const p = attentionProblem(name, s.attention.batchId, s.attention.reason);
      line.problem = { code: p.code, message: redact(p.message) };
    } else if (s?.uploaded) {
      line.state = uploadAccepted(s) ? "uploaded" : "failed";
      line.batchId = s.uploaded.batchId;
    } else if (s?.failed) {
      line.state = "failed";
      line.problem = { code: s.failed.code, message: redact(s.failed.message) };
      line.since = s.failed.at;
    } else if (s?.batchId && sending) {
      line.state = "uploading";
      line.confirmed = s.confirmed;
      line.batchId = s.batchId;
    } else if (s?.batchId) {
      line.state = "failed";
      line.problem = stopped(name, s.confirmed, s.bytes ?? a?.bytes ?? 0);
    } else if (s?.cleared) line.attentionCleared = s.cleared.at; // (no batch now: nothing is being sent)
    if (s?.status) line.platformStatus = s.status.status;
    if (own?.movedTo) line.movedTo = own.movedTo;
    if (own?.moveRefused && (a || left.get(name)?.length)) {
      const { to, code, reason } = own.moveRefused;
      line.notMoved = { to, ...(code ? { code } : {}), reason }; // (still in --out, whole or part of it)
    }
    if (own?.maybeBatches && !s?.uploaded) line.maybeBatches = own.maybeBatches;
    const why = notRefreshed.get(sameAs ?? name);
    if (why) line.refreshError = { code: "E_STATUS_NOT_REFRESHED", message: redact(why) };
    if (line.state === "failed" && !line.problem && s?.status) {
      line.problem = s.status.status.startsWith(BATCH_MISSING)
        ? { code: "E_BATCH_MISSING", message: `${s.status.status}; asked again at the next status --refresh` }
        : { code: "E_BATCH_FAILED", message: `the platform says: ${s.status.status}` };
    }
    lines.push(line);
  }
  return lines;
}

/** A batch begun and no run sending it: the last one was stopped (killed, interrupted) before it ended. */
function stopped(name: string, confirmed: number, bytes: number): { code: string; message: string } {
  const message = `${name}: no run is sending it: the last one stopped with at least ${confirmed} of its ${bytes} bytes on the platform; the next wopack upload resumes it`;
  return { code: "E_UPLOAD_STOPPED", message };
}

/**
 * Asks the platform for the status of each uploaded batch not final yet, and journals each answer. A batch
 * the platform does not have (404/410) is journaled missing (BATCH_MISSING): not "uploaded" for prune, and
 * asked again next time, for a wrong URL answers so too; a refused key stops
 * with E_UPLOAD_CREDENTIALS. Gives back, by archive, why a batch's status could not be learnt (once the
 * platform does not answer, the rest are not asked: each would wait as long).
 */
async function refresh(
  dir: string,
  journal: UploadJournal,
  options: NonNullable<StatusOptions["refresh"]>,
  clock: Clock,
  signal: AbortSignal | undefined,
): Promise<Map<string, string>> {
  const { url, key } = resolveCredentials(options.config, options.env);
  const api = options.api ?? httpApi(url, key, { timeoutMs: 30_000, signal });
  const notRefreshed = new Map<string, string>();
  let unreachable: string | undefined;
  for (const s of journal.archives.values()) {
    const final = s.status && statusLooksFailed(s.status.status);
    if (!s.uploaded || final) continue;
    if (unreachable) {
      notRefreshed.set(s.archive, `not asked: the platform did not answer for an earlier batch (${unreachable})`);
      continue;
    }
    signal?.throwIfAborted();
    const r = await api.batchStatus(s.uploaded.batchId);
    signal?.throwIfAborted(); // (an answer cut by the signal is no answer)
    if (!r.ok && r.kind === "auth") throw credentialsRefused(redact(r.detail));
    if (!r.ok && r.kind !== "gone") {
      if (r.kind === "retry") unreachable = r.detail;
      notRefreshed.set(s.archive, `the platform's answer about batch ${s.uploaded.batchId}: ${r.detail}`);
      continue;
    }
    const status = r.ok ? r.value.status : `${BATCH_MISSING} (${r.detail})`;
    const at = clock().toISOString();
    await appendUploads(dir, [{ type: "status", archive: s.archive, batchId: s.uploaded.batchId, status, at }], journal, signal);
  }
  return notRefreshed;
}
