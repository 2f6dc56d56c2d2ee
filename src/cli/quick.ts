// The command lines main.ts runs without yargs (loading and setting yargs up is ~30 ms of CPU, and
// building pack's flags ~40 ms more), and the argv yargs would have handed the command for each
// (test/unit/cli.quick compares the two over generated command lines). The domain is narrow on purpose:
// `pack <staging> --out <dir>` and `upload <out> [archives..]`, each of --json, --quiet, --verbose at most
// once. Anything else (help, any other flag or spelling, `--`, a WOPACK_* variable that may stand for one of
// the command's flags) is yargs' to parse.
import type { Common } from "./exit.js";
import {
  GLOBAL_FLAGS,
  HOOK_FLAGS,
  OUTPUT_FLAGS,
  PACK_OWN_FLAGS,
  PACKING_FLAGS,
  READINESS_FLAGS,
  RESEND_FLAGS,
  SEND_FLAGS,
} from "./flags.js";

type Argv = Common & Record<string, unknown>;

interface Flag {
  describe?: string;
  default?: unknown;
  alias?: string;
}

interface QuickCommand {
  /** every flag yargs gives the command besides the output and global ones */
  flags: Record<string, Flag>;
  /** the positionals' names, the last one variadic when it ends with ".." */
  positionals: string[];
  /** the one flag taken with a value (`--out <dir>`), which the command must have */
  valued?: string;
}

const QUICK: Record<string, QuickCommand> = {
  upload: { flags: { ...SEND_FLAGS, ...RESEND_FLAGS, ...HOOK_FLAGS }, positionals: ["out", "archives.."] },
  pack: { flags: { ...PACK_OWN_FLAGS, ...READINESS_FLAGS, ...PACKING_FLAGS }, positionals: ["staging"], valued: "out" },
};

/** A kebab-case flag's camelCase key, as yargs adds it to argv. */
export const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

const flagsOf = (q: QuickCommand) => ({ ...OUTPUT_FLAGS, ...GLOBAL_FLAGS, ...q.flags }) as Record<string, Flag>;

/** The names yargs reads as the command's (its flags and their aliases, its positionals, help and version, h and v). */
function namesOf(q: QuickCommand): Set<string> {
  return new Set([
    ...Object.entries(flagsOf(q)).flatMap(([name, o]) => [name, ...(o.alias ? [o.alias] : [])]),
    ...q.positionals.map((p) => p.replace(/\.\.$/, "")),
    "help",
    "version",
    "h",
    "v",
  ]);
}
const NAMES = new Map(Object.entries(QUICK).map(([name, q]) => [name, namesOf(q)]));

/**
 * A variable yargs may read as a flag of the command (or cannot be ruled out: WOPACK alone, nested names).
 * yargs drops any other WOPACK_* variable (wopack's own, WOPACK_API_KEY..., or another command's flag): so
 * does the quick path.
 */
function standsForFlag(name: string, names: Set<string>): boolean {
  if (!name.startsWith("WOPACK")) return false;
  const words = /^WOPACK_([A-Z0-9]+(?:_[A-Z0-9]+)*)$/.exec(name)?.[1];
  return words === undefined || names.has(words.toLowerCase().replace(/_/g, "-"));
}

const SWITCHES = new Set(["json", "quiet", "verbose"]);

/** yargs' argv for `args` (run with `env`), when the command line is in the quick path's domain. */
export function quickArgv(args: readonly string[], env: Record<string, string | undefined>): Argv | undefined {
  const command = args[0] ?? "";
  const q = Object.hasOwn(QUICK, command) ? QUICK[command]! : undefined;
  if (!q) return undefined;
  const names = NAMES.get(command)!;
  if (Object.keys(env).some((name) => standsForFlag(name, names))) return undefined;
  const words: string[] = [];
  const on = new Set<string>();
  let value: string | undefined;
  const rest = args.slice(1);
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === "help") return undefined; // (yargs shows the help for a word `help`, wherever it is)
    if (!a.startsWith("-")) words.push(a);
    else if (a.startsWith("--") && SWITCHES.has(a.slice(2)) && !on.has(a.slice(2))) on.add(a.slice(2));
    else if (q.valued && a === `--${q.valued}` && value === undefined && rest[i + 1]?.startsWith("-") === false) {
      value = rest[++i];
    } else return undefined;
  }
  if (q.valued && value === undefined) return undefined;
  const variadic = q.positionals.at(-1)!.endsWith("..");
  if (words.length < q.positionals.length - (variadic ? 1 : 0)) return undefined;
  if (!variadic && words.length > q.positionals.length) return undefined;
  const argv: Record<string, unknown> = { _: [command], $0: "wopack" };
  for (const [name, o] of Object.entries(flagsOf(q))) {
    if ("default" in o) argv[name] = argv[camel(name)] = o.default;
  }
  for (const [i, p] of q.positionals.entries()) argv[p.replace(/\.\.$/, "")] = p.endsWith("..") ? words.slice(i) : words[i];
  if (q.valued) argv[q.valued] = value;
  for (const s of on) argv[s] = true;
  // (no dryRun for upload: it has no --dry-run, and yargs' argv has none either)
  return argv as Argv;
}
