import { readFileSync } from "node:fs";

/** wopack's version, from its package.json (the CLI's --version, review pages, log lines). */
export const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string })
  .version;
