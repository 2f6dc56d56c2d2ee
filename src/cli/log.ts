// One structured log for every command: --log-format text|json, --log-level. JSON lines carry time, level,
// schemaVersion, pid, version, the event and its fields, then the message (schema/log-line.schema.json); text
// lines carry the time. A progress bar on the same terminal is cleared before each line, so the two never
// share a line. (It was pino, which took ~10 ms of every command's start-up to load for what is written here.)
import { terminalText } from "../core/text.js";
import type { Logger, UploadProgress, WatchEvent } from "../core/types.js";
import { VERSION } from "../core/version.js";
import { SCHEMA_VERSION } from "./output.js";

export type LogFormat = "text" | "json";
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface CliLog {
  /** what the pipeline is given (core/types.ts Logger) */
  logger: Logger;
  /** a watch or pack event: info, warning at warn, error at error */
  event(e: WatchEvent): void;
  /** an upload's progress, as an info line (`event: "progress"`) */
  progress(p: UploadProgress): void;
}

export interface LogOptions {
  format: LogFormat;
  level: LogLevel;
  /** where lines go; errors go to `errors` instead (watch: events on stdout, errors on stderr) */
  out: NodeJS.WritableStream;
  errors: NodeJS.WritableStream;
  /** called before each line is written (clears a progress bar) */
  beforeWrite?: () => void;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** (a field's BigInt, which JSON.stringify refuses, is written as its digits) */
const bigintAsText = (_: string, value: unknown) => (typeof value === "bigint" ? value.toString() : value);

export function createLog(o: LogOptions): CliLog {
  const base = { schemaVersion: SCHEMA_VERSION, pid: process.pid, version: VERSION };
  const write = (level: LogLevel, fields: Record<string, unknown>, message: string) => {
    if (LEVELS[level] < LEVELS[o.level]) return;
    const time = new Date().toISOString();
    o.beforeWrite?.();
    (level === "error" ? o.errors : o.out).write(
      o.format === "json"
        ? `${JSON.stringify({ level, time, ...base, ...fields, message }, bigintAsText)}\n`
        : `${time} ${level === "info" ? "" : `${level}: `}${terminalText(message)}\n`,
    );
  };
  return {
    logger: {
      info: (m) => write("info", {}, m),
      warn: (m) => write("warn", {}, m),
      debug: (m) => write("debug", {}, m),
    },
    event({ event, message, ...fields }) {
      const level = event === "error" ? "error" : event === "warning" || event === "refused" ? "warn" : "info";
      write(level, { event, ...fields }, message);
    },
    progress({ archive, sent, total }) {
      const pct = total ? Math.floor((sent / total) * 100) : 100;
      write("info", { event: "progress", archive, sent, total }, `${archive}: ${pct}% confirmed (${sent} of ${total} bytes)`);
    },
  };
}
