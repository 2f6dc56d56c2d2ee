// `wopack upload <out> [archives..]`: committed archives to the platform, each exactly once (SPEC §12).
import { interruptedError } from "../../core/errors.js";
import type { HookRun } from "../../core/types.js";
import { defineCommand } from "../command.js";
import { EXIT } from "../exit.js";
import { GROUP, HOOK_FLAGS, RESEND_FLAGS, SEND_FLAGS } from "../flags.js";
import { formatHooks, formatUploads } from "../format.js";
import { uploadBar } from "../progress.js";

export const uploadCommand = defineCommand({
  builder: (y) =>
    y
      .positional("out", { type: "string", demandOption: true, describe: "the folder pack writes archives to" })
      .positional("archives", { type: "string", array: true, describe: "only these archives (default: all not yet sent)" })
      .options({
        ...SEND_FLAGS,
        ...RESEND_FLAGS,
        ...HOOK_FLAGS,
      })
      .group([...Object.keys(SEND_FLAGS), "attention-cleared"], GROUP.own)
      .group(["hooks", ...Object.keys(HOOK_FLAGS)], GROUP.after)
      .example("wopack upload out", "send what is not sent yet (WOPACK_API_KEY)")
      .example("wopack upload out --hooks --on-archive ./hook", "run a failed --on-archive command again")
      .example("wopack upload out batch-1.zip --attention-cleared", "send again one that needed attention, its old batch deleted")
      .epilog(
        "Exit codes: 0 all sent (or nothing to send) and moved to --uploaded-to, 1 some failed, or were sent but not moved to --uploaded-to (retried next run), 2 usage error, 3 I/O failure, 5 the platform refused the key, 130 interrupted.",
      ),
  async run(argv) {
    const { checkedFlags, configFor, logFor, onArchiveFlag, printConfig, signalController, usage } = await import(
      "../context.js"
    );
    const out = argv.out;
    const flags = await checkedFlags(argv);
    const { config, path: configPath } = await configFor(argv);
    if (argv.printConfig) return printConfig(config, configPath);
    const bar = !argv.json && !argv.quiet && process.stderr.isTTY ? uploadBar(process.stderr) : undefined;
    const log = logFor(argv, bar ? { beforeWrite: bar.clear } : {});
    const { logger } = log;
    // JSON logs carry the progress as lines (each one a log line of schema/log-line.schema.json)
    const progressLines = (argv.logFormat ?? (argv.json ? "json" : "text")) === "json";
    const { controller, dispose } = signalController(
      () => logger.warn("interrupted: the upload stops; the next run resumes it"),
      interruptedError("interrupted", "run wopack upload again: it resumes where the platform stands"),
    );
    try {
      let hooks: HookRun[] = [];
      if (argv.hooks) {
        const command =
          onArchiveFlag(argv.onArchive) ?? usage("--hooks", "", 'give the command to run again: --on-archive "<command>"');
        const { rerunHooks } = await import("../../run/onArchive.js");
        hooks = await rerunHooks({
          out,
          command,
          onArchiveTimeoutMs: flags["on-archive-timeout"],
          onArchiveRetries: flags["on-archive-retries"],
          logger,
          signal: controller.signal,
        });
        // only hooks to run again, and no platform configured: nothing to upload
        if (!process.env.WOPACK_API_URL && !config.upload.url) {
          process.stdout.write((argv.json ? JSON.stringify({ hooks }, null, 2) : formatHooks(hooks)) + "\n");
          return hooks.some((h) => !h.ok) ? EXIT.refused : EXIT.ok;
        }
      }
      const { upload } = await import("../../run/upload.js");
      const outcomes = await upload({
        out,
        config,
        archives: argv.archives ?? [],
        attentionCleared: argv.attentionCleared,
        uploadedTo: argv.uploadedTo,
        rateBytesPerSec: flags["upload-rate"],
        retries: flags["upload-retries"],
        logger,
        signal: controller.signal,
        onProgress: (p) => {
          bar?.update(p);
          if (progressLines) log.progress(p);
        },
      });
      bar?.done();
      const text = argv.hooks ? `${formatHooks(hooks)}\n${formatUploads(outcomes)}` : formatUploads(outcomes);
      process.stdout.write(
        (argv.json ? JSON.stringify({ uploads: outcomes, ...(argv.hooks ? { hooks } : {}) }, null, 2) : text) + "\n",
      );
      const notDone = outcomes.some((o) => o.result === "failed" || o.result === "attention" || o.notMovedTo !== undefined);
      return notDone || hooks.some((h) => !h.ok) ? EXIT.refused : EXIT.ok;
    } finally {
      bar?.done();
      dispose();
    }
  },
});
