import { usageError, WopackError } from "../core/errors.js";
import { VERSION } from "../core/version.js";
import { nearest } from "../spec/names.js";
import type { Argv } from "./commands.js";
import { type Common, EXIT, report } from "./exit.js";

const COMMANDS = ["pack", "watch", "validate", "upload", "status", "review", "prune", "init", "doctor", "completion"];

/** The hint of a usage error: the nearest known flag for an unknown one, and where the command's help is. */
function usageHint(message: string, args: readonly string[], known: readonly string[]): string {
  const command = args.find((a) => COMMANDS.includes(a));
  const help = `wopack ${command ? `${command} ` : ""}--help`;
  const unknown = /^Unknown arguments?: (.+)$/.exec(message)?.[1]?.split(", ")[0];
  const near = unknown && nearest(unknown.replace(/^-+/, ""), [...new Set(known)]);
  return near ? `did you mean --${near}? (${help} lists the options)` : `see ${help}`;
}

/**
 * yargs names an unknown flag in each spelling it made of it (`max-archvie-size, maxArchvieSize`): the
 * message names each once, as it was typed.
 */
export function unknownAsTyped(message: string, args: readonly string[]): string {
  const m = /^Unknown arguments?: (.+)$/.exec(message);
  if (!m) return message;
  // yargs' name of a flag -> the flag as typed (it reads --no-x as x)
  const typed = new Map<string, string>();
  for (const a of args.filter((x) => x.startsWith("-"))) {
    const name = a.replace(/^-+/, "").replace(/=.*$/s, "");
    const shown = `${name.length === 1 ? "-" : "--"}${name}`;
    typed.set(name, shown);
    if (name.startsWith("no-")) typed.set(name.slice(3), shown);
  }
  const named = m[1]!.split(", ");
  const shown = named.filter((n) => typed.has(n)).map((n) => typed.get(n)!);
  const list = shown.length ? shown : named.slice(0, 1);
  return `Unknown argument${list.length === 1 ? "" : "s"}: ${list.join(", ")}`;
}

/**
 * yargs turns every WOPACK_* variable into an argument: those that name no flag of the command go (but
 * not one also given on the command line, which strict parsing then refuses, as it should).
 */
function dropNonFlagEnv(argv: Record<string, unknown>, y: unknown, args: readonly string[]): void {
  const known = new Set(Object.keys((y as { getOptions(): { key: Record<string, unknown> } }).getOptions().key));
  for (const name of Object.keys(process.env)) {
    if (!/^WOPACK(_|$)/.test(name)) continue; // (yargs reads WOPACK alone too, as an argument named "")
    const kebab = name.slice("WOPACK_".length).toLowerCase().replace(/_/g, "-");
    const camel = kebab.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (known.has(kebab) || known.has(camel)) continue;
    if (args.some((a) => a.split("=")[0] === `--${kebab}` || a.split("=")[0] === `--${camel}`)) continue;
    delete argv[kebab];
    delete argv[camel];
  }
}

type Command =
  | "runPack"
  | "runWatch"
  | "runValidate"
  | "runUpload"
  | "runStatus"
  | "runReview"
  | "runInit"
  | "runDoctor"
  | "runPrune";

/** The flags pack and watch share: archive splitting, image settings, metadata, the hook. */
const PACKING_FLAGS = {
  "max-archive-size": { type: "string", describe: "split archives at this size (e.g. 500MB, 2GiB)" },
  "max-work-orders": { type: "string", describe: "at most this many work orders per archive" },
  "max-image-size": { type: "string", describe: "re-encode images larger than this (default 5MB)" },
  "max-dimension": { type: "string", describe: "downscale images wider or taller than this many pixels" },
  "max-pixels": { type: "string", describe: "refuse images above this many pixels (default 100000000)" },
  shard: {
    type: "string",
    describe:
      "pack only the work orders that fall to shard i of n (e.g. 0/3; by a hash of their id); give each shard its own --out",
  },
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

const PACKING_KEYS = Object.keys(PACKING_FLAGS);

export async function main(args: string[]): Promise<number> {
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-v")) {
    const { heicDecoderName } = await import("../convert/heicDecoder.js");
    process.stdout.write(`${VERSION} (HEIC decoder: ${heicDecoderName()})\n`);
    return EXIT.ok;
  }
  const { default: yargs } = await import("yargs");
  let exitCode: number = EXIT.ok;
  let parsed: Common = { json: args.includes("--json"), dryRun: false, quiet: false, verbose: args.includes("--verbose") };
  // each command's code is loaded when it runs: --help and --version stay quick
  const handle = (name: Command) => async (argv: unknown) => {
    parsed = argv as Common;
    const commands = await import("./commands.js");
    exitCode = await commands[name](argv as Argv);
  };
  const cli = yargs(args)
    .scriptName("wopack")
    // flags from the environment: WOPACK_OUT=/srv/outbox is --out, WOPACK_SETTLE=10m --settle 10m (a flag
    // on the command line wins); wopack's other variables (WOPACK_API_KEY, ...) are not flags
    .env("WOPACK")
    // (yargs passes its instance as a middleware's second argument; @types/yargs does not say so)
    .middleware(
      ((argv: Record<string, unknown>, y: unknown) => dropNonFlagEnv(argv, y, args)) as unknown as (argv: object) => void,
      true,
    )
    .version(VERSION)
    // wopack speaks English throughout; yargs would follow LANG, and the "did you mean" hint reads its words
    .locale("en")
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
    .option("print-config", {
      type: "boolean",
      default: false,
      describe: "print the effective config (file, defaults and flags merged) as JSON and exit; runs nothing",
    })
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
          .options(PACKING_FLAGS)
          .group(["out", "settle", "ready-marker", "move-to", "repack", "dry-run", ...PACKING_KEYS], "Options:")
          .example(
            "wopack pack /srv/wopack/staging --out /srv/wopack/outbox --move-to /srv/wopack/processed",
            "pack what is ready, then move it aside",
          )
          .example("wopack pack staging --out out --dry-run", "show the names each photo would get; write nothing")
          .example("wopack pack staging --out out --settle 10m --upload", "leave folders still being copied; send each archive")
          .epilog(
            "Exit codes: 0 packed (or nothing to do), 1 some work orders refused or a hook, move or upload failed, 2 usage or config error (nothing written), 3 I/O failure (disk full: nothing half-written), 4 another run holds --out, 5 the platform refused the key, 130 interrupted, 70 a bug.",
          ),
      handle("runPack"),
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
          .options(PACKING_FLAGS)
          .group(
            [
              "out",
              "settle",
              "ready-marker",
              "batch-window",
              "poll",
              "move-to",
              "failed-to",
              "dry-run",
              "http",
              "health-file",
              ...PACKING_KEYS,
            ],
            "Options:",
          )
          .example(
            "wopack watch /srv/wopack/staging --out /srv/wopack/outbox --settle 30s",
            "pack each work order once it is still for 30 s",
          )
          .example(
            "wopack watch staging --out out --ready-marker .ready --http 9464",
            "pack folders holding .ready; status page on 127.0.0.1:9464",
          )
          .epilog(
            "Exit codes: 0 stopped by SIGINT/SIGTERM, 130 stopped with an archive rolled back, 2 usage or config error, 3 I/O failure at start (e.g. --http port taken), 4 another run holds --out, 5 the platform refused the key.",
          ),
      handle("runWatch"),
    )
    .command(
      "validate <target>",
      "report every way a staging folder or an archive breaks the format and the config; change nothing",
      (y) =>
        y
          .positional("target", { type: "string", demandOption: true, describe: "a staging folder or an archive (.zip)" })
          .option("metadata", { type: "string", describe: "metadata sidecar, as for pack (staging folders only)" })
          .option("allow-incomplete", { type: "boolean", default: false, describe: "as for pack" })
          .group(["metadata", "allow-incomplete"], "Options:")
          .example("wopack validate staging", "every problem pack would refuse, without writing anything")
          .example("wopack validate batch-20261202T020000Z-1.zip", "check any archive against the format and the config")
          .epilog("Exit codes: 0 valid, 1 problems found (each listed), 2 usage or config error."),
      handle("runValidate"),
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
          .option("on-archive-retries", { type: "string", describe: "with --hooks: as for pack" })
          .group(
            ["uploaded-to", "upload-rate", "upload-retries", "hooks", "on-archive", "on-archive-timeout", "on-archive-retries"],
            "Options:",
          )
          .example(
            "wopack upload /srv/wopack/outbox",
            "send every committed archive not sent yet, oldest first (key: WOPACK_API_KEY)",
          )
          .example('wopack upload out --hooks --on-archive "./notify.sh"', "run a failed --on-archive command again")
          .epilog(
            "Exit codes: 0 all sent (or nothing to send), 1 some failed (retried next run), 2 usage error, 3 I/O failure, 5 the platform refused the key, 130 interrupted.",
          ),
      handle("runUpload"),
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
          })
          .group(["refresh", "max-age"], "Options:")
          .example("wopack status /srv/wopack/outbox", "where each archive stands")
          .example("wopack status out --max-age 2h --json", "for monitoring: exit 1 when one waits longer than 2 h")
          .epilog(
            "Exit codes: 0 nothing failed or stuck, 1 an upload failed or an archive waited past --max-age, 2 usage error.",
          ),
      handle("runStatus"),
    )
    .command(
      "review <targets..>",
      "(re)make the review page (<archive>.html) of archives: any zip, or every zip in a folder",
      (y) =>
        y
          .positional("targets", {
            type: "string",
            array: true,
            demandOption: true,
            describe: "archives (.zip) or folders of archives",
          })
          .example("wopack review /srv/wopack/outbox", "make the review page of every archive in the folder again")
          .example("wopack review theirs.zip", "a review page for any zip, from the zip alone")
          .epilog("Exit codes: 0 every page written, 1 an archive could not be reviewed (named), 2 usage error."),
      handle("runReview"),
    )
    .command(
      "prune <out>",
      "say (or, with --delete, delete) the committed archives and processed work orders older than --older-than",
      (y) =>
        y
          .positional("out", { type: "string", demandOption: true, describe: "the folder pack writes archives to" })
          .option("older-than", {
            type: "string",
            demandOption: true,
            describe: "keep what was committed more recently (e.g. 30d, 12h)",
          })
          .option("processed", { type: "string", describe: "also the work orders moved there (--move-to) once committed" })
          .option("delete", { type: "boolean", default: false, describe: "delete; without it nothing is touched" })
          .group(["older-than", "processed", "delete"], "Options:")
          .example("wopack prune /srv/wopack/outbox --older-than 30d --processed /srv/wopack/processed", "what would go")
          .example("wopack prune /srv/wopack/outbox --older-than 30d --processed /srv/wopack/processed --delete", "and delete it")
          .epilog("Exit codes: 0 done (or nothing to prune), 2 usage error, 3 I/O failure, 4 another run holds <out>."),
      handle("runPrune"),
    )
    .command(
      "doctor",
      "say what this installation runs with (HEIC decoder, libvips, threads, folders) and what is wrong, with the fix",
      (y) =>
        y
          .option("staging", { type: "string", describe: "also check this staging folder: there, readable, which file system" })
          .option("out", { type: "string", describe: "also check this output folder: there, writable, which file system" })
          .group(["staging", "out"], "Options:")
          .example("wopack doctor", "the decoders and versions")
          .example("wopack doctor --staging /srv/wopack/staging --out /srv/wopack/outbox", "and the folders a service uses")
          .epilog(
            "Exit codes: 0 nothing wrong (warnings may be listed), 1 something is wrong (each with its fix), 2 usage error.",
          ),
      handle("runDoctor"),
    )
    .command(
      "init [dir]",
      "write a commented starter wopack.config.json",
      (y) =>
        y
          .positional("dir", { type: "string", default: ".", describe: "folder to write it in" })
          .option("force", { type: "boolean", default: false, describe: "replace an existing config" })
          .option("dry-run", { type: "boolean", default: false, describe: "print the config it would write; write nothing" })
          .group(["force", "dry-run"], "Options:")
          .example("wopack init /srv/wopack", "write wopack.config.json and its JSON Schema there")
          .example("wopack init --dry-run", "print the starter config")
          .epilog("Exit codes: 0 written, 2 a config is already there (--force replaces it), 3 cannot write."),
      handle("runInit"),
    )
    .fail((msg, err) => {
      if (err) throw err;
      throw usageError(unknownAsTyped(msg, args));
    })
    .group(
      ["config", "json", "concurrency", "quiet", "verbose", "print-config", "log-format", "log-level", "help", "version"],
      "Global options:",
    )
    .help()
    .alias("h", "help")
    .alias("v", "version")
    .completion("completion", "print a bash/zsh completion script: wopack completion >> ~/.bashrc")
    .wrap(Math.min(110, process.stdout.columns || 100));
  try {
    await cli.parseAsync();
  } catch (err) {
    // a usage error is one line and its hint, not the whole help (the help is read for the flag names)
    if (err instanceof WopackError && err.code === "E_USAGE" && err.hint === usageError("").hint) {
      const flags = [...(await cli.getHelp()).matchAll(/--([a-z][a-z-]+)/g)].map((m) => m[1]!);
      return report(usageError(err.message, usageHint(err.message, args, flags)), parsed);
    }
    return report(err, parsed);
  }
  return exitCode;
}

process.exitCode = await main(process.argv.slice(2));
