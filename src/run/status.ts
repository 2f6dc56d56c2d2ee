// `wopack status <out>`: where each committed archive stands on its way to the platform.
import path from "node:path";
import { readLedger } from "../commit/ledger.js";
import { appendUploads, readUploads } from "../commit/uploads.js";
import type { Config } from "../config/schema.js";
import { type Clock, systemClock } from "../core/clock.js";
import { redact } from "../core/redact.js";
import { resolveCredentials } from "../upload/key.js";
import { type Api, httpApi, statusLooksFailed } from "../upload/protocol.js";
import { attentionProblem } from "../upload/uploadProblems.js";
import { checkOut, committedArchives } from "./upload.js";

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
}

export interface StatusOptions {
  /** ask the platform for the status of batches not final yet (needs the URL and key) */
  refresh?: { config: Config; env?: NodeJS.ProcessEnv; api?: Api } | undefined;
  now?: Clock;
}

/** One line per archive committed in --out (or moved from it after its upload), oldest first. */
export async function status(out: string, options: StatusOptions = {}): Promise<ArchiveStatus[]> {
  const dir = path.resolve(out);
  await checkOut(dir);
  const clock = options.now ?? systemClock;
  const journal = await readUploads(dir);
  const ledger = await readLedger(dir);
  const inOut = new Map((await committedArchives(dir, ledger)).map((a) => [a.name, a]));
  if (options.refresh) {
    const { url, key } = resolveCredentials(options.refresh.config, options.refresh.env);
    const api = options.refresh.api ?? httpApi(url, key, { timeoutMs: 30_000 });
    for (const s of journal.archives.values()) {
      const final = s.status && statusLooksFailed(s.status.status);
      if (!s.uploaded || final) continue;
      const r = await api.batchStatus(s.uploaded.batchId);
      if (r.ok) {
        await appendUploads(
          dir,
          [
            {
              type: "status",
              archive: s.archive,
              batchId: s.uploaded.batchId,
              status: r.value.status,
              at: clock().toISOString(),
            },
          ],
          journal,
        );
      }
    }
  }
  const names = new Set([...ledger.archives].filter((n) => inOut.has(n) || journal.archives.get(n)?.movedTo));
  const lines: ArchiveStatus[] = [];
  for (const name of [...names].sort()) {
    const s = journal.archives.get(name);
    const a = inOut.get(name);
    const line: ArchiveStatus = { archive: name, state: "committed", since: s?.at ?? a?.createdAt ?? "" };
    if (a) line.bytes = a.bytes;
    if (s?.attention && !s.uploaded) {
      line.state = "attention";
      line.batchId = s.attention.batchId;
      const p = attentionProblem(name, s.attention.batchId, s.attention.reason);
      line.problem = { code: p.code, message: redact(p.message) };
    } else if (s?.uploaded) {
      line.state = s.status && statusLooksFailed(s.status.status) ? "failed" : "uploaded";
      line.batchId = s.uploaded.batchId;
    } else if (s?.failed) {
      line.state = "failed";
      line.problem = { code: s.failed.code, message: redact(s.failed.message) };
    } else if (s?.batchId || s?.sha256) {
      line.state = "uploading";
      line.confirmed = s.confirmed;
      if (s.batchId) line.batchId = s.batchId;
    }
    if (s?.status) line.platformStatus = s.status.status;
    if (s?.movedTo) line.movedTo = s.movedTo;
    if (line.state === "failed" && !line.problem && s?.status) {
      line.problem = { code: "E_BATCH_FAILED", message: `the platform says: ${s.status.status}` };
    }
    lines.push(line);
  }
  return lines;
}
