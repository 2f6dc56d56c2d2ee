#!/usr/bin/env node
// Part of `npm run build`: folds yargs (some 40 small modules, ~0.1 s to resolve and load one by one) into
// one chunk beside dist/cli/main.js, so that `--help` answers in well under a quarter second. Only yargs is
// folded in: wopack's own modules stay the files tsc wrote (one copy of each class, so `instanceof` holds).
import { rmSync } from "node:fs";
import path from "node:path";
import { rolldown } from "rolldown";

const cli = path.resolve(import.meta.dirname, "..", "dist", "cli");
const main = path.join(cli, "main.js");

/**
 * yargs measures every help line with string-width, whose first call compiles a large emoji regex (~40 ms
 * of a 0.25 s `--help`). Printable ASCII is one column a character: only other text goes to string-width.
 */
const asciiFirst = {
  name: "ascii-first-string-width",
  resolveId(id, importer) {
    if (id === "string-width" && !importer?.startsWith("\0")) return { id: `\0ascii-width:${importer}` };
  },
  async load(id) {
    if (!id.startsWith("\0ascii-width:")) return;
    const real = (await this.resolve("string-width", id.slice("\0ascii-width:".length), { skipSelf: true })).id;
    return `import stringWidth from ${JSON.stringify(real)};
const printable = /^[\\x20-\\x7e]*$/;
export default function width(text, options) {
  return typeof text === "string" && printable.test(text) ? text.length : stringWidth(text, options);
}`;
  },
};

const bundle = await rolldown({
  input: main,
  platform: "node",
  logLevel: "warn",
  plugins: [asciiFirst],
  external: (id, importer) => id.startsWith("node:") || (importer === main && id.startsWith(".")),
});
await bundle.write({ dir: cli, format: "esm", entryFileNames: "main.js", chunkFileNames: "vendor-[name].js", sourcemap: false });
await bundle.close();
// tsc's map described the file before bundling
rmSync(`${main}.map`, { force: true });
