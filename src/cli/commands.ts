// The commands: argv -> options, the pipeline's results -> text and exit codes. Loaded only once a
// command runs, so that --help and --version answer without the image stack, zod or pino.
import { splitCommand } from "../commit/hook.js";
import { initConfig } from "../config/init.js";
import { type LoadedConfig, loadConfig } from "../config/load.js";
import { type Config, type Flags, flagsSchema } from "../config/schema.js";
import { parseDuration } from "../config/units.js";
import { interruptedError, usageError, WopackError } from "../core/errors.js";
import type { HookRun } from "../core/types.js";
import { rerunHooks } from "../run/hooks.js";
import { status } from "../run/status.js";
import { upload } from "../run/upload.js";
import { parseListen } from "../serve/listen.js";
import { type Common, EXIT } from "./exit.js";
import {
  formatDoctor,
  formatHooks,
  formatPackResult,
  formatPrune,
  formatReview,
  formatStatus,
  formatUploads,
  formatValidation,
} from "./format.js";
import { type CliLog, createLog, type LogOptions } from "./log.js";
import { type PackOutput, SCHEMA_VERSION, type ValidateOutput } from "./output.js";
import { progressBar, uploadBar } from "./progress.js";

export type Argv = Common & Record<string, unknown>;

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

/**
 * The config file --config names, or the one found (./, then the staging folder), and which it was
 * (null: none, the defaults); --verbose says which.
 */
async function configFor(argv: Common, staging?: string): Promise<LoadedConfig> {
  const loaded = await loadConfig({
    ...(argv.config ? { configPath: argv.config } : {}),
    ...(staging ? { staging } : {}),
  });
  logFor(argv).logger.debug(loaded.path ? `config: ${loaded.path}` : "config: none found, the defaults apply");
  return loaded;
}

/**
 * --print-config: the effective config (the file's values, the defaults, the flags over them) as JSON,
 * and where it came from; nothing is run. A password in the upload URL is redacted.
 */
function printConfig(config: Config, configPath: string | null): number {
  const url = config.upload.url ? new URL(config.upload.url) : undefined;
  if (url?.password) url.password = "REDACTED";
  const shown = { ...config, upload: { ...config.upload, ...(url ? { url: url.toString() } : {}) } };
  process.stdout.write(JSON.stringify({ configFile: configPath, config: shown }, null, 2) + "\n");
  return EXIT.ok;
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
function packingOptions(config: Config, flags: Flags, argv: Argv) {
  const images = { ...config.images };
  if (flags["max-image-size"] !== undefined) images.maxImageSize = flags["max-image-size"];
  if (flags["max-dimension"] !== undefined) images.maxDimension = flags["max-dimension"];
  if (flags["max-pixels"] !== undefined) images.maxPixels = flags["max-pixels"];
  if (argv.stripGps) images.stripGps = true;
  const archive = {
    ...config.archive,
    maxSize: flags["max-archive-size"] ?? config.archive.maxSize,
    maxWorkOrders: flags["max-work-orders"] ?? config.archive.maxWorkOrders,
  };
  return {
    // (the effective config: what --print-config shows)
    config: { ...config, images, archive },
    maxArchiveSize: archive.maxSize,
    maxWorkOrders: archive.maxWorkOrders,
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
    ...(flags.shard ? { shard: flags.shard } : {}),
  };
}

export async function runPack(argv: Argv): Promise<number> {
  const staging = String(argv.staging);
  const flags = checkedFlags(argv);
  const { config, path: configPath } = await configFor(argv, staging);
  const settle = flags.settle ?? config.watch.settle ?? 0;
  const packing = packingOptions(config, flags, argv);
  if (argv.printConfig)
    return printConfig(
      { ...packing.config, watch: { ...config.watch, settle, readyMarker: flags["ready-marker"] ?? config.watch.readyMarker } },
      configPath,
    );
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
      ...packing,
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
      result.uploads?.some((u) => u.result === "failed" || u.result === "attention");
    const output: PackOutput = { schemaVersion: SCHEMA_VERSION, ...result };
    if (argv.json) process.stdout.write(JSON.stringify(output, null, 2) + "\n");
    // (the summary starts with the time, so that a cron log tells nights apart)
    else if (!argv.quiet || attention)
      process.stdout.write(`${new Date().toISOString()} ${formatPackResult(result, argv.verbose)}\n`);
    return attention ? EXIT.refused : EXIT.ok;
  } finally {
    bar?.done();
    dispose();
  }
}

export async function runWatch(argv: Argv): Promise<number> {
  const staging = String(argv.staging);
  const flags = checkedFlags(argv);
  const { config, path: configPath } = await configFor(argv, staging);
  const readyMarker = flags["ready-marker"] ?? config.watch.readyMarker;
  // With a ready marker the marker says "done": no settle time unless asked for.
  const settleMs = flags.settle ?? config.watch.settle ?? (readyMarker ? 0 : 30_000);
  const batchWindowMs = flags["batch-window"] ?? config.watch.batchWindow ?? 0;
  const configPoll = config.watch.poll === true ? 1000 : config.watch.poll === false ? undefined : config.watch.poll;
  const pollMs = flags.poll === undefined ? configPoll : flags.poll === "" ? 1000 : flags.poll;
  const packing = packingOptions(config, flags, argv);
  if (argv.printConfig)
    return printConfig(
      { ...packing.config, watch: { settle: settleMs, readyMarker, batchWindow: batchWindowMs, poll: pollMs ?? false } },
      configPath,
    );
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
      ...packing,
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

export async function runValidate(argv: Argv): Promise<number> {
  const target = String(argv.target);
  const flags = checkedFlags(argv);
  const { config, path: configPath } = await configFor(argv, target);
  if (argv.printConfig) return printConfig(config, configPath);
  const { validate } = await import("../run/validate.js");
  const result = await validate(target, {
    config,
    metadataFile: argv.metadata as string | undefined,
    allowIncomplete: Boolean(argv.allowIncomplete),
    ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
  });
  const output: ValidateOutput = { schemaVersion: SCHEMA_VERSION, ...result };
  process.stdout.write((argv.json ? JSON.stringify(output, null, 2) : formatValidation(result)) + "\n");
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

export async function runUpload(argv: Argv): Promise<number> {
  const out = String(argv.out);
  const flags = checkedFlags(argv);
  const { config, path: configPath } = await configFor(argv);
  if (argv.printConfig) return printConfig(config, configPath);
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
    const notSent = outcomes.some((o) => o.result === "failed" || o.result === "attention");
    return notSent || hooks.some((h) => !h.ok) ? EXIT.refused : EXIT.ok;
  } finally {
    bar?.done();
    dispose();
  }
}

export async function runStatus(argv: Argv): Promise<number> {
  const maxAge = argv.maxAge === undefined ? undefined : parseDuration(String(argv.maxAge));
  if (argv.maxAge !== undefined && maxAge === undefined) usage("--max-age", argv.maxAge, "a duration, e.g. 2h or 30m");
  const { config, path: configPath } = await configFor(argv);
  if (argv.printConfig) return printConfig(config, configPath);
  const lines = await status(String(argv.out), { refresh: argv.refresh ? { config } : undefined });
  const stuck =
    maxAge === undefined ? [] : lines.filter((l) => l.state !== "uploaded" && Date.now() - Date.parse(l.since) > maxAge);
  process.stdout.write(
    (argv.json ? JSON.stringify({ archives: lines, stuck: stuck.map((l) => l.archive) }, null, 2) : formatStatus(lines, stuck)) +
      "\n",
  );
  return lines.some((l) => l.state === "failed" || l.state === "attention") || stuck.length ? EXIT.refused : EXIT.ok;
}

export async function runReview(argv: Argv): Promise<number> {
  const { config, path: configPath } = await configFor(argv);
  if (argv.printConfig) return printConfig(config, configPath);
  const { review } = await import("../run/review.js");
  const result = await review(argv.targets as string[], config);
  process.stdout.write((argv.json ? JSON.stringify(result, null, 2) : formatReview(result)) + "\n");
  return result.problems.length ? EXIT.refused : EXIT.ok;
}

export async function runInit(argv: Argv): Promise<number> {
  const { file, schema, content } = await initConfig(String(argv.dir ?? "."), {
    force: Boolean(argv.force),
    dryRun: argv.dryRun,
  });
  if (argv.json) process.stdout.write(JSON.stringify({ config: file, schema, dryRun: argv.dryRun }, null, 2) + "\n");
  else if (argv.dryRun) process.stdout.write(`dry run: would write ${file} (and ${schema}):\n${content}`);
  else if (!argv.quiet)
    process.stdout.write(
      `wrote ${file} (it changes nothing until edited)\nand its JSON Schema, ${schema}\nedit it, then run: wopack pack <staging> --out <dir>\n`,
    );
  return EXIT.ok;
}

export async function runDoctor(argv: Argv): Promise<number> {
  const { doctor } = await import("../run/doctor.js");
  const checks = await doctor({ staging: argv.staging as string | undefined, out: argv.out as string | undefined });
  if (argv.json) process.stdout.write(JSON.stringify({ checks }, null, 2) + "\n");
  else process.stdout.write(formatDoctor(checks) + "\n");
  return checks.some((c) => c.status === "error") ? EXIT.refused : EXIT.ok;
}

export async function runPrune(argv: Argv): Promise<number> {
  const olderThanMs = parseAge(String(argv.olderThan));
  if (olderThanMs === undefined) usage("--older-than", argv.olderThan, "an age, e.g. 30d, 12h or 90m");
  const { prune } = await import("../run/prune.js");
  const result = await prune({
    out: String(argv.out),
    olderThanMs,
    processed: argv.processed as string | undefined,
    delete: Boolean(argv.delete),
    logger: logFor(argv).logger,
  });
  process.stdout.write((argv.json ? JSON.stringify(result, null, 2) : formatPrune(result)) + "\n");
  return EXIT.ok;
}

/** An age: a duration, or days ("30d"). */
function parseAge(value: string): number | undefined {
  const days = /^\s*(\d+(?:\.\d+)?)\s*d\s*$/i.exec(value);
  return days ? Math.round(Number(days[1]) * 86_400_000) : parseDuration(value);
}
