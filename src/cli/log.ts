// One structured log for every command (pino): --log-format text|json, --log-level. JSON lines carry time,
// level, pid, version, the event and its fields; text lines carry the time. A progress bar on the same
// terminal is cleared before each line, so the two never share a line.
import pino from "pino";
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

export function createLog(o: LogOptions): CliLog {
  const sink = (stream: NodeJS.WritableStream) => ({
    write(line: string) {
      o.beforeWrite?.();
      stream.write(o.format === "json" ? line : textLine(line));
    },
  });
  const log = pino(
    {
      level: o.level,
      base: { schemaVersion: SCHEMA_VERSION, pid: process.pid, version: VERSION },
      messageKey: "message",
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.multistream(
      [
        { level: "debug", stream: sink(o.out) },
        { level: "error", stream: sink(o.errors) },
      ],
      { dedupe: true },
    ),
  );
  return {
    logger: {
      info: (m) => log.info(m),
      warn: (m) => log.warn(m),
      debug: (m) => log.debug(m),
    },
    event({ event, message, ...fields }) {
      const level = event === "error" ? "error" : event === "warning" || event === "refused" ? "warn" : "info";
      log[level]({ event, ...fields }, message);
    },
    progress({ archive, sent, total }) {
      const pct = total ? Math.floor((sent / total) * 100) : 100;
      log.info({ event: "progress", archive, sent, total }, `${archive}: ${pct}% confirmed (${sent} of ${total} bytes)`);
    },
  };
}

/** A JSON line as text: "<time> [warn: |error: ]<message>", one line whatever the message holds. */
function textLine(line: string): string {
  const r = JSON.parse(line) as { time: string; level: string; message?: string };
  return `${r.time} ${r.level === "info" ? "" : `${r.level}: `}${terminalText(r.message ?? "")}\n`;
}
