#!/usr/bin/env node
// Part of `npm run build`: start-up. Node 20 resolves, reads and compiles every module of an ESM graph one
// by one (some 0.3-0.5 ms each, before any of its code runs), and wopack's dependencies come as hundreds of
// small files: zod alone is 95 modules, pino 30, yargs 40.
// 1. yargs is folded into one chunk beside dist/cli/main.js, so that `--help` answers in well under a
//    quarter second;
// 2. zod, pino and jsonc-parser are each folded into one file of dist/vendor/, and dist's imports of them
//    point there (`wopack upload` of an empty outbox: 0.27 -> 0.20 s of CPU).
// wopack's own modules stay the files tsc wrote, each at its path (one copy of each class, so `instanceof`
// holds; paths taken from import.meta.url, such as the native bindings' and the workers', still hold).
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { rolldown } from "rolldown";

const dist = path.resolve(import.meta.dirname, "..", "dist");
const cli = path.join(dist, "cli");
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

/**
 * string-width (three copies of it come with yargs) makes an Intl.Segmenter when it is loaded: ICU's word
 * break data, ~5 ms of every command's start-up, for text that is ASCII (asciiFirst) all but never. It is
 * made on first use instead.
 */
const segmenterOnUse = {
  name: "segmenter-on-first-use",
  transform(code, id) {
    if (!/[\\/]string-width[\\/]index\.js$/.test(id)) return;
    return code.replace(
      /\bconst (\w+) = new Intl\.Segmenter\(\);/g,
      (_, name) =>
        `let ${name}Made;\nconst ${name} = { segment: (text) => (${name}Made ??= new Intl.Segmenter()).segment(text) };`,
    );
  },
};

const bundle = await rolldown({
  input: main,
  platform: "node",
  logLevel: "warn",
  plugins: [asciiFirst, segmenterOnUse],
  external: (id, importer) => id.startsWith("node:") || (importer === main && id.startsWith(".")),
});
await bundle.write({ dir: cli, format: "esm", entryFileNames: "main.js", chunkFileNames: "vendor-[name].js", sourcemap: false });
await bundle.close();
// tsc's map described the file before bundling
rmSync(`${main}.map`, { force: true });

/** The packages folded into dist/vendor/<name>.js: pure JavaScript, no native parts, no files read at run time. */
const VENDORED = ["zod", "pino", "jsonc-parser"];
const vendorDir = path.join(dist, "vendor");
rmSync(vendorDir, { recursive: true, force: true });
const vendor = await rolldown({
  input: Object.fromEntries(VENDORED.map((name) => [name, name])),
  platform: "node",
  logLevel: "warn",
  // jsonc-parser's "main" is a UMD build whose requires a bundler cannot follow; its "module" is ESM
  resolve: { mainFields: ["module", "main"] },
  external: (id) => id.startsWith("node:"),
});
await vendor.write({ dir: vendorDir, format: "esm", entryFileNames: "[name].js", chunkFileNames: "shared-[name].js" });
await vendor.close();

// `from "zod"` (or `import("zod")`) in dist's modules -> the vendored file, relative to the importer
const bare = new RegExp(`((?:\\bfrom|\\bimport)\\s*\\(?\\s*)(["'])(${VENDORED.join("|")})\\2`, "g");
for (const file of readdirSync(dist, { recursive: true, encoding: "utf8" })) {
  if (!file.endsWith(".js") || file.startsWith(`vendor${path.sep}`)) continue;
  const at = path.join(dist, file);
  const text = readFileSync(at, "utf8");
  const rewritten = text.replace(bare, (_, lead, quote, name) => {
    const rel = path
      .relative(path.dirname(at), path.join(vendorDir, `${name}.js`))
      .split(path.sep)
      .join("/");
    return `${lead}${quote}${rel.startsWith(".") ? rel : `./${rel}`}${quote}`;
  });
  if (rewritten !== text) writeFileSync(at, rewritten);
}
