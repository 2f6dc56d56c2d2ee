#!/usr/bin/env node
// Part of `npm run build`: the CLI's start-up. Node 20 resolves, reads and compiles every module of an ESM
// graph one by one (some 0.3-0.5 ms each, before any of its code runs; a CommonJS one is also scanned for its
// exports): wopack's own ~120 modules and its dependencies' hundreds (zod alone is 95, yargs 40)
// took ~0.1 s of every command. So the CLI is bundled from tsc's output into dist/cli-bundle/: main.js (what
// every command runs: argument parsing, output), a chunk for each command's own code and what it shares with
// others (`wopack upload` loads none of the pack stack), and the two workers' entries.
// - Everything in it comes from this one bundle: one copy of each class (`instanceof WopackError` holds
//   between the CLI and the library code it runs). dist/index.js, the library API, stays tsc's files.
// - Its files sit two folders below the package, as tsc's do, and beside each other: the paths taken from
//   import.meta.url (native bindings, package.json, the config schema, the workers) still hold.
// - sharp and libheif-js (native code, wasm) stay packages; the rest is plain JavaScript, folded in.
// - Source maps (*.js.map, through tsc's) name src/'s files: `node --enable-source-maps` shows their lines.
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { rolldown } from "rolldown";

const root = path.resolve(import.meta.dirname, "..");
const dist = path.join(root, "dist");
const out = path.join(dist, "cli-bundle");
/** Packages loaded from node_modules at run time: native code, wasm, files they read by path. */
const EXTERNAL = ["sharp", "libheif-js", "fsevents"];

/**
 * yargs measures every help line with string-width, whose first call compiles a large emoji regex (~40 ms
 * of a 0.25 s `--help`). Printable ASCII is one column a character: only other text goes to string-width.
 */
const asciiFirst = {
  name: "ascii-first-string-width",
  resolveId(id, importer) {
    // (the importer relative to the package: the bundle names this module in a comment, the same in any clone)
    if (id === "string-width" && !importer?.startsWith("\0")) return { id: `\0ascii-width:${path.relative(root, importer)}` };
  },
  async load(id) {
    if (!id.startsWith("\0ascii-width:")) return;
    const importer = path.join(root, id.slice("\0ascii-width:".length));
    const real = (await this.resolve("string-width", importer, { skipSelf: true })).id;
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
    // (on the line it replaces: the lines below keep their place, and the source map stays right)
    const replaced = code.replace(
      /\bconst (\w+) = new Intl\.Segmenter\(\);/g,
      (_, name) =>
        `let ${name}Made; const ${name} = { segment: (text) => (${name}Made ??= new Intl.Segmenter()).segment(text) };`,
    );
    return { code: replaced, map: null };
  },
};

/** tsc's source map of each of its files, so that the bundle's maps lead to src/ and not to dist/. */
const tscMaps = {
  name: "tsc-source-maps",
  load(id) {
    if (!id.startsWith(dist) || !id.endsWith(".js") || !existsSync(`${id}.map`)) return;
    return { code: readFileSync(id, "utf8"), map: readFileSync(`${id}.map`, "utf8") };
  },
};

const bundle = await rolldown({
  input: {
    main: path.join(dist, "cli", "main.js"),
    // (started as workers by their path beside the module that starts them: new URL("./x.js", import.meta.url))
    heicWorker: path.join(dist, "convert", "heicWorker.js"),
    readBackWorker: path.join(dist, "archive", "readBackWorker.js"),
  },
  platform: "node",
  logLevel: "warn",
  plugins: [tscMaps, asciiFirst, segmenterOnUse],
  // jsonc-parser's and exifr's "main" are UMD builds, loaded as CommonJS; their "module" is ESM
  resolve: { mainFields: ["module", "main"] },
  external: (id) => id.startsWith("node:") || EXTERNAL.some((name) => id === name || id.startsWith(`${name}/`)),
});
rmSync(out, { recursive: true, force: true });
const { output } = await bundle.write({
  dir: out,
  format: "esm",
  entryFileNames: "[name].js",
  chunkFileNames: "[name].js",
  sourcemap: true,
  sourcemapExcludeSources: true,
  // core/ and spec/ (small, pure, importing nothing but each other and Node): one chunk rather than the dozen
  // the commands' shares would cut them into (~4 ms of `wopack upload`, ~0.3 ms a file); but spec/shard.ts,
  // whose node:crypto takes ~5 ms to load, which `--help` and `--version` need not pay
  codeSplitting: { groups: [{ name: "core", test: /dist[\\/](core|spec)[\\/](?!shard\.js$)/ }] },
});
await bundle.close();

// A worker is started by its path beside the chunk that starts it: each such file must be in the bundle.
for (const chunk of output.filter((o) => o.type === "chunk")) {
  for (const [, name] of chunk.code.matchAll(/new URL\("\.\/([^"]+)", import\.meta\.url\)/g)) {
    if (!existsSync(path.join(out, name)))
      throw new Error(`${chunk.fileName} starts ${name}, which dist/cli-bundle/ does not hold`);
  }
}
