// A command of the CLI: its flags (for help and parsing) and what it runs. Each lives in commands/<name>.ts;
// main.ts is the table of them (each one's line and words for help), and loads a command's module only when
// the command line names it. The handler loads the code it needs when it runs, so --help stays quick.
import type { ArgumentsCamelCase, Argv } from "yargs";
import type { Common } from "./exit.js";

export interface Command<A> {
  /** the command's flags, in help's groups, with examples and exit codes */
  builder: (y: Argv) => Argv<A>;
  /** runs it; resolves to the exit code */
  run: (argv: ArgumentsCamelCase<A> & Common) => Promise<number>;
}

/** A command, its flags' types inferred from its builder. */
export function defineCommand<A>(c: Command<A>): Command<A> {
  return c;
}
