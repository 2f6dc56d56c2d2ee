// What every command's handler needs once it runs: its log, its config, its flags checked, its signals.
// Loaded with the first handler, never for --help or --version.
import { splitCommand } from "../commit/runCommand.js";
import { CHECKED_FLAGS } from "../config/defaults.js";
import { type LoadedConfig, loadConfig } from "../config/find.js";
import type { Config, Flags } from "../config/schema.js";
import { DEFAULT_POLL_MS } from "../config/settings.js";

export { settingsFor } from "../config/settings.js";

import { interruptedError, usageError, WopackError } from "../core/errors.js";
import { parseListen } from "../serve/listen.js";
import { type Common, EXIT } from "./exit.js";
import { type CliLog, createLog, type LogOptions } from "./log.js";

export type Argv = Common & Record<string, unknown>;

/**
 * The command's log: --log-format (default json with --json, else text) and --log-level (default info;
 * --quiet warn, --verbose debug). Lines go to stderr unless told otherwise (watch: events on stdout).
 */
export function logFor(argv: Common, to: Partial<Pick<LogOptions, "out" | "errors" | "beforeWrite">> = {}): CliLog {
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
export async function configFor(argv: Common, staging?: string): Promise<LoadedConfig> {
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
export function printConfig(config: Config, configPath: string | null): number {
  const url = config.upload.url ? new URL(config.upload.url) : undefined;
  if (url?.password) url.password = "REDACTED";
  const shown = { ...config, upload: { ...config.upload, ...(url ? { url: url.toString() } : {}) } };
  process.stdout.write(JSON.stringify({ configFile: configPath, config: shown }, null, 2) + "\n");
  return EXIT.ok;
}

export function usage(flag: string, value: unknown, expected: string): never {
  throw usageError(`${flag} ${String(value)}: ${expected}`);
}

/**
 * The number, size and duration flags, checked like the config keys they override: every problem at once.
 * (zod is loaded only when one is given.)
 */
export async function checkedFlags(argv: Record<string, unknown>): Promise<Flags> {
  const given = Object.fromEntries(CHECKED_FLAGS.flatMap((k) => (argv[k] === undefined ? [] : [[k, argv[k]]])));
  if (!Object.keys(given).length) return {};
  const { flagsSchema } = await import("../config/schema.js");
  const parsed = flagsSchema.safeParse(given);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `--${String(i.path[0])} ${shownValue(String(i.path[0]), given)}: ${i.message}`);
  throw new WopackError(
    "usage",
    "E_FLAG_INVALID",
    `invalid value${lines.length > 1 ? "s" : ""}; nothing was done:`,
    "fix every flag above (sizes like 5MB or 2GiB, durations with their unit like 30s, 10m or 30d, whole numbers from 1)",
    { lines },
  );
}

/**
 * A flag's value as typed: yargs reads a number flag's text as a number ("abc" as NaN, "10.5" as 10.5),
 * so the command line (or the WOPACK_* variable it came from) is asked for what was written.
 */
function shownValue(flag: string, given: Record<string, unknown>): string {
  const value = given[flag];
  if (typeof value !== "number") return JSON.stringify(value);
  const args = process.argv;
  for (let i = args.length - 1; i >= 0; i--) {
    if (args[i] === `--${flag}` && i + 1 < args.length) return JSON.stringify(args[i + 1]);
    if (args[i]!.startsWith(`--${flag}=`)) return JSON.stringify(args[i]!.slice(flag.length + 3));
  }
  const env = process.env[`WOPACK_${flag.toUpperCase().replace(/-/g, "_")}`];
  return env === undefined ? (Number.isNaN(value) ? "(not a number)" : String(value)) : JSON.stringify(env);
}

export function onArchiveFlag(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const command = splitCommand(String(value));
  return command.length
    ? command
    : usage("--on-archive", value, 'give a command to run, e.g. --on-archive "./upload.sh --bucket x"');
}

/**
 * What the packing flags say, as overrides of the config (the library works out the effective settings
 * from both: settingsFor) and the options pack and watch pass to the pipeline alike.
 */
export function packingOptions(config: Config, flags: Flags, argv: Argv) {
  return {
    config,
    maxImageSize: flags["max-image-size"],
    maxDimension: flags["max-dimension"],
    maxPixels: flags["max-pixels"],
    stripGps: argv.stripGps ? true : undefined,
    maxArchiveSize: flags["max-archive-size"],
    maxWorkOrders: flags["max-work-orders"],
    settleMs: flags.settle,
    readyMarker: flags["ready-marker"],
    batchWindowMs: flags["batch-window"],
    pollMs: flags.poll === "" ? DEFAULT_POLL_MS : flags.poll,
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

/** --http [host:]port: loopback unless an address is given; the token only ever from the environment. */
export function httpFlag(value: unknown, token: string | undefined): { host: string; port: number; token?: string } | undefined {
  if (value === undefined) return undefined;
  const listen =
    parseListen(String(value)) ??
    usage("--http", value, "a port (9464, on loopback) or an address and port (127.0.0.1:9464, [::1]:9464, 0.0.0.0:9464)");
  return token ? { ...listen, token } : listen;
}

/**
 * SIGINT/SIGTERM for a running command: the first aborts it (`onFirst` says so, `reason` is what it stops
 * with), a second quits at once (exit 130).
 */
export function signalController(
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
