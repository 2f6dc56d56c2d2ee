import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { splitCommand } from "../commit/hook.js";
import { initConfig } from "../config/init.js";
import { loadConfig } from "../config/load.js";
import { type Config, type Flags, flagsSchema } from "../config/schema.js";
import { parseDuration } from "../config/units.js";
import { heicDecoderName } from "../convert/heicDecoder.js";
import { interruptedError, usageError, WopackError } from "../core/errors.js";
import type { HookRun } from "../core/types.js";
import { VERSION } from "../core/version.js";
import { rerunHooks } from "../run/hooks.js";
import { status } from "../run/status.js";
import { upload } from "../run/upload.js";
import { parseListen } from "../serve/server.js";
import { formatHooks, formatPackResult, formatReview, formatStatus, formatUploads, formatValidation } from "./format.js";
import { type CliLog, createLog, type LogFormat, type LogLevel, type LogOptions } from "./log.js";
import { progressBar, uploadBar } from "./progress.js";

const EXIT = { ok: 0, refused: 1, usage: 2, io: 3, locked: 4, credentials: 5, interrupted: 130, bug: 70 } as const;

interface Common {
  config?: string;
  json: boolean;
  dryRun: boolean;
  concurrency?: number;
  quiet: boolean;
  verbose: boolean;
  logFormat?: LogFormat;
  logLevel?: LogLevel;
}

/**
 * The command's log: --log-format (default json with --json, else text) and --log-level (default info;
 * --quiet warn, --verbose debug). Lines go to stderr unless told otherwise (watch: events on stdout).
 */
function logFor(argv: Common, to: Partial<Pick<LogOptions, "out" | "errors" | "beforeWrite">> = {}): CliLog {
  return createLog({
    format: argv.logFormat ?? (argv.json ? "json" : "text"),
    level: argv.logLevel ?? (argv.verbose ? "debug" : argv.quiet ? "warn" : "info"),
    out: to.out ?? process.stderr,
    errors: to.errors ?? process.stderr,
    ...(to.beforeWrite ? { beforeWrite: to.beforeWrite } : {}),
  });
}

/** The config file --config names, or the one found (./, then the staging folder); --verbose says which. */
async function configFor(argv: Common, staging?: string): Promise<Config> {
  const { config, path } = await loadConfig({
    ...(argv.config ? { configPath: argv.config } : {}),
    ...(staging ? { staging } : {}),
  });
  logFor(argv).logger.debug(path ? `config: ${path}` : "config: none found, the defaults apply");
  return config;
}

function usage(flag: string, value: unknown, expected: string): never {
  throw usageError(`${flag} ${String(value)}: ${expected}`);
}

/** The number, size and duration flags, checked like the config keys they override: every problem at once. */
function checkedFlags(argv: Record<string, unknown>): Flags {
  const given = Object.fromEntries(Object.keys(flagsSchema.shape).flatMap((k) => (argv[k] === undefined ? [] : [[k, argv[k]]])));
  const parsed = flagsSchema.safeParse(given);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map(
    (i) => `--${String(i.path[0])} ${JSON.stringify(given[String(i.path[0])])}: ${i.message}`,
  );
  throw new WopackError(
    "usage",
    "E_FLAG_INVALID",
    `invalid value${lines.length > 1 ? "s" : ""}; nothing was done:\n  ${lines.join("\n  ")}`,
    "fix every flag above (sizes like 5MB or 2GiB, durations like 30s or 10m, whole numbers from 1)",
  );
}

function onArchiveFlag(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const command = splitCommand(String(value));
  return command.length
    ? command
    : usage("--on-archive", value, 'give a command to run, e.g. --on-archive "./upload.sh --bucket x"');
}

/** What PACKING_FLAGS say, over the config: the options pack and watch pass to the pipeline alike. */
function packingOptions(config: Config, flags: Flags, argv: Common & Record<string, unknown>) {
  const images = { ...config.images };
  if (flags["max-image-size"] !== undefined) images.maxImageSize = flags["max-image-size"];
  if (flags["max-dimension"] !== undefined) images.maxDimension = flags["max-dimension"];
  if (flags["max-pixels"] !== undefined) images.maxPixels = flags["max-pixels"];
  if (argv.stripGps) images.stripGps = true;
  return {
    config: { ...config, images },
    maxArchiveSize: flags["max-archive-size"] ?? config.archive.maxSize,
    maxWorkOrders: flags["max-work-orders"] ?? config.archive.maxWorkOrders,
    metadataFile: argv.metadata as string | undefined,
    allowIncomplete: Boolean(argv.allowIncomplete),
    onArchive: onArchiveFlag(argv.onArchive),
    onArchiveTimeoutMs: flags["on-archive-timeout"],
    onArchiveRetries: flags["on-archive-retries"],
    upload: argv.upload
      ? {
          uploadedTo: argv.uploadedTo as string | undefined,
          rateBytesPerSec: flags["upload-rate"],
          retries: flags["upload-retries"],
        }
      : undefined,
    review: argv.review !== false,
    ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
  };
}

async function runPack(argv: Common & Record<string, unknown>): Promise<number> {
  const staging = String(argv.staging);
  const flags = checkedFlags(argv);
  const config = await configFor(argv, staging);
  const settle = flags.settle ?? config.watch.settle ?? 0;
  const showProgress = !argv.json && !argv.quiet && process.stdout.isTTY && process.stderr.isTTY;
  const bar = showProgress ? progressBar(process.stderr) : undefined;
  const log = logFor(argv, bar ? { beforeWrite: bar.clear } : {});
  const { logger } = log;

  const { controller, dispose } = signalController(() =>
    logger.warn("interrupted: discarding the archive in progress (press Ctrl-C again to quit at once)"),
  );
  try {
    // (the image stack is loaded only by the commands that need it: upload and status start quicker)
    const { pack } = await import("../run/pack.js");
    const result = await pack({
      staging,
      out: String(argv.out),
      dryRun: argv.dryRun,
      settleMs: settle,
      readyMarker: flags["ready-marker"] ?? config.watch.readyMarker,
      repack: Boolean(argv.repack),
      moveTo: argv.moveTo as string | undefined,
      ...packingOptions(config, flags, argv),
      signal: controller.signal,
      logger,
      onEvent: log.event,
      ...(bar ? { onProgress: bar.update } : {}),
    });
    bar?.done();
    const attention =
      result.refused.length ||
      result.moveFailures.length ||
      result.hooks.some((h) => !h.ok) ||
      result.uploads?.some((u) => u.result === "failed");
    if (argv.json) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
    else if (!argv.quiet || attention) process.stdout.write(formatPackResult(result, argv.verbose) + "\n");
    return attention ? EXIT.refused : EXIT.ok;
  } finally {
    bar?.done();
    dispose();
  }
}

async function runWatch(argv: Common & Record<string, unknown>): Promise<number> {
  const staging = String(argv.staging);
  const flags = checkedFlags(argv);
  const config = await configFor(argv, staging);
  const readyMarker = flags["ready-marker"] ?? config.watch.readyMarker;
  // With a ready marker the marker says "done": no settle time unless asked for.
  const settleMs = flags.settle ?? config.watch.settle ?? (readyMarker ? 0 : 30_000);
  const batchWindowMs = flags["batch-window"] ?? config.watch.batchWindow ?? 0;
  const configPoll = config.watch.poll === true ? 1000 : config.watch.poll === false ? undefined : config.watch.poll;
  const pollMs = flags.poll === undefined ? configPoll : flags.poll === "" ? 1000 : flags.poll;
  // watch's events are its log: on stdout, errors on stderr
  const log = logFor(argv, { out: process.stdout });
  const write = log.event;
  const { controller, dispose } = signalController(
    (signal) => write({ event: "stopped", message: `${signal}: stopping (an archive in progress is rolled back)` }),
    interruptedError("interrupted", "start watch again to go on"),
  );
  try {
    const { watch } = await import("../run/watch.js");
    const summary = await watch({
      staging,
      out: String(argv.out),
      settleMs,
      batchWindowMs,
      pollMs,
      readyMarker,
      moveTo: argv.moveTo as string | undefined,
      failedTo: argv.failedTo as string | undefined,
      healthFile: argv.healthFile as string | undefined,
      http: httpFlag(argv.http),
      dryRun: argv.dryRun,
      ...packingOptions(config, flags, argv),
      signal: controller.signal,
      logger: log.logger,
      onEvent: write,
    });
    return summary.interrupted ? EXIT.interrupted : EXIT.ok;
  } finally {
    dispose();
  }
}

/** --http [host:]port: loopback unless an address is given. */
function httpFlag(value: unknown): { host: string; port: number } | undefined {
  if (value === undefined) return undefined;
  return (
    parseListen(String(value)) ??
    usage("--http", value, "a port (9464, on loopback) or an address and port (127.0.0.1:9464, [::1]:9464, 0.0.0.0:9464)")
  );
}

async function runValidate(argv: Common & Record<string, unknown>): Promise<number> {
  const target = String(argv.target);
  const flags = checkedFlags(argv);
  const config = await configFor(argv, target);
  const { validate } = await import("../run/validate.js");
  const result = await validate(target, {
    config,
    metadataFile: argv.metadata as string | undefined,
    allowIncomplete: Boolean(argv.allowIncomplete),
    ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
  });
  process.stdout.write((argv.json ? JSON.stringify(result, null, 2) : formatValidation(result)) + "\n");
  return result.problems.length ? EXIT.refused : EXIT.ok;
}

/**
 * SIGINT/SIGTERM for a running command: the first aborts it (`onFirst` says so, `reason` is what it stops
 * with), a second quits at once (exit 130).
 */
function signalController(
  onFirst: (signal: NodeJS.Signals) => void,
  reason = interruptedError(),
): { controller: AbortController; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    onFirst(signal);
    controller.abort(reason);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    controller,
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

async function runUpload(argv: Common & Record<string, unknown>): Promise<number> {
  const out = String(argv.out);
  const flags = checkedFlags(argv);
  const config = await configFor(argv);
  const bar = !argv.json && !argv.quiet && process.stderr.isTTY ? uploadBar(process.stderr) : undefined;
  const { logger } = logFor(argv, bar ? { beforeWrite: bar.clear } : {});
  const { controller, dispose } = signalController(() => logger.warn("interrupted: the upload stops; the next run resumes it"));
  try {
    let hooks: HookRun[] = [];
    if (argv.hooks) {
      const command =
        onArchiveFlag(argv.onArchive) ?? usage("--hooks", "", 'give the command to run again: --on-archive "<command>"');
      hooks = await rerunHooks({
        out,
        command,
        onArchiveTimeoutMs: flags["on-archive-timeout"],
        onArchiveRetries: flags["on-archive-retries"],
        logger,
        signal: controller.signal,
      });
      // only hooks to run again, and no platform configured: nothing to upload
      if (!process.env.WOPACK_API_URL && !config.upload.url) {
        process.stdout.write((argv.json ? JSON.stringify({ hooks }, null, 2) : formatHooks(hooks)) + "\n");
        return hooks.some((h) => !h.ok) ? EXIT.refused : EXIT.ok;
      }
    }
    const outcomes = await upload({
      out,
      config,
      archives: (argv.archives as string[] | undefined) ?? [],
      uploadedTo: argv.uploadedTo as string | undefined,
      rateBytesPerSec: flags["upload-rate"],
      retries: flags["upload-retries"],
      logger,
      signal: controller.signal,
      onProgress: (p) => {
        bar?.update(p);
        if (argv.json) process.stderr.write(JSON.stringify({ event: "progress", ...p }) + "\n");
      },
    });
    bar?.done();
    const text = argv.hooks ? `${formatHooks(hooks)}\n${formatUploads(outcomes)}` : formatUploads(outcomes);
    process.stdout.write(
      (argv.json ? JSON.stringify({ uploads: outcomes, ...(argv.hooks ? { hooks } : {}) }, null, 2) : text) + "\n",
    );
    return outcomes.some((o) => o.result === "failed") || hooks.some((h) => !h.ok) ? EXIT.refused : EXIT.ok;
  } finally {
    bar?.done();
    dispose();
  }
}

async function runStatus(argv: Common & Record<string, unknown>): Promise<number> {
  const maxAge = argv.maxAge === undefined ? undefined : parseDuration(String(argv.maxAge));
  if (argv.maxAge !== undefined && maxAge === undefined) usage("--max-age", argv.maxAge, "a duration, e.g. 2h or 30m");
  const config = await configFor(argv);
  const lines = await status(String(argv.out), { refresh: argv.refresh ? { config } : undefined });
  const stuck =
    maxAge === undefined ? [] : lines.filter((l) => l.state !== "uploaded" && Date.now() - Date.parse(l.since) > maxAge);
  process.stdout.write(
    (argv.json ? JSON.stringify({ archives: lines, stuck: stuck.map((l) => l.archive) }, null, 2) : formatStatus(lines, stuck)) +
      "\n",
  );
  return lines.some((l) => l.state === "failed") || stuck.length ? EXIT.refused : EXIT.ok;
}

async function runReview(argv: Common & Record<string, unknown>): Promise<number> {
  const config = await configFor(argv);
  const { review } = await import("../run/review.js");
  const result = await review(argv.targets as string[], config);
  process.stdout.write((argv.json ? JSON.stringify(result, null, 2) : formatReview(result)) + "\n");
  return result.problems.length ? EXIT.refused : EXIT.ok;
}

async function runInit(argv: Common & Record<string, unknown>): Promise<number> {
  const { file, schema, content } = await initConfig(String(argv.dir ?? "."), {
    force: Boolean(argv.force),
    dryRun: argv.dryRun,
  });
  if (argv.json) process.stdout.write(JSON.stringify({ config: file, schema, dryRun: argv.dryRun }, null, 2) + "\n");
  else if (argv.dryRun) process.stdout.write(`dry run: would write ${schema} and ${file}:\n${content}`);
  else if (!argv.quiet)
    process.stdout.write(
      `wrote ${file} (it changes nothing until edited)\nand its JSON Schema, ${schema}\nedit it, then run: wopack pack <staging> --out <dir>\n`,
    );
  return EXIT.ok;
}

function report(err: unknown, argv: { json?: boolean; verbose?: boolean }): number {
  if (err instanceof WopackError) {
    const { committed } = err;
    if (argv.json)
      process.stdout.write(
        JSON.stringify({ error: { code: err.code, message: err.message, hint: err.hint }, committed }, null, 2) + "\n",
      );
    process.stderr.write(`error ${err.code}: ${err.message}\n  hint: ${err.hint}\n`);
    if (committed.length) {
      process.stderr.write(
        `committed before the failure, and kept (the next run does not pack these again):\n${committed
          .map(
            (c) =>
              `  ${c.path}  (${c.workOrders.length} work order${c.workOrders.length === 1 ? "" : "s"}: ${c.workOrders.join(", ")})\n`,
          )
          .join("")}nothing else was committed\n`,
      );
    } else if (err.kind === "io") process.stderr.write("nothing was committed\n");
    if (argv.verbose && err.cause) process.stderr.write(`${(err.cause as Error).stack ?? String(err.cause)}\n`);
    return EXIT[err.kind];
  }
  process.stderr.write(
    `wopack hit an internal error (a bug; please report it with this output):\n${(err as Error)?.stack ?? String(err)}\n`,
  );
  return EXIT.bug;
}

/** The flags pack and watch share: archive splitting, image settings, metadata, the hook. */
const PACKING_FLAGS = {
  "max-archive-size": { type: "string", describe: "split archives at this size (e.g. 500MB, 2GiB)" },
  "max-work-orders": { type: "string", describe: "at most this many work orders per archive" },
  "max-image-size": { type: "string", describe: "re-encode images larger than this (default 5MB)" },
  "max-dimension": { type: "string", describe: "downscale images wider or taller than this many pixels" },
  "max-pixels": { type: "string", describe: "refuse images above this many pixels (default 100000000)" },
  "strip-gps": { type: "boolean", describe: "remove location data from every packed image (re-encoding where needed)" },
  metadata: { type: "string", describe: "metadata sidecar: CSV with a header, or JSON keyed by work-order id" },
  "allow-incomplete": { type: "boolean", default: false, describe: "write null for missing required metadata (with a warning)" },
  "on-archive": {
    type: "string",
    describe: "run this command after each committed archive, its path as last argument (no shell)",
  },
  "on-archive-timeout": {
    type: "string",
    alias: "hook-timeout",
    describe: "stop the --on-archive command after this long (default 30m); the archive is kept",
  },
  "on-archive-retries": { type: "string", describe: "run a failed --on-archive command again this many times (default 0)" },
  upload: {
    type: "boolean",
    default: false,
    describe: "send each archive to the platform once committed, while the next is packed (key: WOPACK_API_KEY)",
  },
  review: {
    type: "boolean",
    default: true,
    describe: "write a review page (<archive>.html) beside each archive; --no-review leaves it out",
  },
  "uploaded-to": { type: "string", describe: "with --upload: move each archive and its report here once the platform has it" },
  "upload-rate": { type: "string", describe: "with --upload: at most this many bytes per second (e.g. 2MB)" },
  "upload-retries": { type: "string", describe: "with --upload: retries of one request in a row (default 20)" },
} as const;

export async function main(args: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  let parsed: Common = { json: args.includes("--json"), dryRun: false, quiet: false, verbose: args.includes("--verbose") };
  const handle = (run: (argv: Common & Record<string, unknown>) => Promise<number>) => async (argv: unknown) => {
    parsed = argv as Common;
    exitCode = await run(argv as Common & Record<string, unknown>);
  };
  const cli = yargs(args)
    .scriptName("wopack")
    .version(args.includes("--version") ? `${VERSION} (HEIC decoder: ${heicDecoderName()})` : VERSION)
    .strict()
    .recommendCommands()
    .demandCommand(1, "name a command: wopack pack <staging> --out <dir>")
    .option("config", {
      type: "string",
      describe: "config file (default: ./wopack.config.json, then <staging>/wopack.config.json)",
    })
    .option("json", { type: "boolean", default: false, describe: "machine-readable result on stdout; logs on stderr" })
    .option("concurrency", { type: "string", describe: "photos converted at once (default: number of cores)" })
    .option("quiet", { type: "boolean", default: false, describe: "print only problems" })
    .option("verbose", { type: "boolean", default: false, describe: "say more, with stack traces for errors" })
    .option("log-format", {
      choices: ["text", "json"] as const,
      describe: "log lines as text with a time, or JSON (time, level, event, pid, version, fields); default json with --json",
    })
    .option("log-level", {
      choices: ["debug", "info", "warn", "error"] as const,
      describe: "the least important lines logged (default info; --quiet is warn, --verbose debug)",
    })
    .command(
      "pack <staging>",
      "pack every ready work order in <staging> into archives in --out, then exit",
      (y) =>
        y
          .positional("staging", { type: "string", demandOption: true, describe: "the staging folder" })
          .option("out", { type: "string", demandOption: true, describe: "folder that receives the archives and reports" })
          .option("settle", {
            type: "string",
            describe: "a work order is ready once nothing in it changed for this long (e.g. 10m)",
          })
          .option("ready-marker", { type: "string", describe: "only work orders holding this file are ready (e.g. .ready)" })
          .option("move-to", { type: "string", describe: "move packed work orders here once committed" })
          .option("repack", { type: "boolean", default: false, describe: "pack work orders again even if the ledger has them" })
          .option("dry-run", { type: "boolean", default: false, describe: "plan and report what would be packed; write nothing" })
          .options(PACKING_FLAGS),
      handle(runPack),
    )
    .command(
      "watch <staging>",
      "pack work orders as they become ready, until SIGINT/SIGTERM",
      (y) =>
        y
          .positional("staging", { type: "string", demandOption: true, describe: "the staging (hot) folder" })
          .option("out", { type: "string", demandOption: true, describe: "folder that receives the archives and reports" })
          .option("settle", {
            type: "string",
            describe: "ready once nothing in a work order changed for this long (default 30s; 0 with --ready-marker)",
          })
          .option("ready-marker", {
            type: "string",
            describe: "a work order is ready once its folder holds this file (e.g. .ready)",
          })
          .option("batch-window", {
            type: "string",
            describe: "collect work orders ready within this long into one archive (default 0)",
          })
          .option("poll", {
            type: "string",
            describe: "poll with stat every interval (default 1s) instead of file events: network shares",
          })
          .option("move-to", { type: "string", describe: "where packed work orders go (default <staging>/../processed)" })
          .option("failed-to", {
            type: "string",
            describe: "where refused work orders go, with <id>.errors.json (default <staging>/../failed)",
          })
          .option("dry-run", {
            type: "boolean",
            default: false,
            describe: "report what would be packed as it becomes ready; take no lock, write and move nothing",
          })
          .option("http", {
            type: "string",
            describe:
              "serve a read-only status page, /healthz and /metrics on [address:]port (loopback unless an address is given)",
          })
          .option("health-file", {
            type: "string",
            describe: "heartbeat JSON for monitoring (default <out>/.wopack/health.json)",
          })
          .options(PACKING_FLAGS),
      handle(runWatch),
    )
    .command(
      "validate <target>",
      "report every way a staging folder or an archive breaks the format and the config; change nothing",
      (y) =>
        y
          .positional("target", { type: "string", demandOption: true, describe: "a staging folder or an archive (.zip)" })
          .option("metadata", { type: "string", describe: "metadata sidecar, as for pack (staging folders only)" })
          .option("allow-incomplete", { type: "boolean", default: false, describe: "as for pack" }),
      handle(runValidate),
    )
    .command(
      "upload <out> [archives..]",
      "send committed archives in <out> to the platform's batch API, each exactly once, oldest first",
      (y) =>
        y
          .positional("out", { type: "string", demandOption: true, describe: "the folder pack writes archives to" })
          .positional("archives", { type: "string", array: true, describe: "only these archives (default: all not yet sent)" })
          .option("uploaded-to", {
            type: "string",
            describe: "move each archive and its report here once the platform confirmed it",
          })
          .option("upload-rate", { type: "string", describe: "at most this many bytes per second (e.g. 2MB)" })
          .option("upload-retries", { type: "string", describe: "retries of one request in a row (default 20)" })
          .option("hooks", {
            type: "boolean",
            default: false,
            describe: "also run --on-archive again for every archive whose command failed (or never succeeded)",
          })
          .option("on-archive", { type: "string", describe: "with --hooks: the command, as given to pack" })
          .option("on-archive-timeout", { type: "string", alias: "hook-timeout", describe: "with --hooks: as for pack" })
          .option("on-archive-retries", { type: "string", describe: "with --hooks: as for pack" }),
      handle(runUpload),
    )
    .command(
      "status <out>",
      "one line per archive in <out>: committed, uploading, uploaded (batch), failed (why)",
      (y) =>
        y
          .positional("out", { type: "string", demandOption: true, describe: "the folder pack writes archives to" })
          .option("refresh", {
            type: "boolean",
            default: false,
            describe: "ask the platform for the status of batches not final yet",
          })
          .option("max-age", {
            type: "string",
            describe: "exit 1 when an archive has waited this long without being uploaded (e.g. 2h): for monitoring",
          }),
      handle(runStatus),
    )
    .command(
      "review <targets..>",
      "(re)make the review page (<archive>.html) of archives: any zip, or every zip in a folder",
      (y) =>
        y.positional("targets", {
          type: "string",
          array: true,
          demandOption: true,
          describe: "archives (.zip) or folders of archives",
        }),
      handle(runReview),
    )
    .command(
      "init [dir]",
      "write a commented starter wopack.config.json",
      (y) =>
        y
          .positional("dir", { type: "string", default: ".", describe: "folder to write it in" })
          .option("force", { type: "boolean", default: false, describe: "replace an existing config" })
          .option("dry-run", { type: "boolean", default: false, describe: "print the config it would write; write nothing" }),
      handle(runInit),
    )
    .fail((msg, err) => {
      if (err) throw err;
      throw usageError(msg);
    })
    .help()
    .wrap(Math.min(110, process.stdout.columns || 100));
  try {
    await cli.parseAsync();
  } catch (err) {
    if (err instanceof WopackError && err.code === "E_USAGE") {
      process.stderr.write(`${await cli.getHelp()}\n\n`);
    }
    return report(err, parsed);
  }
  return exitCode;
}

process.exitCode = await main(hideBin(process.argv));
