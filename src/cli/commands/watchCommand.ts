// `wopack watch <staging> --out <dir>`: packs work orders as they become ready, until SIGINT/SIGTERM (SPEC §4).
import { defineCommand } from "../command.js";
import { EXIT } from "../exit.js";
import { ARCHIVE_FLAGS, GROUP, HOOK_FLAGS, IMAGE_FLAGS, METADATA_FLAGS, READINESS_FLAGS, UPLOAD_FLAGS } from "../flags.js";

export const watchCommand = defineCommand({
  builder: (y) =>
    y
      .positional("staging", { type: "string", demandOption: true, describe: "the staging (hot) folder" })
      .options({
        out: { type: "string", demandOption: true, describe: "folder that receives the archives and reports" },
        "dry-run": {
          type: "boolean",
          default: false,
          describe: "report what would be packed as it becomes ready; take no lock, write and move nothing",
        },
        http: {
          type: "string",
          describe:
            "serve a read-only status page, /healthz and /metrics on [address:]port (loopback unless an address is given; another address needs WOPACK_HTTP_TOKEN, then sent as Authorization: Bearer)",
        },
        "health-file": { type: "string", describe: "heartbeat JSON for monitoring (default <out>/.wopack/health.json)" },
        ...READINESS_FLAGS,
        "batch-window": { type: "string", describe: "collect work orders ready within this long into one archive (default 0)" },
        poll: { type: "string", describe: "poll with stat every interval (default 1s) instead of file events: network shares" },
        ...METADATA_FLAGS,
        ...IMAGE_FLAGS,
        ...ARCHIVE_FLAGS,
        "move-to": { type: "string", describe: "where packed work orders go (default <staging>/../processed)" },
        "failed-to": {
          type: "string",
          describe: "where refused work orders go, with <id>.errors.json (default <staging>/../failed)",
        },
        ...HOOK_FLAGS,
        ...UPLOAD_FLAGS,
      })
      .group(["out", "dry-run", "http", "health-file"], GROUP.own)
      .group([...Object.keys(READINESS_FLAGS), "batch-window", "poll"], GROUP.readiness)
      .group(Object.keys(METADATA_FLAGS), GROUP.metadata)
      .group(Object.keys(IMAGE_FLAGS), GROUP.images)
      .group(Object.keys(ARCHIVE_FLAGS), GROUP.archives)
      .group(["move-to", "failed-to", ...Object.keys(HOOK_FLAGS), ...Object.keys(UPLOAD_FLAGS)], GROUP.after)
      .example("wopack watch staging --out out", "pack each work order once still for 30 s")
      .example("wopack watch in --out out --ready-marker .ok", "pack folders once they hold .ok")
      .example("wopack watch staging --out out --http 9464", "status page on 127.0.0.1:9464")
      .epilog(
        "Exit codes: 0 stopped by SIGINT/SIGTERM, 130 stopped with an archive rolled back or an upload cut, 2 usage or config error, 3 I/O failure at start (e.g. --http port taken), 4 another run holds --out, 5 the platform refused the key.",
      ),
  async run(argv) {
    const { checkedFlags, configFor, httpFlag, logFor, packingOptions, printConfig, settingsFor, signalController } =
      await import("../context.js");
    const { interruptedError } = await import("../../core/errors.js");
    const staging = argv.staging;
    const flags = await checkedFlags(argv);
    const { config, path: configPath } = await configFor(argv, staging);
    const packing = packingOptions(config, flags, argv);
    if (argv.printConfig) return printConfig(settingsFor("watch", config, packing).config, configPath);
    // watch's events are its log: on stdout, errors on stderr
    const log = logFor(argv, { out: process.stdout });
    const write = log.event;
    const { controller, dispose } = signalController(
      // (a plain line: the one `stopped` event is watch's own, once it has stopped)
      (signal) => log.logger.info(`${signal}: stopping (an archive in progress is rolled back)`),
      interruptedError("interrupted", "start watch again to go on"),
    );
    try {
      const { watch } = await import("../../run/watch.js");
      const summary = await watch({
        staging,
        out: argv.out,
        moveTo: argv.moveTo,
        failedTo: argv.failedTo,
        healthFile: argv.healthFile,
        http: httpFlag(argv.http, process.env.WOPACK_HTTP_TOKEN),
        dryRun: argv.dryRun,
        ...packing,
        signal: controller.signal,
        logger: log.logger,
        onEvent: write,
      });
      return summary.interrupted ? EXIT.interrupted : EXIT.ok;
    } finally {
      dispose();
    }
  },
});
