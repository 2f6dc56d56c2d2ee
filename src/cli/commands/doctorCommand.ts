// `wopack doctor`: what this installation runs with, and what is wrong with it, each with its fix.
import { defineCommand } from "../command.js";
import { EXIT } from "../exit.js";
import { GROUP } from "../flags.js";
import { formatDoctor } from "../format.js";

export const doctorCommand = defineCommand({
  builder: (y) =>
    y
      .options({
        staging: {
          type: "string",
          describe: "also check this staging folder: there, readable, writable (watch moves out of it), which file system",
        },
        out: {
          type: "string",
          describe: "also check this output folder: writable (or creatable), which file system, free space",
        },
      })
      .group(["staging", "out"], GROUP.own)
      .example("wopack doctor", "the decoders and versions")
      .example("wopack doctor --staging staging --out outbox", "and the folders a service uses")
      .example("wopack doctor --config site.json", "and that config, and the platform it uploads to")
      .epilog("Exit codes: 0 nothing wrong (warnings may be listed), 1 something is wrong (each with its fix), 2 usage error."),
  async run(argv) {
    if (argv.printConfig) {
      const { configFor, printConfig } = await import("../context.js");
      const { config, path: configPath } = await configFor(argv, argv.staging);
      return printConfig(config, configPath);
    }
    const { doctor } = await import("../../run/doctor.js");
    const checks = await doctor({ staging: argv.staging, out: argv.out, configPath: argv.config });
    if (argv.json) process.stdout.write(JSON.stringify({ checks }, null, 2) + "\n");
    else process.stdout.write(formatDoctor(checks) + "\n");
    return checks.some((c) => c.status === "error") ? EXIT.refused : EXIT.ok;
  },
});
