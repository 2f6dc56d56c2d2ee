// `wopack status <out>`: where each committed archive stands (SPEC §12).
import { interruptedError } from "../../core/errors.js";
import { defineCommand } from "../command.js";
import { EXIT } from "../exit.js";
import { GROUP } from "../flags.js";
import { formatStatus } from "../format.js";

export const statusCommand = defineCommand({
  builder: (y) =>
    y
      .positional("out", { type: "string", demandOption: true, describe: "the folder pack writes archives to" })
      .options({
        refresh: { type: "boolean", default: false, describe: "ask the platform for the status of batches not final yet" },
        "max-age": {
          type: "string",
          describe: "exit 1 when an archive has waited this long without being uploaded (e.g. 2h): for monitoring",
        },
      })
      .group(["refresh", "max-age"], GROUP.own)
      .example("wopack status outbox", "where each archive stands")
      .example("wopack status outbox --max-age 2h --json", "exit 1 when one waits over 2 h")
      .epilog(
        "Exit codes: 0 nothing failed or stuck, 1 an upload failed, an archive needs attention, an archive uploaded was not moved to --uploaded-to, an archive waited past --max-age, or --refresh could not learn a batch's status, 2 usage error, 5 the platform refused the key.",
      ),
  async run(argv) {
    const { checkedFlags, configFor, printConfig, signalController } = await import("../context.js");
    const maxAge = (await checkedFlags(argv))["max-age"];
    const { config, path: configPath } = await configFor(argv);
    if (argv.printConfig) return printConfig(config, configPath);
    const { status } = await import("../../run/status.js");
    // (--refresh asks the platform: SIGINT/SIGTERM stop it with exit 130, as every other command)
    const { controller, dispose } = signalController(
      () => undefined,
      interruptedError("interrupted", "run wopack status again: nothing was journaled from the answers not read"),
    );
    const lines = await status(argv.out, { refresh: argv.refresh ? { config } : undefined, signal: controller.signal }).finally(
      dispose,
    );
    const stuck =
      maxAge === undefined ? [] : lines.filter((l) => l.state !== "uploaded" && Date.now() - Date.parse(l.since) > maxAge);
    process.stdout.write(
      (argv.json
        ? JSON.stringify({ archives: lines, stuck: stuck.map((l) => l.archive) }, null, 2)
        : formatStatus(lines, stuck)) + "\n",
    );
    // (uploaded, not moved where --uploaded-to says: work not done, as `upload` and /healthz say too)
    const bad = lines.some((l) => l.state === "failed" || l.state === "attention" || l.refreshError || l.notMoved);
    return bad || stuck.length ? EXIT.refused : EXIT.ok;
  },
});
