// Exit codes, the options every command shares, and how an error is told: what main() needs before any
// command's code is loaded.
import { WopackError } from "../core/errors.js";
import { terminalText } from "../core/text.js";
import { createLog, type LogFormat, type LogLevel } from "./log.js";

export const EXIT = { ok: 0, refused: 1, usage: 2, io: 3, locked: 4, credentials: 5, interrupted: 130, bug: 70 } as const;

export interface Common {
  config?: string;
  json: boolean;
  dryRun: boolean;
  concurrency?: number;
  quiet: boolean;
  verbose: boolean;
  printConfig?: boolean;
  logFormat?: LogFormat;
  logLevel?: LogLevel;
}

/** The commands that commit archives: only their I/O failure is told what it left committed (or that nothing was). */
const COMMITTING = new Set(["pack", "watch"]);

export function report(
  err: unknown,
  argv: { json?: boolean; verbose?: boolean; logFormat?: LogFormat | undefined; _?: readonly (string | number)[] },
): number {
  if (err instanceof WopackError) {
    const { committed } = err;
    if (argv.json)
      process.stdout.write(
        JSON.stringify({ error: { code: err.code, message: err.message, hint: err.hint }, committed }, null, 2) + "\n",
      );
    // a JSON log (--log-format json, the default with --json) stays JSON to its last line: the error is one
    // line of schema/log-line.schema.json (what was committed before it is in the --json answer)
    if (argv.logFormat === "json" || (argv.json && argv.logFormat !== "text")) {
      const log = createLog({ format: "json", level: "error", out: process.stderr, errors: process.stderr });
      log.event({ event: "error", code: err.code, message: err.message, hint: err.hint, committed });
      return EXIT[err.kind];
    }
    // (each listed line escaped on its own: a name's line break never starts a line of its own)
    const listed = err.lines.map((l) => `\n  ${terminalText(l)}`).join("");
    process.stderr.write(`error ${err.code}: ${terminalText(err.summary)}${listed}\n  hint: ${terminalText(err.hint)}\n`);
    if (committed.length) {
      process.stderr.write(
        `committed before the failure, and kept (the next run does not pack these again):\n${committed
          .map(
            (c) =>
              `  ${terminalText(c.path)}  (${c.workOrders.length} work order${c.workOrders.length === 1 ? "" : "s"}: ${c.workOrders.join(", ")})\n`,
          )
          .join("")}nothing else was committed\n`,
      );
    } else if (err.kind === "io" && COMMITTING.has(String(argv._?.[0]))) process.stderr.write("nothing was committed\n");
    if (argv.verbose && err.cause) process.stderr.write(`${(err.cause as Error).stack ?? String(err.cause)}\n`);
    return EXIT[err.kind];
  }
  process.stderr.write(
    `wopack hit an internal error (a bug; please report it with this output):\n${(err as Error)?.stack ?? String(err)}\n`,
  );
  return EXIT.bug;
}
