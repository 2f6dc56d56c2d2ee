// `wopack pack <staging> --out <dir>`: everything ready now, once (SPEC §4).
import { defineCommand } from "../command.js";
import { EXIT } from "../exit.js";
import {
  ARCHIVE_FLAGS,
  GROUP,
  HOOK_FLAGS,
  IMAGE_FLAGS,
  METADATA_FLAGS,
  PACK_OWN_FLAGS,
  READINESS_FLAGS,
  UPLOAD_FLAGS,
} from "../flags.js";
import { formatPackResult } from "../format.js";
import { type PackOutput, SCHEMA_VERSION } from "../output.js";
import { progressBar } from "../progress.js";

export const packCommand = defineCommand({
  builder: (y) =>
    y
      .positional("staging", { type: "string", demandOption: true, describe: "the staging folder" })
      .options({
        out: PACK_OWN_FLAGS.out,
        "dry-run": PACK_OWN_FLAGS["dry-run"],
        ...READINESS_FLAGS,
        repack: PACK_OWN_FLAGS.repack,
        ...METADATA_FLAGS,
        ...IMAGE_FLAGS,
        ...ARCHIVE_FLAGS,
        "move-to": PACK_OWN_FLAGS["move-to"],
        ...HOOK_FLAGS,
        ...UPLOAD_FLAGS,
      })
      .group(["out", "dry-run"], GROUP.own)
      .group([...Object.keys(READINESS_FLAGS), "repack"], GROUP.readiness)
      .group(Object.keys(METADATA_FLAGS), GROUP.metadata)
      .group(Object.keys(IMAGE_FLAGS), GROUP.images)
      .group(Object.keys(ARCHIVE_FLAGS), GROUP.archives)
      .group(["move-to", ...Object.keys(HOOK_FLAGS), ...Object.keys(UPLOAD_FLAGS)], GROUP.after)
      .example("wopack pack staging --out outbox", "pack what is ready now")
      .example("wopack pack staging --out outbox --dry-run", "the names each photo would get")
      .example("wopack pack staging --out outbox --settle 10m", "leave folders still being copied")
      .example("wopack pack staging --out outbox --upload", "and send each archive")
      .epilog(
        "Exit codes: 0 packed (or nothing to do), 1 some work orders refused or a hook, move or upload failed (or an uploaded archive not moved to --uploaded-to), 2 usage or config error (nothing written), 3 I/O failure (disk full: nothing half-written), 4 another run holds --out, 5 the platform refused the key, 130 interrupted, 70 a bug.",
      ),
  async run(argv) {
    const { checkedFlags, configFor, logFor, packingOptions, printConfig, settingsFor, signalController } = await import(
      "../context.js"
    );
    const staging = argv.staging;
    const flags = await checkedFlags(argv);
    const { config, path: configPath } = await configFor(argv, staging);
    const packing = packingOptions(config, flags, argv);
    if (argv.printConfig) return printConfig(settingsFor("pack", config, packing).config, configPath);
    const showProgress = !argv.json && !argv.quiet && process.stdout.isTTY && process.stderr.isTTY;
    const bar = showProgress ? progressBar(process.stderr) : undefined;
    const log = logFor(argv, bar ? { beforeWrite: bar.clear } : {});
    const { logger } = log;
    const { controller, dispose } = signalController(() =>
      logger.warn("interrupted: discarding the archive in progress (press Ctrl-C again to quit at once)"),
    );
    try {
      // (the image stack is loaded only by the commands that need it: upload and status start quicker)
      const { pack } = await import("../../run/pack.js");
      const result = await pack({
        staging,
        out: argv.out,
        dryRun: argv.dryRun,
        repack: argv.repack,
        moveTo: argv.moveTo,
        ...packing,
        signal: controller.signal,
        logger,
        onEvent: log.event,
        ...(bar ? { onProgress: bar.update } : {}),
      });
      bar?.done();
      const attention =
        result.refused.length ||
        result.moveFailures.length ||
        result.hooks.some((h) => !h.ok) ||
        result.uploads?.some((u) => u.result === "failed" || u.result === "attention" || u.notMovedTo !== undefined);
      const output: PackOutput = { schemaVersion: SCHEMA_VERSION, ...result };
      if (argv.json) process.stdout.write(JSON.stringify(output, null, 2) + "\n");
      // (the summary starts with the time, so that a cron log tells nights apart)
      else if (!argv.quiet || attention)
        process.stdout.write(`${new Date().toISOString()} ${formatPackResult(result, argv.verbose)}\n`);
      return attention ? EXIT.refused : EXIT.ok;
    } finally {
      bar?.done();
      dispose();
    }
  },
});
