/**
 * Fault injection for the crash tests: WOPACK_FAULT=<point> kills the process right there, as a power
 * cut would. Points: before-publish, after-publish, after-ledger, heic-native, pictures-compacting (between the
 * two renames of the picture index's compaction), copy-partial (a copy to
 * another disk written under its temporary name, not renamed yet: a file, or a folder's first file),
 * session-kept (an upload session's URL kept, its batch not journaled yet), batch-journaled (before the
 * first chunk), session-ended (uploaded, abandoned or attention journaled, the session's URL not removed yet).
 */
export function faultPoint(point: string): void {
  if (process.env.WOPACK_FAULT === point) process.kill(process.pid, "SIGKILL");
}
