// How prepared work orders are split into archives (§8, --max-work-orders, --max-archive-size, and the entries
// an archive may hold). Pure: the writer asks before adding each work order; a work order never spans two archives.
import { type Problem, problem } from "../core/errors.js";
import { MAX_ARCHIVE_ENTRIES } from "../spec/entryCount.js";

export interface ArchiveLimits {
  maxWorkOrders?: number | undefined;
  maxArchiveSize?: number | undefined;
  /** entries an archive may hold: MAX_ARCHIVE_ENTRIES, what validate and review accept, unless a test says less */
  maxEntries?: number | undefined;
}

/** What the archive being written holds so far, or the next work order would add. */
export interface OpenArchive {
  workOrders: number;
  bytes: number;
  entries: number;
}

/**
 * Whether the next work order (its `bytes`, headers included, and its entries) must go into a new archive: the
 * open one would pass a limit. An empty or absent archive always takes it, so one work order larger than the
 * size limit gets an archive of its own.
 */
export function startsNewArchive(
  open: OpenArchive | undefined,
  next: { bytes: number; entries: number },
  limits: ArchiveLimits,
): boolean {
  if (!open || open.workOrders === 0) return false;
  if (limits.maxWorkOrders !== undefined && open.workOrders >= limits.maxWorkOrders) return true;
  if (open.entries + next.entries > (limits.maxEntries ?? MAX_ARCHIVE_ENTRIES)) return true;
  return limits.maxArchiveSize !== undefined && open.bytes + next.bytes > limits.maxArchiveSize;
}

/** The warning for a work order that alone is larger than --max-archive-size. */
export function overArchiveSize(id: string, bytes: number, limits: ArchiveLimits): Problem | undefined {
  if (limits.maxArchiveSize === undefined || bytes <= limits.maxArchiveSize) return undefined;
  return problem(
    "W_WORK_ORDER_OVER_ARCHIVE_SIZE",
    `work order ${id} (${bytes} bytes) is larger than --max-archive-size ${limits.maxArchiveSize}; it gets an archive of its own`,
    "a work order never spans two archives; raise the limit if the upload path allows",
  );
}
