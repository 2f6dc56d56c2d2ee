import { usageError, WopackError } from "../core/errors.js";
import { VERSION } from "../core/version.js";
import { nearest } from "../spec/names.js";
import type { Command } from "./command.js";
import { type Common, EXIT, report } from "./exit.js";
import { GLOBAL_FLAGS, GROUP, OUTPUT_FLAGS } from "./flags.js";

interface CommandEntry {
  /** yargs' command line: the name and its positionals */
  command: string;
  describe: string;
  load: () => Promise<Command<never>>;
}

/** (each module's command, its flags' types given up: yargs checks them) */
const lazy = (load: () => Promise<unknown>) => load as () => Promise<Command<never>>;

/**
 * The commands, in the order help lists them: the line and the words help shows for each, and its module
 * (flags, examples, handler), loaded only when the command line names it: `wopack upload` loads none of
 * the other commands' code.
 */
const COMMANDS: CommandEntry[] = [
  {
    command: "pack <staging>",
    describe: "pack every ready work order in <staging> into archives in --out, then exit",
    load: lazy(async () => (await import("./commands/packCommand.js")).packCommand),
  },
  {
    command: "watch <staging>",
    describe: "pack work orders as they become ready, until SIGINT/SIGTERM",
    load: lazy(async () => (await import("./commands/watchCommand.js")).watchCommand),
  },
  {
    command: "validate <target>",
    describe: "report every way a staging folder or an archive breaks the format and the config; change nothing",
    load: lazy(async () => (await import("./commands/validateCommand.js")).validateCommand),
  },
  {
    command: "upload <out> [archives..]",
    describe: "send committed archives in <out> to the platform's batch API, each exactly once, oldest first",
    load: lazy(async () => (await import("./commands/uploadCommand.js")).uploadCommand),
  },
  {
    command: "status <out>",
    describe: "one line per archive in <out>: committed, uploading, uploaded (batch), failed (why)",
    load: lazy(async () => (await import("./commands/statusCommand.js")).statusCommand),
  },
  {
    command: "review <targets..>",
    describe: "(re)make the review page (<archive>.html) of archives: any zip, or every zip in a folder",
    load: lazy(async () => (await import("./commands/reviewCommand.js")).reviewCommand),
  },
  {
    command: "prune <out>",
    describe: "say (or, with --delete, delete) the committed archives and processed work orders older than --older-than",
    load: lazy(async () => (await import("./commands/pruneCommand.js")).pruneCommand),
  },
  {
    command: "doctor",
    describe: "say what this installation runs with (HEIC decoder, libvips, threads, folders) and what is wrong, with the fix",
    load: lazy(async () => (await import("./commands/doctorCommand.js")).doctorCommand),
  },
  {
    command: "init [dir]",
    describe: "write a commented starter wopack.config.json",
    load: lazy(async () => (await import("./commands/initCommand.js")).initCommand),
  },
];
const NAMES = [...COMMANDS.map((c) => c.command.split(" ")[0]!), "completion"];

/** The hint of a usage error: the nearest known flag for an unknown one, and where the command's help is. */
function usageHint(message: string, args: readonly string[], known: readonly string[]): string {
  const command = args.find((a) => NAMES.includes(a));
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

export async function main(args: string[]): Promise<number> {
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-v")) {
    const { heicDecoderName } = await import("../convert/heicDecoder.js");
    process.stdout.write(`${VERSION} (HEIC decoder: ${heicDecoderName()})\n`);
    return EXIT.ok;
  }
  const { default: yargs } = await import("yargs");
  let exitCode: number = EXIT.ok;
  let parsed: Common = { json: args.includes("--json"), dryRun: false, quiet: false, verbose: args.includes("--verbose") };
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
    .options({ ...OUTPUT_FLAGS, ...GLOBAL_FLAGS });
  // (a word of the command line that names a command: its module, for its flags and its help)
  const named = COMMANDS.filter((c) => args.includes(c.command.split(" ")[0]!));
  const loaded = new Map(await Promise.all(named.map(async (c) => [c, await c.load()] as const)));
  for (const c of COMMANDS) {
    const m = loaded.get(c);
    cli.command(
      c.command,
      c.describe,
      (y) => (m ? m.builder(y) : y),
      async (argv) => {
        parsed = argv as unknown as Common;
        exitCode = await (m ?? (await c.load())).run(argv as never);
      },
    );
  }
  cli
    .fail((msg, err) => {
      if (err) throw err;
      throw usageError(unknownAsTyped(msg, args));
    })
    .group(Object.keys(OUTPUT_FLAGS), GROUP.output)
    .group([...Object.keys(GLOBAL_FLAGS), "help", "version"], GROUP.global)
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
