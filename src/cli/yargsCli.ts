// The command line parsed by yargs: help, completion, every flag, the WOPACK_* variables that stand for
// flags, usage errors with the nearest flag. Loaded unless main.ts's quick path took the command line.
import yargs from "yargs";
import { usageError, WopackError } from "../core/errors.js";
import { redact } from "../core/redact.js";
import { VERSION } from "../core/version.js";
import { type CommandEntry, reportRun } from "./commandTable.js";
import { type Common, EXIT } from "./exit.js";
import { GLOBAL_FLAGS, GROUP, OUTPUT_FLAGS } from "./flags.js";
import { camel } from "./quick.js";

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
    const camelName = camel(kebab);
    if (known.has(kebab) || known.has(camelName)) continue;
    if (args.some((a) => a.split("=")[0] === `--${kebab}` || a.split("=")[0] === `--${camelName}`)) continue;
    delete argv[kebab];
    delete argv[camelName];
  }
}

/**
 * A flag that takes one value, given twice (`--out A --out B`): yargs makes it a list, which no command takes
 * (a path flag crashed on it). Refused as a usage error before the command runs, naming both values.
 */
function refuseRepeated(argv: Record<string, unknown>, y: unknown): void {
  const o = (y as { getOptions(): { array: string[]; key: Record<string, unknown> } }).getOptions();
  const lists = new Set(o.array);
  for (const [name, value] of Object.entries(argv)) {
    // (each flag once: its kebab-case spelling, which a single-word flag shares with its camelCase one)
    if (!Array.isArray(value) || lists.has(name) || !(name in o.key) || /[A-Z]/.test(name)) continue;
    throw usageError(
      // (a value may hold a credential: an --on-archive command's URL)
      `--${name} is given ${value.length} times (${redact(value.map((v) => JSON.stringify(v)).join(", "))}); it takes one value`,
      `give --${name} once (on the command line it wins over WOPACK_${name.toUpperCase().replace(/-/g, "_")})`,
    );
  }
}

/** Parses `args` against `commands` and runs the command named; resolves to the exit code. */
export async function runWithYargs(args: string[], commands: readonly CommandEntry[]): Promise<number> {
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
    .middleware(refuseRepeated as unknown as (argv: object) => void)
    .version(VERSION)
    // wopack speaks English throughout; yargs would follow LANG, and the "did you mean" hint reads its words
    .locale("en")
    .strict()
    .recommendCommands()
    .demandCommand(1, "name a command: wopack pack <staging> --out <dir>")
    .options({ ...OUTPUT_FLAGS, ...GLOBAL_FLAGS });
  // (a word of the command line that names a command: its module, for its flags and its help)
  const named = commands.filter((c) => args.includes(c.command.split(" ")[0]!));
  const loaded = new Map(await Promise.all(named.map(async (c) => [c, await c.load()] as const)));
  for (const c of commands) {
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
    // (the flags a usage error's hint may name are read from the help)
    const usage = err instanceof WopackError && err.code === "E_USAGE";
    const flags = usage ? [...(await cli.getHelp()).matchAll(/--([a-z][a-z-]+)/g)].map((m) => m[1]!) : [];
    return reportRun(err, args, parsed, flags);
  }
  return exitCode;
}
