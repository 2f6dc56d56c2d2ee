// What the commands print with --json, as types: `npm run build` turns them into the JSON Schemas shipped
// in schema/ (scripts/build-output-schemas.mjs); test/e2e/output-schemas.test.ts validates real output against
// them. schemaVersion changes when a field changes meaning or goes away; added fields do not change it.
import type { PackResult, WatchEvent } from "../core/types.js";
import type { ValidationReport } from "../validate/archive.js";

export const SCHEMA_VERSION = 1;

/** `wopack pack --json`, on stdout. */
export interface PackOutput extends PackResult {
  schemaVersion: 1;
}

/** `wopack validate --json`, on stdout. */
export interface ValidateOutput extends ValidationReport {
  schemaVersion: 1;
}

/**
 * One JSON log line (`--log-format json`, the default with `--json`; `watch --json` on stdout, every other
 * command on stderr): a watch or pack event, an upload's progress, or a plain message.
 */
export interface LogLine extends Omit<Partial<WatchEvent>, "event"> {
  /** what happened; absent on a plain message. `progress`: bytes of an archive the platform confirmed (upload) */
  event?: WatchEvent["event"] | "progress";
  schemaVersion: 1;
  level: "debug" | "info" | "warn" | "error";
  /** ISO 8601, UTC */
  time: string;
  pid: number;
  /** wopack's version */
  version: string;
  message: string;
  /** progress: the archive's name */
  archive?: string;
  /** progress: bytes the platform has confirmed so far */
  sent?: number;
  /** progress: the archive's size in bytes */
  total?: number;
}
