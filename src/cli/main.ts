import { usageError, WopackError } from "../core/errors.js";
import { VERSION } from "../core/version.js";
import { nearest } from "../spec/names.js";
import type { Command } from "./command.js";
import { doctorCommand } from "./commands/doctorCommand.js";
import { initCommand } from "./commands/initCommand.js";
import { packCommand } from "./commands/packCommand.js";
import { pruneCommand } from "./commands/pruneCommand.js";
import { reviewCommand } from "./commands/reviewCommand.js";
import { statusCommand } from "./commands/statusCommand.js";
import { uploadCommand } from "./commands/uploadCommand.js";
import { validateCommand } from "./commands/validateCommand.js";
import { watchCommand } from "./commands/watchCommand.js";
import { type Common, EXIT, report } from "./exit.js";
import { GLOBAL_FLAGS, GROUP, OUTPUT_FLAGS } from "./flags.js";

/** The commands, in the order help lists them. */
const COMMANDS: Command<never>[] = [
  packCommand,
  watchCommand,
  validateCommand,
  uploadCommand,
  statusCommand,
  reviewCommand,
  pruneCommand,
  doctorCommand,
  initCommand,
] as unknown as Command<never>[];
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
  for (const c of COMMANDS) {
    cli.command(c.command, c.describe, c.builder, async (argv) => {
      parsed = argv as unknown as Common;
      exitCode = await c.run(argv as never);
    });
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
