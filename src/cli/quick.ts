// The command lines main.ts runs without yargs, and the argv yargs would have handed the command for each
// (test/unit/cli.quick compares the two over generated command lines). The domain is narrow on purpose:
// `upload`, its positionals, and each of --json, --quiet, --verbose at most once. Anything else (help, any
// other flag or spelling, `--`, a WOPACK_* variable that may stand for one of upload's flags) is yargs' to parse.
import type { Common } from "./exit.js";
import { GLOBAL_FLAGS, HOOK_FLAGS, OUTPUT_FLAGS, RESEND_FLAGS, SEND_FLAGS } from "./flags.js";

type Argv = Common & Record<string, unknown>;

/**
 * The names yargs reads as upload's (its flags and their aliases, its positionals, help): a WOPACK_* variable
 * that spells one of them is a flag, yargs' to read. yargs drops any other WOPACK_* variable (wopack's own,
 * WOPACK_API_KEY..., or another command's flag, WOPACK_SETTLE...): so does the quick path.
 */
const UPLOAD_NAMES = new Set([
  ...Object.entries({ ...OUTPUT_FLAGS, ...GLOBAL_FLAGS, ...SEND_FLAGS, ...RESEND_FLAGS, ...HOOK_FLAGS }).flatMap(([name, o]) => [
    name,
    ...("alias" in o ? [o.alias] : []),
  ]),
  "out",
  "archives",
  "help",
  "version",
]);

/** A variable yargs may read as a flag of upload (or cannot be ruled out: WOPACK alone, nested names). */
function standsForFlag(name: string): boolean {
  if (!name.startsWith("WOPACK")) return false;
  const words = /^WOPACK_([A-Z0-9]+(?:_[A-Z0-9]+)*)$/.exec(name)?.[1];
  return words === undefined || UPLOAD_NAMES.has(words.toLowerCase().replace(/_/g, "-"));
}

const SWITCHES = new Set(["json", "quiet", "verbose"]);

/** yargs' argv for `args` (run with `env`), when the command line is in the quick path's domain. */
export function quickArgv(args: readonly string[], env: Record<string, string | undefined>): Argv | undefined {
  if (args[0] !== "upload") return undefined;
  if (Object.keys(env).some(standsForFlag)) return undefined;
  const positionals: string[] = [];
  const on = new Set<string>();
  for (const a of args.slice(1)) {
    if (!a.startsWith("-")) positionals.push(a);
    else if (a.startsWith("--") && SWITCHES.has(a.slice(2)) && !on.has(a.slice(2))) on.add(a.slice(2));
    else return undefined;
  }
  const [out, ...archives] = positionals;
  if (out === undefined) return undefined;
  return {
    _: ["upload"],
    $0: "wopack",
    out,
    archives,
    hooks: false,
    "attention-cleared": false,
    attentionCleared: false,
    json: on.has("json"),
    quiet: on.has("quiet"),
    verbose: on.has("verbose"),
    "print-config": false,
    printConfig: false,
  } as unknown as Argv; // (no dryRun: upload has no --dry-run, and yargs' argv has none either)
}
