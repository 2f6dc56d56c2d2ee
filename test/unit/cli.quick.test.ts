// main.ts parses a plain `wopack upload <out> [archives..]` and `wopack pack <staging> --out <dir>` without
// yargs (cli/quick.ts). Over generated command lines and environments, whatever the quick path takes it must
// hand the command the very argv yargs (cli/yargsCli.ts, with the real command table and the command's real
// flags) hands it; what it leaves, yargs parses as before.
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/cli/commandTable.js";
import { quickArgv } from "../../src/cli/quick.js";
import { runWithYargs } from "../../src/cli/yargsCli.js";

const saved = { ...process.env };
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

/** The argv yargs hands the run of the command `args` name for `args` with `env` (WOPACK_* variables only), or undefined. */
async function yargsArgv(args: string[], env: Record<string, string>): Promise<Record<string, unknown> | undefined> {
  for (const k of Object.keys(process.env)) if (/^WOPACK/.test(k)) delete process.env[k];
  Object.assign(process.env, env);
  let got: Record<string, unknown> | undefined;
  const table = await Promise.all(
    COMMANDS.map(async (c) => {
      if (!c.command.startsWith(`${args[0]} `)) return c;
      const real = await c.load();
      const load = async () => ({
        builder: real.builder,
        run: async (argv: Record<string, unknown>) => {
          got = { ...argv };
          return 0;
        },
      });
      return { ...c, load: load as typeof c.load };
    }),
  );
  const code = await runWithYargs(args, table);
  return code === 0 ? got : undefined;
}

const word = fc.oneof(
  fc.constantFrom(
    "out",
    "/srv/outbox",
    "batch-1.zip",
    "pack",
    "upload",
    "status",
    "123",
    "0x10",
    "1e3",
    "a=b",
    "",
    " ",
    "é ü",
    "--",
    "help",
  ),
  fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !s.startsWith("-")),
);
const flag = fc.constantFrom("--json", "--quiet", "--verbose");
/** wopack's own variables, other commands' flags, upload's flags, and names yargs reads oddly */
const envs = fc.uniqueArray(
  fc.tuple(
    fc.constantFrom(
      "WOPACK_API_KEY",
      "WOPACK_API_URL",
      "WOPACK_HTTP_TOKEN",
      "WOPACK_HEIC_DECODER",
      "WOPACK_MALLOC",
      "WOPACK_TEST_TMP",
      "WOPACK_SETTLE",
      "WOPACK_MAX_IMAGE_SIZE",
      "WOPACK_DRY_RUN",
      "WOPACK_OUT",
      "WOPACK_JSON",
      "WOPACK_QUIET",
      "WOPACK_UPLOAD_RETRIES",
      "WOPACK_ATTENTION_CLEARED",
      "WOPACK_HOOK_TIMEOUT",
      "WOPACK_PRINT_CONFIG",
      "WOPACK_LOG_FORMAT",
      "WOPACK_UPLOADRETRIES",
      "WOPACK",
      "WOPACKX",
      "WOPACK_A__B",
      "WOPACK_upload_retries",
      "WOPACK_H",
      "WOPACK_V",
      "WOPACK_HELP",
      "WOPACK_VERSION",
    ),
    fc.constantFrom("1", "true", "false", "json", "x"),
  ),
  { selector: ([name]) => name, maxLength: 4 },
);

describe("the quick path of `wopack upload` and `wopack pack`", () => {
  /** pack's line: <staging>, `--out <dir>` and switches in any order, at times a word, a switch or --out more */
  const packLine = fc
    .tuple(
      word,
      word,
      fc.subarray(["--json", "--quiet", "--verbose"]),
      fc.oneof({ arbitrary: fc.constant([]), weight: 3 }, fc.array(fc.oneof(word, flag, fc.constant("--out")), { maxLength: 2 })),
    )
    .chain(([staging, out, switches, extra]) =>
      fc.shuffledSubarray([[staging], ["--out", out], ...switches.map((s) => [s]), ...extra.map((e) => [e])], {
        minLength: 2 + switches.length + extra.length,
      }),
    )
    .map((parts) => parts.flat());
  it.each([
    ["upload", fc.array(fc.oneof(word, word, flag), { maxLength: 6 })],
    ["pack", packLine],
  ] as const)("hands %s what yargs hands it, for every command line it takes", async (command, lines) => {
    let taken = 0;
    await fc.assert(
      fc.asyncProperty(lines, envs, async (rest, envList) => {
        const args = [command, ...rest];
        const env = Object.fromEntries(envList);
        const quick = quickArgv(args, env);
        if (!quick) return;
        taken++;
        expect(await yargsArgv(args, env)).toStrictEqual(quick);
      }),
      { numRuns: 400 },
    );
    // (about one generated line in five is the quick path's: ~80 of 400, never near the floor; at 200 runs and
    // a floor of 40 it failed one run in five)
    expect(taken).toBeGreaterThan(40);
  });

  it.each([
    ["upload", ["upload", "out"], ["out", "archives"], ["upload-retries", "hook-timeout", "hooks", "json"]],
    ["pack", ["pack", "staging", "--out", "out"], ["staging"], ["out", "settle", "review", "dry-run", "hook-timeout", "json"]],
  ] as const)(
    "leaves every WOPACK_* variable that names one of %s's flags (as yargs knows them) to yargs",
    async (command, line, positionals, some) => {
      const { default: yargs } = await import("yargs");
      const { GLOBAL_FLAGS, OUTPUT_FLAGS } = await import("../../src/cli/flags.js");
      const entry = await COMMANDS.find((c) => c.command.startsWith(`${command} `))!.load();
      const y = entry.builder(yargs([]).options({ ...OUTPUT_FLAGS, ...GLOBAL_FLAGS }) as never) as unknown as {
        getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> };
      };
      const { key, alias } = y.getOptions();
      const names = [...Object.keys(key), ...Object.values(alias).flat(), ...positionals];
      expect(names).toEqual(expect.arrayContaining([...some]));
      expect(quickArgv(line, {})).toBeDefined();
      for (const name of names.filter((n) => !/[A-Z]/.test(n))) {
        const variable = `WOPACK_${name.toUpperCase().replace(/-/g, "_")}`;
        expect(quickArgv(line, { [variable]: "1" }), variable).toBeUndefined();
      }
    },
  );

  it.each([
    ["no <out>", ["upload"], {}],
    ["help", ["upload", "out", "--help"], {}],
    ["a short flag", ["upload", "out", "-q"], {}],
    ["a flag twice", ["upload", "out", "--quiet", "--quiet"], {}],
    ["a negated switch", ["upload", "out", "--no-quiet"], {}],
    ["a switch with a value", ["upload", "out", "--quiet=false"], {}],
    ["camelCase", ["upload", "out", "--printConfig"], {}],
    ["an end of flags", ["upload", "--", "out"], {}],
    ["upload's own flag", ["upload", "out", "--hooks"], {}],
    ["a flag with a value", ["upload", "out", "--upload-retries", "3"], {}],
    ["an unknown flag", ["upload", "out", "--uploaded-too", "x"], {}],
    ["another command", ["status", "out"], {}],
    ["upload not first", ["--quiet", "upload", "out"], {}],
    ["a flag's variable", ["upload", "out"], { WOPACK_UPLOAD_RETRIES: "3" }],
    ["a positional's variable", ["upload", "out"], { WOPACK_OUT: "x" }],
    ["a nested variable", ["upload", "out"], { WOPACK_A__B: "x" }],
    ["a variable yargs reads without its _", ["upload", "out"], { WOPACKX: "x" }],
    ["WOPACK alone", ["upload", "out"], { WOPACK: "x" }],
    ["pack without --out", ["pack", "staging"], {}],
    ["pack's --out without a value", ["pack", "staging", "--out"], {}],
    ["pack's --out with a flag for a value", ["pack", "staging", "--out", "--json"], {}],
    ["pack's --out=", ["pack", "staging", "--out=x"], {}],
    ["pack's --out twice", ["pack", "staging", "--out", "x", "--out", "y"], {}],
    ["pack with two stagings", ["pack", "a", "b", "--out", "x"], {}],
    ["pack without a staging", ["pack", "--out", "x"], {}],
    ["pack's own flag", ["pack", "staging", "--out", "x", "--dry-run"], {}],
    ["pack's --out from a variable", ["pack", "staging"], { WOPACK_OUT: "x" }],
    ["a variable of pack's flags", ["pack", "staging", "--out", "x"], { WOPACK_REVIEW: "false" }],
  ] as const)("leaves %s to yargs", (_, args, env) => {
    expect(quickArgv(args, env)).toBeUndefined();
  });
});
