// Where an archive stands on its way to the platform, as status tells it and prune trusts it (one rule).
import type { UploadJournal, UploadState } from "../commit/uploads.js";
import { statusUnconfirmed } from "./protocol.js";

export interface Standing {
  /** the journal's state that speaks for the archive: its own, or that of the archive of the same bytes */
  state: UploadState | undefined;
  /** the archive of the same bytes whose upload this one's stands for (pack --repack of unchanged work) */
  sameAs?: string;
}

/**
 * An archive neither uploaded itself nor needing attention whose bytes were uploaded as another archive
 * stands where that one does: upload never sends the same bytes again (W_UPLOAD_DUPLICATE). `sha256` is
 * its report's, when its report is there.
 */
export function standingOf(journal: UploadJournal, archive: string, sha256: string | undefined): Standing {
  const own = journal.archives.get(archive);
  const twin = sha256 !== undefined && !own?.uploaded && !own?.attention ? journal.uploadedSha.get(sha256) : undefined;
  return twin && twin !== archive ? { state: journal.archives.get(twin), sameAs: twin } : { state: own };
}

/** Uploaded, and the platform has not said since that its batch failed or is missing (`status --refresh`). */
export function uploadAccepted(state: UploadState | undefined): boolean {
  return Boolean(state?.uploaded) && !(state?.status && statusUnconfirmed(state.status.status));
}
