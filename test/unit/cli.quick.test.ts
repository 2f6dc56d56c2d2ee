// main.ts parses a plain `wopack upload <out> [archives..]` without yargs (cli/quick.ts). Over generated
// command lines and environments, whatever the quick path takes it must hand the command the very argv
// yargs (cli/yargsCli.ts, with the real command table and upload's real flags) hands it; what it leaves,
// yargs parses as before.
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

/** The argv yargs hands upload's run for `args` with `env` (WOPACK_* variables only), or undefined. */
async function yargsArgv(args: string[], env: Record<string, string>): Promise<Record<string, unknown> | undefined> {
  for (const k of Object.keys(process.env)) if (/^WOPACK/.test(k)) delete process.env[k];
  Object.assign(process.env, env);
  let got: Record<string, unknown> | undefined;
  const table = await Promise.all(
    COMMANDS.map(async (c) => {
      if (!c.command.startsWith("upload ")) return c;
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
    ),
    fc.constantFrom("1", "true", "false", "json", "x"),
  ),
  { selector: ([name]) => name, maxLength: 4 },
);

describe("the quick path of `wopack upload`", () => {
  it("hands the command what yargs hands it, for every command line it takes", async () => {
    let taken = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(word, word, flag), { maxLength: 6 }), envs, async (rest, envList) => {
        const args = ["upload", ...rest];
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

  it("leaves every WOPACK_* variable that names one of upload's flags (as yargs knows them) to yargs", async () => {
    const { default: yargs } = await import("yargs");
    const { GLOBAL_FLAGS, OUTPUT_FLAGS } = await import("../../src/cli/flags.js");
    const upload = await COMMANDS.find((c) => c.command.startsWith("upload "))!.load();
    const y = upload.builder(yargs([]).options({ ...OUTPUT_FLAGS, ...GLOBAL_FLAGS }) as never) as unknown as {
      getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> };
    };
    const { key, alias } = y.getOptions();
    const names = [...Object.keys(key), ...Object.values(alias).flat(), "out", "archives"];
    expect(names).toEqual(expect.arrayContaining(["upload-retries", "hook-timeout", "hooks", "json"]));
    for (const name of names.filter((n) => !/[A-Z]/.test(n))) {
      const variable = `WOPACK_${name.toUpperCase().replace(/-/g, "_")}`;
      expect(quickArgv(["upload", "out"], { [variable]: "1" }), variable).toBeUndefined();
    }
  });

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
  ] as const)("leaves %s to yargs", (_, args, env) => {
    expect(quickArgv(args, env)).toBeUndefined();
  });
});
