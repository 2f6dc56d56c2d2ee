// `wopack validate <staging or archive.zip>`: every way the input breaks the format and the config (SPEC §4).
import { defineCommand } from "../command.js";
import { EXIT } from "../exit.js";
import { GROUP, METADATA_FLAGS } from "../flags.js";
import { formatValidation } from "../format.js";
import { SCHEMA_VERSION, type ValidateOutput } from "../output.js";

export const validateCommand = defineCommand({
  builder: (y) =>
    y
      .positional("target", { type: "string", demandOption: true, describe: "a staging folder or an archive (.zip)" })
      .options(METADATA_FLAGS)
      .option("out", {
        type: "string",
        describe: "the --out of pack: its ledger says which work-order ids earlier runs packed (a staging folder only)",
      })
      .group([...Object.keys(METADATA_FLAGS), "out"], GROUP.own)
      .example("wopack validate staging", "every problem pack would refuse; writes nothing")
      .example("wopack validate staging --out out", "also what the ledger of out refuses (ids packed before, in another case)")
      .example("wopack validate batch-20261202T020000Z-1.zip", "any archive against the format")
      .epilog("Exit codes: 0 valid, 1 problems found (each listed), 2 usage or config error."),
  async run(argv) {
    const { checkedFlags, configFor, printConfig } = await import("../context.js");
    const target = argv.target;
    const flags = await checkedFlags(argv);
    const { config, path: configPath } = await configFor(argv, target);
    if (argv.printConfig) return printConfig(config, configPath);
    const { validate } = await import("../../run/validate.js");
    const result = await validate(target, {
      config,
      metadataFile: argv.metadata,
      allowIncomplete: argv.allowIncomplete,
      out: argv.out,
      ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
    });
    const output: ValidateOutput = { schemaVersion: SCHEMA_VERSION, ...result };
    process.stdout.write((argv.json ? JSON.stringify(output, null, 2) : formatValidation(result)) + "\n");
    return result.problems.length ? EXIT.refused : EXIT.ok;
  },
});
