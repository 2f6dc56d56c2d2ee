// The CLI's commands: cli/main.ts (the quick path) and cli/yargsCli.ts parse a command line against them.
import { usageError, WopackError } from "../core/errors.js";
import { nearest } from "../spec/names.js";
import type { Command } from "./command.js";
import { type Common, report } from "./exit.js";

export interface CommandEntry {
  /** yargs' command line: the name and its positionals */
  command: string;
  describe: string;
  load: () => Promise<Command<never>>;
}

/** (each module's command, its flags' types given up: yargs checks them) */
const lazy = (load: () => Promise<unknown>) => load as () => Promise<Command<never>>;

/**
 * The commands, in the order help lists them: the line and the words help shows for each, and its module
 * (flags, examples, handler), loaded only when the command line names it: `wopack upload` loads none of
 * the other commands' code.
 */
export const COMMANDS: CommandEntry[] = [
  {
    command: "pack <staging>",
    describe: "pack every ready work order in <staging> into archives in --out, then exit",
    load: lazy(async () => (await import("./commands/packCommand.js")).packCommand),
  },
  {
    command: "watch <staging>",
    describe: "pack work orders as they become ready, until SIGINT/SIGTERM",
    load: lazy(async () => (await import("./commands/watchCommand.js")).watchCommand),
  },
  {
    command: "validate <target>",
    describe: "report every way a staging folder or an archive breaks the format and the config; change nothing",
    load: lazy(async () => (await import("./commands/validateCommand.js")).validateCommand),
  },
  {
    command: "upload <out> [archives..]",
    describe: "send committed archives in <out> to the platform's batch API, each exactly once, oldest first",
    load: lazy(async () => (await import("./commands/uploadCommand.js")).uploadCommand),
  },
  {
    command: "status <out>",
    describe: "one line per archive in <out>: committed, uploading, uploaded (batch), failed (why)",
    load: lazy(async () => (await import("./commands/statusCommand.js")).statusCommand),
  },
  {
    command: "review <targets..>",
    describe: "(re)make the review page (<archive>.html) of archives: any zip, or every zip in a folder",
    load: lazy(async () => (await import("./commands/reviewCommand.js")).reviewCommand),
  },
  {
    command: "prune <out>",
    describe: "say (or, with --delete, delete) the committed archives and processed work orders older than --older-than",
    load: lazy(async () => (await import("./commands/pruneCommand.js")).pruneCommand),
  },
  {
    command: "doctor",
    describe: "say what this installation runs with (HEIC decoder, libvips, threads, folders) and what is wrong, with the fix",
    load: lazy(async () => (await import("./commands/doctorCommand.js")).doctorCommand),
  },
  {
    command: "init [dir]",
    describe: "write a commented starter wopack.config.json",
    load: lazy(async () => (await import("./commands/initCommand.js")).initCommand),
  },
];

const NAMES = [...COMMANDS.map((c) => c.command.split(" ")[0]!), "completion"];

/** The hint of a usage error: the nearest known flag for an unknown one, and where the command's help is. */
export function usageHint(message: string, args: readonly string[], known: readonly string[]): string {
  const command = args.find((a) => NAMES.includes(a));
  const help = `wopack ${command ? `${command} ` : ""}--help`;
  const unknown = /^Unknown arguments?: (.+)$/.exec(message)?.[1]?.split(", ")[0];
  const near = unknown && nearest(unknown.replace(/^-+/, ""), [...new Set(known)]);
  return near ? `did you mean --${near}? (${help} lists the options)` : `see ${help}`;
}

/**
 * The exit code of a command that threw: a usage error is one line and its hint (the nearest of the `known`
 * flags for an unknown one, else where the command's help is), not the whole help.
 */
export function reportRun(err: unknown, args: readonly string[], parsed: Common, known: readonly string[]): number {
  if (err instanceof WopackError && err.code === "E_USAGE" && err.hint === usageError("").hint)
    return report(usageError(err.message, usageHint(err.message, args, known)), parsed);
  return report(err, parsed);
}
