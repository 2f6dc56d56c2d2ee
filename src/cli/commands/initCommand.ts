// `wopack init [dir]`: a commented starter config and its JSON Schema (SPEC §4, §10).
import { defineCommand } from "../command.js";
import { EXIT } from "../exit.js";
import { GROUP } from "../flags.js";

export const initCommand = defineCommand({
  builder: (y) =>
    y
      .positional("dir", { type: "string", default: ".", describe: "folder to write it in" })
      .options({
        force: { type: "boolean", default: false, describe: "replace an existing config" },
        "dry-run": { type: "boolean", default: false, describe: "print the config it would write; write nothing" },
      })
      .group(["force", "dry-run"], GROUP.own)
      .example("wopack init /srv/wopack", "write wopack.config.json and its JSON Schema there")
      .example("wopack init --dry-run", "print the starter config")
      .epilog(
        "Exit codes: 0 written, 2 a config is already there (--force replaces it) or the folder does not exist, 3 cannot write.",
      ),
  async run(argv) {
    const { initConfig } = await import("../../config/init.js");
    const { file, schema, content } = await initConfig(argv.dir, { force: argv.force, dryRun: argv.dryRun });
    if (argv.json) process.stdout.write(JSON.stringify({ config: file, schema, dryRun: argv.dryRun }, null, 2) + "\n");
    else if (argv.dryRun) process.stdout.write(`dry run: would write ${file} (and ${schema}):\n${content}`);
    else if (!argv.quiet)
      process.stdout.write(
        `wrote ${file} (it changes nothing until edited)\nand its JSON Schema, ${schema}\nedit it, then run: wopack pack <staging> --out <dir>\n`,
      );
    return EXIT.ok;
  },
});
