// `wopack ...`: the command line to the command it names and its exit code. A plain `wopack upload <out>
// [archives..]` (what a timer or an operator runs most) or `wopack pack <staging> --out <dir>` is parsed by
// cli/quick.ts: loading and setting up yargs is ~30 ms of CPU, and pack's flags ~40 ms more. Every other
// command line goes to yargs.
import { VERSION } from "../core/version.js";
import { COMMANDS, reportRun } from "./commandTable.js";
import { EXIT } from "./exit.js";
import { quickArgv } from "./quick.js";

export async function main(args: string[]): Promise<number> {
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-v")) {
    const { heicDecoderName } = await import("../convert/heicDecoder.js");
    process.stdout.write(`${VERSION} (HEIC decoder: ${heicDecoderName()})\n`);
    return EXIT.ok;
  }
  const quick = quickArgv(args, process.env);
  if (quick) {
    const entry = COMMANDS.find((c) => c.command.split(" ")[0] === args[0])!;
    try {
      return await (await entry.load()).run(quick as never);
    } catch (err) {
      return reportRun(err, args, quick, []);
    }
  }
  const { runWithYargs } = await import("./yargsCli.js");
  return runWithYargs(args, COMMANDS);
}

process.exitCode = await main(process.argv.slice(2));
