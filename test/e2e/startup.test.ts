// Start-up (issue 21 item 8): a command loads its own code and what it runs, nothing else. `wopack upload`
// starts in ~0.2 s of CPU, a large share of a whole upload: the pack/convert stack (sharp, the decoders),
// the other commands' modules or Node's fetch (undici, ~20 ms to load) loaded for it would show here.
// The CLI is bundled (scripts/bundle-cli.mjs): a chunk loaded stands for the modules its source map names.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, committedCopy, noiseJpeg, photoChecksOff, put, ROOT, tempDir, workspace } from "../helpers.js";
import { UploadServer } from "../upload-server.js";

const KEY = "wk_startup_key";
const COMMANDS = ["pack", "watch", "validate", "upload", "status", "review", "prune", "doctor", "init"];
/** What only packing, converting, checking pictures or serving needs. */
const HEAVY = /node_modules\/(sharp|@img|libheif-js|chokidar|prom-client|exifr|yauzl|csv-parse|p-limit)\//;
const PACK_STACK = /\/(src|dist)\/(convert|prepare|archive|plan|scan|review|validate|serve\/server)/;
/** zod and the config's schema: for a config file or a flag to check. */
const ZOD = /node_modules\/zod\/|\/config\/schema\.[jt]s$/;
const YARGS = /node_modules\/yargs\/|\/cli\/yargsCli\.[jt]s$/;
/** libvips, through sharp: for what the native binding does not decode (PNG, the formats converted, CMYK). */
const SHARP = /node_modules\/(sharp|@img)\//;
const NATIVE_BUILT = existsSync(path.join(ROOT, "native/build/Release/wopack_heif.node"));

let hooks: string;
let server: UploadServer;
beforeAll(async () => {
  const dir = await tempDir("wopack-startup-");
  // every module the run loads, ESM (through a loader hook) and Node's own (process.moduleLoadList)
  await writeFile(
    path.join(dir, "hooks.mjs"),
    `import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  appendFileSync(process.env.STARTUP_TEST_LOADED, url + "\\n");
  return next(url, context);
}
`,
  );
  hooks = path.join(dir, "register.mjs");
  await writeFile(
    hooks,
    `import { appendFileSync } from "node:fs";
import { register } from "node:module";
register("./hooks.mjs", import.meta.url);
process.on("exit", () => appendFileSync(process.env.STARTUP_TEST_LOADED, process.moduleLoadList.join("\\n") + "\\n"));
`,
  );
  server = await new UploadServer(KEY).start();
});
afterAll(async () => {
  await server?.stop();
});

/** The modules a run of the CLI loaded, and its exit code. */
async function loadedBy(args: string[]): Promise<{ code: number | null; modules: string[]; stderr: string }> {
  const log = path.join(await tempDir("wopack-loaded-"), "loaded.txt");
  await writeFile(log, "");
  const env = { ...process.env, NO_COLOR: "1", STARTUP_TEST_LOADED: log, WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY };
  const child = spawn(process.execPath, ["--import", hooks, BIN, ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const loaded = [...new Set((await readFile(log, "utf8")).split("\n").filter(Boolean))];
  return { code, modules: (await Promise.all(loaded.map(modulesOf))).flat(), stderr };
}

/**
 * What a file loaded holds: a chunk of the bundle, the modules its source map names (src/'s, and the
 * packages' files folded in); a chunk without a map holds none (it only re-exports, or is the bundler's
 * runtime), which is checked; any other file, itself.
 */
async function modulesOf(url: string): Promise<string[]> {
  if (!url.startsWith("file:") || !url.includes("/dist/cli-bundle/")) return [url];
  const file = fileURLToPath(url);
  const map = await readFile(`${file}.map`, "utf8").catch(() => undefined);
  if (map) return (JSON.parse(map) as { sources: string[] }).sources.map((s) => path.resolve(path.dirname(file), s));
  const code = await readFile(file, "utf8");
  if (!code.includes("rolldown/runtime"))
    expect(code.trim().split("\n"), url).toEqual([expect.stringMatching(/^export \{[^}]*\} from "[^"]*";$/)]);
  return [];
}

const commandModules = (modules: string[]) =>
  [...new Set(modules.flatMap((m) => /\/cli\/commands\/(\w+)Command\.[jt]s$/.exec(m)?.[1] ?? []))].sort();

describe("start-up: a command loads what it runs, nothing more", () => {
  it("wopack upload sends an archive without the pack stack, the other commands or fetch", async () => {
    const ws = await committedCopy(1);
    const run = await loadedBy(["upload", ws.out]);
    expect(run.code, run.stderr).toBe(0);
    expect(server.accepted().size).toBe(1);
    // (what it does load is seen: the protocol, the config's defaults; with no config file and no flag to
    // check, not the config's schema or zod, ~25 ms of CPU)
    for (const m of [/\/upload\/protocol\.[jt]s$/, /\/config\/defaults\.[jt]s$/])
      expect(
        run.modules.some((x) => m.test(x)),
        String(m),
      ).toBe(true);
    expect(run.modules.filter((m) => ZOD.test(m))).toEqual([]);
    // nor yargs (~30 ms): main.ts parses a plain upload command line itself (cli/quick.ts)
    expect(run.modules.filter((m) => YARGS.test(m))).toEqual([]);
    expect(commandModules(run.modules)).toEqual(["upload"]);
    expect(run.modules.filter((m) => HEAVY.test(m) || PACK_STACK.test(m))).toEqual([]);
    expect(
      run.modules.filter((m) => /undici/.test(m)),
      "fetch (undici)",
    ).toEqual([]);
  });

  it.each([
    ["a config file", "config", (dir: string) => ["--config", path.join(dir, "wopack.config.json")]],
    ["a flag to check", "flag", () => ["--upload-retries", "3"]],
  ])("wopack upload with %s loads zod to check it", async (_, what, extra) => {
    const ws = await committedCopy(1);
    await writeFile(path.join(ws.dir, "wopack.config.json"), '{ "upload": { "retries": 3 } }');
    const run = await loadedBy(["upload", ws.out, ...extra(ws.dir)]);
    expect(run.code, run.stderr).toBe(0);
    expect(
      run.modules.some((m) => ZOD.test(m)),
      what,
    ).toBe(true);
    // (a flag other than --json, --quiet, --verbose is yargs' to parse)
    expect(run.modules.some((m) => YARGS.test(m))).toBe(true);
  });

  it.each([
    [["--help"], []],
    [["--version"], []],
    ...COMMANDS.map((c) => [[c, "--help"], [c]] as [string[], string[]]),
    [["status", "no-such-outbox"], ["status"]],
    [["upload", "no-such-outbox"], ["upload"]],
  ])("wopack %j loads the modules of %j only", async (args, expected) => {
    const run = await loadedBy(args);
    expect(run.code).not.toBeNull();
    expect(commandModules(run.modules)).toEqual(expected);
    // (--version names the HEIC decoder, whose module it loads, but not sharp or libheif-js)
    const stack = args[0] === "--version" ? /^$/ : PACK_STACK;
    expect(run.modules.filter((m) => HEAVY.test(m) || stack.test(m))).toEqual([]);
    // (nor Node's crypto, ~5 ms: help hashes nothing; --version does load it, for the HEIC decoder's run id)
    if (args[0] === "--help") expect(run.modules).not.toContain("NativeModule crypto");
  });

  // sharp takes ~75 ms to load: a pack whose JPEGs the native binding decodes (pixel check, thumbnail,
  // measures) never calls it. The PNG rows show that the test sees sharp when it is loaded.
  const jpeg = () => noiseJpeg(640, 480, 3, 85);
  const png = () =>
    sharp({ create: { width: 64, height: 48, channels: 3, background: "#468" } })
      .png()
      .toBuffer();
  it.skipIf(!NATIVE_BUILT).each([
    ["two JPEGs", [], false, [jpeg, jpeg]],
    ["two JPEGs, dry run", ["--dry-run"], false, [jpeg, jpeg]],
    ["two JPEGs, photo checks off, no review page", ["--no-review", "checks off"], false, [jpeg, jpeg]],
    ["a JPEG and a PNG", [], true, [jpeg, png]],
    ["a PNG, dry run", ["--dry-run"], false, [png]],
  ] as const)("wopack pack of %s %j: sharp loaded: %s", async (_, flags, loadsSharp, photos) => {
    const ws = await workspace();
    for (const [i, make] of photos.entries())
      await put(ws.staging, `WO_1/meter-${i}.${make === png ? "png" : "jpg"}`, await make());
    const args = await Promise.all(flags.map(async (f) => (f === "checks off" ? photoChecksOff(ws.dir) : [f])));
    const run = await loadedBy(["pack", ws.staging, "--out", ws.out, ...args.flat()]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.modules.some((m) => SHARP.test(m))).toBe(loadsSharp);
    // (nor the upload stack: HTTP and TLS, ~15 ms, for a pack that sends nothing)
    expect(run.modules.filter((m) => /^NativeModule (https?|tls|_tls_wrap)$/.test(m))).toEqual([]);
  });
});

describe("the CLI bundle (scripts/bundle-cli.mjs)", () => {
  it("holds each module once, so that a class is one class (`instanceof WopackError`) whichever chunk asks", async () => {
    const dir = path.join(ROOT, "dist", "cli-bundle");
    const maps = (await readdir(dir)).filter((f) => f.endsWith(".js.map"));
    const chunksOf = new Map<string, string[]>();
    for (const map of maps) {
      for (const source of (JSON.parse(await readFile(path.join(dir, map), "utf8")) as { sources: string[] }).sources)
        chunksOf.set(source, [...(chunksOf.get(source) ?? []), map]);
    }
    expect([...chunksOf].filter(([, chunks]) => chunks.length > 1)).toEqual([]);
    // (and the modules are there: the errors, each command, the two workers)
    const own = [...chunksOf.keys()].filter((s) => s.startsWith("../../src/"));
    expect(own).toEqual(
      expect.arrayContaining([
        "../../src/core/errors.ts",
        "../../src/convert/heicWorker.ts",
        "../../src/archive/readBackWorker.ts",
      ]),
    );
    expect(own.filter((s) => /\/cli\/commands\/\w+Command\.ts$/.test(s))).toHaveLength(COMMANDS.length);
  });
});
