// How prepared work orders are split into archives (§8, --max-work-orders, --max-archive-size). Pure: the
// writer asks before adding each work order; a work order never spans two archives.
import { type Problem, problem } from "../core/errors.js";

export interface ArchiveLimits {
  maxWorkOrders?: number | undefined;
  maxArchiveSize?: number | undefined;
}

/** What the archive being written holds so far. */
export interface OpenArchive {
  workOrders: number;
  bytes: number;
}

/**
 * Whether the next work order (`bytes`, headers included) must go into a new archive: the open one would
 * pass a limit. An empty or absent archive always takes it, so one work order larger than the size limit
 * gets an archive of its own.
 */
export function startsNewArchive(open: OpenArchive | undefined, bytes: number, limits: ArchiveLimits): boolean {
  if (!open || open.workOrders === 0) return false;
  if (limits.maxWorkOrders !== undefined && open.workOrders >= limits.maxWorkOrders) return true;
  return limits.maxArchiveSize !== undefined && open.bytes + bytes > limits.maxArchiveSize;
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
