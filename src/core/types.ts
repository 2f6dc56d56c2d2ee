// The data that crosses stages: results and reports, the logger and progress they are given. Shapes
// only, so that any stage may use them without depending on the stage that fills them in.
import type { Problem } from "./errors.js";

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, debug() {} };

export interface Progress {
  photosDone: number;
  photosTotal: number;
  bytesDone: number;
  /** the staging-relative path of the photo that finished last */
  lastPhoto?: string;
}

export type PhotoHandling = "copied" | "trimmed" | "converted";

/** What put a photo in capture order (§5): its EXIF DateTimeOriginal, its file time, or its name (-N, or nothing else). */
export type CapturedFrom = "exif" | "file" | "name";

/** How many photos were copied, trimmed and converted (the report, the review page and the summary say it alike). */
export interface PhotoCounts {
  copied: number;
  trimmed: number;
  converted: number;
}

export interface PackedEntry {
  entry: string;
  source: string;
  bytes: number;
  /** the source's format (jpeg, png, heic, ...) */
  format?: string;
  /**
   * what was done to the photo: copied byte for byte, trimmed (copied without the data after the image's
   * end), or converted (decoded and encoded again); absent in reports of earlier versions
   */
  handling?: PhotoHandling;
  /** what was done, in words; absent when the photo was copied byte for byte */
  conversion?: string;
  /** the packed picture's size in pixels (as stored), where it was decoded */
  width?: number;
  height?: number;
  /** its EXIF orientation (1-8), when it has one */
  orientation?: number;
  /** EXIF DateTimeOriginal, when it has one */
  captured?: string;
  /** what put it in capture order; absent in reports of earlier versions */
  capturedFrom?: CapturedFrom;
  /** the file time (ISO, UTC) that ordered it, when capturedFrom is "file" */
  fileTime?: string;
  /** what the photo checks (SPEC §15) found; absent when they found nothing or did not run */
  checks?: PhotoFinding[];
}

/** One photo check's finding on a packed photo (also one of the run's warnings, with the same code). */
export interface PhotoFinding {
  /** W_PHOTO_REUSED, W_PHOTO_DUPLICATE, W_PHOTO_BLURRY, W_PHOTO_DARK, W_PHOTO_OVEREXPOSED, W_PHOTO_OLD, W_PHOTO_FAR */
  code: string;
  message: string;
  /**
   * reuse and duplicate: the earlier picture (for a duplicate, an entry of the same work order); its
   * archive is "" only where that archive is not committed (a dry run)
   */
  earlier?: { workOrder: string; entry: string; archive: string; distance: number; exact: boolean };
}

export interface PackedWorkOrder {
  id: string;
  fingerprint: string;
  archive: string;
  entries: PackedEntry[];
  warnings: Problem[];
  moves?: MoveItem[];
}

export interface ArchiveReport {
  archive: string;
  path: string;
  sha256: string;
  bytes: number;
  createdAt: string;
  workOrders: PackedWorkOrder[];
  /** the archive's photos by what was done to them */
  photos?: PhotoCounts;
  refused: { id: string; problems: Problem[] }[];
  warnings: Problem[];
  /** from the archive's first work order written to its commit */
  durationMs?: number;
  /**
   * the photo checks (SPEC §15) on its work orders' photos: per check that ran, how many photos passed it
   * and how many it warned of (refusals are in `refused`, as E_PHOTO_* problems)
   */
  photoChecks?: Record<string, { passed: number; warned: number }>;
  /** the review page written beside it (not in the report file: the page comes after the commit) */
  reviewPage?: string;
}

export interface PackResult {
  dryRun: boolean;
  archives: ArchiveReport[];
  packed: PackedWorkOrder[];
  refused: RefusedReport[];
  alreadyPacked: { id: string }[];
  pending: { id: string; reason: string }[];
  /** the run's photos by what was done to them (the packed work orders') */
  photos?: PhotoCounts;
  /**
   * every warning of the run: its own (a root file matching no rule, a move left incomplete, ...) and
   * each packed work order's, which are also listed under `packed[].warnings`
   */
  warnings: Problem[];
  /** committed work orders whose sources could not be moved to --move-to (the run exits 1; retried next run) */
  moveFailures: Problem[];
  recovery?: Recovery;
  /** the --on-archive runs; a failed one makes the run exit 1 (the archive is kept) */
  hooks: HookRun[];
  /** with --upload: each archive's upload, the backlog of earlier runs first */
  uploads?: UploadOutcome[];
  /** in a dry run: what would be packed, with the planned names */
  planned?: { id: string; photos: { source: string; name: string }[] }[];
}

/** Bytes of an archive the platform confirmed so far. */
export interface UploadProgress {
  archive: string;
  sent: number;
  total: number;
}

/** What became of one archive's upload (SPEC §12). */
export interface UploadOutcome {
  archive: string;
  /**
   * "already": uploaded by an earlier run (or the same bytes under another name); "attention": the platform
   * keeps a batch with part of it and would not delete it (not uploaded, not sent again unless named);
   * "cleared": `--attention-cleared` while another run (a watch) holds --out: journaled, that run sends it
   */
  result: "uploaded" | "already" | "failed" | "attention" | "cleared";
  batchId?: string;
  problem?: Problem;
  /** a failure the platform asked to wait out for longer than the sender waits (its Retry-After), in ms */
  retryAfterMs?: number;
  /**
   * uploaded, but not (wholly) moved to this folder, --uploaded-to (why: in `warnings`); the archive stays in
   * --out and the next upload run moves it: the run's work is not all done (exit 1)
   */
  notMovedTo?: string;
  warnings: Problem[];
}

export interface RefusedReport {
  id: string;
  folder?: string;
  /** the staging-relative files of the work order (watch mode moves them to --failed-to) */
  sources: string[];
  problems: Problem[];
}

export interface HookRun {
  archive: string;
  command: string[];
  ok: boolean;
  exitCode: number | null;
  /** the last lines the hook printed (stdout and stderr), for the report */
  output: string;
  /** why it was stopped, when it was: it ran past --on-archive-timeout, or wopack was shutting down */
  killed?: "timeout" | "shutdown";
}

/** A file as it was when packed (path relative to the staging folder, or to the moved folder). */
export interface FileStamp {
  rel: string;
  size: number;
  mtimeMs: number;
}

export interface MoveItem {
  from: string;
  to: string;
  /**
   * What was packed. For a folder: its files (paths inside it); for a single file: one stamp with rel "".
   * Only these move, and only while unchanged. Without it the item moves whole (a refused work order).
   */
  packed?: FileStamp[];
  /** a folder's other files when it was packed (hidden, junk, the ready marker): they go along with it */
  alongside?: FileStamp[];
}

/** The staging paths a move left behind: added or changed after the work order was packed. */
export type LeftBehind = string[];

export interface Recovery {
  /** archives found committed but missing from the ledger (crash between rename and ledger) */
  adopted: string[];
  /** reports whose archive never got its final name (crash before rename): removed */
  discarded: string[];
  /** work orders whose interrupted move to --move-to was finished */
  movesFinished: string[];
  /** what recovery could not repair and left as it was (it is tried again next run); never blocks new work */
  skipped: Problem[];
  /** files left in staging by a finished move: added or changed after their work order was packed */
  leftBehind: string[];
}

/** What `watch` reports as it goes: one line of its log, one server-sent event of its status page. */
export interface WatchEvent {
  event: "started" | "ready" | "packed" | "uploaded" | "planned" | "refused" | "warning" | "error" | "stopped";
  message: string;
  [field: string]: unknown;
}

/**
 * A running `watch`, as its health file, status page and /healthz show it. Empty values are null; the
 * lists hold the latest entries only (STATUS_HISTORY).
 */
export interface WatchStatus {
  pid: number;
  version: string;
  staging: string;
  out: string;
  /**
   * `settling`: a work order's files changed less than --settle ago; `waiting`: work orders wait for their
   * ready marker or for the --batch-window to close; `packing`: a pass is writing an archive; `uploading`:
   * an upload is in flight and nothing is packing; `idle`: none of these; `error`: passes fail.
   */
  status: "starting" | "idle" | "settling" | "waiting" | "packing" | "uploading" | "error" | "stopping" | "stopped";
  startedAt: string;
  lastScanAt: string | null;
  /** when the next scan is due at the latest (a file event brings it forward); null before the first */
  nextScanAt: string | null;
  /** where refused work orders go (--failed-to), each with <id>.errors.json beside it; null in a dry run */
  failedTo: string | null;
  /** the latest distinct staging warnings of this session, newest first */
  warnings: { at: string; code: string; message: string; hint: string; path?: string }[];
  lastPackAt: string | null;
  /** the latest failure of a pass, a move or an upload; a pass that succeeds clears a pass's */
  lastError: { at: string; code: string; message: string } | null;
  /** work orders seen but not ready yet; readyAt: when settling ends if nothing changes */
  waiting: { id: string; reason: string; readyAt: string | null }[];
  /** the pass in progress: its work orders and how far its photos are */
  inProgress: { workOrders: string[]; photosDone: number; photosTotal: number; lastPhoto: string | null } | null;
  recentArchives: {
    archive: string;
    at: string;
    workOrders: string[];
    photos: number;
    bytes: number;
    sha256: string;
    /** the review page's file name in --out, when it was written */
    review: string | null;
  }[];
  /** errors: the <id>.errors.json written beside the folder moved to --failed-to (null: not moved) */
  recentRefused: { id: string; at: string; problems: Problem[]; errors: string | null }[];
  /** with --upload: archives sent, failed and waiting in this session */
  uploads: UploadsStatus | null;
  /** watch.prune in the config: what the last scheduled prune deleted and kept, and when the next is due; null when off */
  prune: {
    olderThanMs: number;
    everyMs: number;
    lastAt: string | null;
    nextAt: string | null;
    last: { pruned: number; bytes: number; kept: number; failed: number } | null;
    /** the last prune (at lastAt) failed as a whole, and why; then `last` is null (its counts would be an older run's) */
    lastError: { code: string; message: string } | null;
  } | null;
  /** totals of this session */
  packed: number;
  refused: number;
  archives: number;
  /**
   * the photo checks' findings (SPEC §15) in this session: photos packed with a W_PHOTO_* warning, work
   * orders refused by an E_PHOTO_* problem, and each code's count (a photo with two findings counts twice)
   */
  photoChecks: PhotoChecksCounts & {
    /** the same counts for the last pass (reset as each pass starts) */
    lastPass: PhotoChecksCounts;
    /** the newest findings, newest first (archive null: its work order was refused) */
    recent: { at: string; code: string; message: string; workOrder: string; entry?: string; archive: string | null }[];
  };
}

/** Photos packed with a W_PHOTO_* warning, work orders refused by an E_PHOTO_* problem, each code's count. */
export interface PhotoChecksCounts {
  warned: number;
  refused: number;
  byCode: Record<string, number>;
}

/** watch --upload's part of the status (WatchStatus.uploads). */
export interface UploadsStatus {
  /** archives uploaded; failed tries (an archive tried three times counts three); archives queued */
  uploaded: number;
  failed: number;
  queued: number;
  /** the archive being sent: since when, and when the platform last confirmed bytes of it */
  sending: {
    archive: string;
    since: string;
    lastProgressAt: string;
    /** a request failed (the platform out, a 5xx, a 429) and is tried again at `nextTryAt`; null once answered */
    waiting?: { reason: string; nextTryAt: string } | null;
  } | null;
  /**
   * archives whose upload failed, each tried again at nextAttemptAt; `platformAsked`: that time is the pause the
   * platform asked for (Retry-After, capped at the backoff's maximum), longer than watch's own backoff
   */
  retrying: {
    archive: string;
    attempts: number;
    nextAttemptAt: string;
    platformAsked: boolean;
    lastError: { code: string; message: string };
  }[];
  /** sending stopped for good in this session (refused credentials, the journal unwritable) */
  stopped: { at: string; code: string; message: string } | null;
  /**
   * the platform asked the client to wait (a 429's or 503's Retry-After, capped at the backoff's maximum): no
   * archive of the queue is sent before this time; null when nothing waits for it
   */
  pausedUntil?: string | null;
  /**
   * archives that need a person (E_UPLOAD_ATTENTION): the platform keeps `batchId`, which may hold part of
   * the archive, and would not delete it; not sent until `wopack upload <out> <archive> --attention-cleared`
   */
  attention: { archive: string; batchId: string; reason: string; at: string }[];
  /**
   * archives uploaded and waiting in --out because --uploaded-to refused to move them there (`to`: that folder
   * missing, an empty folder that is not the one earlier archives went into, a link there), since `at`; the
   * watch tries the move again while it runs
   */
  notMoved?: { archive: string; to: string; code?: string; reason: string; at: string }[];
}
