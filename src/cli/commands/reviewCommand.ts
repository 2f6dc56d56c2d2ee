// `wopack review <targets..>`: (re)makes the review page of archives, any zip included (SPEC §13).
import { defineCommand } from "../command.js";
import { EXIT } from "../exit.js";
import { formatReview } from "../format.js";

export const reviewCommand = defineCommand({
  builder: (y) =>
    y
      .positional("targets", {
        type: "string",
        array: true,
        demandOption: true,
        describe: "archives (.zip) or folders of archives",
      })
      .example("wopack review outbox", "make every archive's review page again")
      .example("wopack review theirs.zip", "a review page for any zip, from the zip alone")
      .epilog("Exit codes: 0 every page written, 1 an archive could not be reviewed (named), 2 usage error."),
  async run(argv) {
    const { configFor, printConfig } = await import("../context.js");
    const { config, path: configPath } = await configFor(argv);
    if (argv.printConfig) return printConfig(config, configPath);
    const { review } = await import("../../run/review.js");
    const result = await review(argv.targets, config);
    process.stdout.write((argv.json ? JSON.stringify(result, null, 2) : formatReview(result)) + "\n");
    return result.problems.length ? EXIT.refused : EXIT.ok;
  },
});
