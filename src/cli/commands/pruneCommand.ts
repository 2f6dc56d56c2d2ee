// `wopack prune <out> --older-than <age>`: retention for what is done; a dry run unless --delete (SPEC §13).
import { defineCommand } from "../command.js";
import { EXIT } from "../exit.js";
import { GROUP } from "../flags.js";
import { formatPrune } from "../format.js";

export const pruneCommand = defineCommand({
  builder: (y) =>
    y
      .positional("out", { type: "string", demandOption: true, describe: "the folder pack writes archives to" })
      .options({
        "older-than": { type: "string", demandOption: true, describe: "keep what was committed more recently (e.g. 30d, 12h)" },
        processed: { type: "string", describe: "also the work orders moved there (--move-to) once committed" },
        delete: { type: "boolean", default: false, describe: "delete; without it nothing is touched" },
      })
      .group(["older-than", "processed", "delete"], GROUP.own)
      .example("wopack prune out --older-than 30d", "what would go")
      .example("wopack prune out --older-than 30d --delete", "delete it")
      .example("wopack prune out --older-than 30d --processed done", "and the work orders in done/")
      .epilog(
        "Exit codes: 0 done (or nothing to prune), 2 usage error, 3 I/O failure (what could not be deleted is listed as failed), 4 another run holds <out>.",
      ),
  async run(argv) {
    const { checkedFlags, configFor, logFor, printConfig } = await import("../context.js");
    // (a bare number is refused, never read as seconds: "--older-than 30" once deleted what was just packed)
    const olderThanMs = (await checkedFlags(argv))["older-than"]!;
    // (a platform configured means the outbox uploads: nothing unconfirmed goes)
    const { config, path: configPath } = await configFor(argv);
    if (argv.printConfig) return printConfig(config, configPath);
    const { prune } = await import("../../run/prune.js");
    const result = await prune({
      out: argv.out,
      olderThanMs,
      config,
      processed: argv.processed,
      delete: argv.delete,
      logger: logFor(argv).logger,
    });
    process.stdout.write((argv.json ? JSON.stringify(result, null, 2) : formatPrune(result)) + "\n");
    return result.failed.length ? EXIT.io : EXIT.ok;
  },
});
