// Issue 13, the command line: -h/-v everywhere, a usage error in one line with a hint ("did you mean" for
// flags and config keys), completion, --print-config, and a timestamp on pack's summary.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, wopack, workspace } from "../helpers.js";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;

describe("the command line", () => {
  it("-v and -h answer like --version and --help, for every command", async () => {
    const { version } = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8"));
    for (const flag of ["-v", "--version"]) {
      const run = await wopack([flag]);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^${version.replace(/\./g, "\\.")} \\(HEIC decoder: `));
    }
    for (const command of ["pack", "watch", "validate", "upload", "status", "review", "init"]) {
      const run = await wopack([command, "-h"]);
      expect(run.code, command).toBe(0);
      expect(run.stdout).toContain(`wopack ${command}`);
      // examples and exit codes; the command's own options before the global ones
      expect(run.stdout, command).toMatch(/Examples:\n {2}wopack /);
      expect(run.stdout, command).toMatch(/Exit codes: 0 /);
      const own = run.stdout.indexOf("\nOptions:");
      if (own >= 0) expect(own, command).toBeLessThan(run.stdout.indexOf("Global options:"));
    }
    // help in groups, in the same order for pack and watch; numbers shown as numbers; an example is one line
    const GROUPS = [
      "Options:",
      "When a work order is ready:",
      "Metadata:",
      "Images:",
      "Archives:",
      "After each commit:",
      "Output:",
      "Global options:",
    ];
    for (const command of ["pack", "watch", "validate", "upload", "status", "review", "prune", "doctor", "init"]) {
      const help = (await wopack([command, "--help"])).stdout;
      const at = GROUPS.map((g) => help.indexOf(`\n${g}\n`)).filter((i) => i >= 0);
      expect(at, command).toEqual([...at].sort((a, b) => a - b));
      if (command === "pack" || command === "watch") expect(at, command).toHaveLength(GROUPS.length);
      const examples = help.slice(help.indexOf("Examples:\n") + "Examples:\n".length, help.indexOf("\n\nExit codes:"));
      // (a description may go on under itself; a command never does)
      for (const line of examples.split("\n")) expect(line, `${command}: an example wraps`).toMatch(/^( {2}wopack | {20,}\S)/);
      for (const flag of ["max-work-orders", "max-dimension", "concurrency"])
        if (help.includes(`--${flag} `))
          expect(help, `${command} --${flag}`).toMatch(new RegExp(`--${flag} [^\\n]*(\\n {20,}[^\\n]*)*\\[number\\]`));
    }
    // --dry-run is offered where it works, and init's is its own
    expect((await wopack(["status", "-h"])).stdout).not.toContain("--dry-run");
    expect((await wopack(["init", "-h"])).stdout).toContain("--dry-run");
  });

  it("a usage error is one line and a hint, not the whole help; an unknown flag gets the nearest one", async () => {
    const ws = await workspace();
    const typo = await wopack(["pack", ws.staging, "--out", ws.out, "--setle", "3s"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe(
      "error E_USAGE: Unknown argument: --setle\n  hint: did you mean --settle? (wopack pack --help lists the options)\n",
    );
    expect(existsSync(ws.out)).toBe(false);
    // each unknown flag named once, as typed (yargs names a dashed one twice: foo-bar, fooBar)
    const typed: [string[], string][] = [
      [["--max-archvie-size", "3MB"], "Unknown argument: --max-archvie-size\n"],
      [["--max-archvie-size=3MB"], "Unknown argument: --max-archvie-size\n"],
      [["--maxArchvieSize", "3MB"], "Unknown argument: --maxArchvieSize\n"],
      [["--no-reviw"], "Unknown argument: --no-reviw\n"],
      [["--foo-bar", "--baz", "1"], "Unknown arguments: --foo-bar, --baz\n"],
      [["extra"], "Unknown argument: extra\n"],
    ];
    for (const [flags, line] of typed) {
      const run = await wopack(["pack", ws.staging, "--out", ws.out, ...flags]);
      expect(run.code, flags.join(" ")).toBe(2);
      expect(run.stderr.split("\n")[0] + "\n", flags.join(" ")).toBe(`error E_USAGE: ${line}`);
    }
    const watchTypo = await wopack(["watch", ws.staging, "--out", ws.out, "--helth-file", "x"]);
    expect(watchTypo.stderr).toMatch(/did you mean --health-file\?/);
    // the same words whatever the user's language (yargs would translate its half of the line only)
    for (const LANG of ["de_DE.UTF-8", "fr_FR.UTF-8"]) {
      const translated = await wopack(["pack", ws.staging, "--out", ws.out, "--setle", "3s"], { env: { LANG, LC_ALL: LANG } });
      expect(translated.stderr).toBe(typo.stderr);
    }
    const missing = await wopack(["pack"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.split("\n").filter(Boolean)).toHaveLength(2);
    expect(missing.stderr).toMatch(/hint: see wopack pack --help/);
  });

  it("an unknown config key gets the nearest known one", async () => {
    const ws = await workspace();
    await writeFile(path.join(ws.dir, "wopack.config.json"), JSON.stringify({ imagse: {}, images: { qualty: 80 } }));
    const run = await wopack(["pack", ws.staging, "--out", ws.out], { cwd: ws.dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('images: Unrecognized key: "qualty" (did you mean "quality"?)');
    expect(run.stderr).toContain('(root): Unrecognized key: "imagse" (did you mean "images"?)');
  });

  it("completion prints a shell completion script", async () => {
    const run = await wopack(["completion"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("###-begin-wopack-completions-###");
  });

  it("--print-config shows the file, the defaults and the flags merged, redacts a password, and runs nothing", async () => {
    const ws = await workspace();
    const file = path.join(ws.dir, "site.json");
    await writeFile(
      file,
      JSON.stringify({ images: { quality: 80 }, upload: { url: "https://user:secret@api.example.com/v0.2" } }),
    );
    const run = await wopack([
      "pack",
      ws.staging,
      "--out",
      ws.out,
      "--config",
      file,
      "--max-image-size",
      "3MB",
      "--print-config",
    ]);
    expect(run.code, run.stderr).toBe(0);
    const shown = JSON.parse(run.stdout);
    expect(shown.configFile).toBe(file);
    expect(shown.config.images).toMatchObject({ quality: 80, maxImageSize: 3_000_000, maxPixels: 100_000_000 });
    expect(run.stdout).not.toContain("secret");
    expect(shown.config.upload.url).toBe("https://user:REDACTED@api.example.com/v0.2");
    expect(existsSync(ws.out)).toBe(false);
  });

  it("pack's summary starts with the time, so that a cron log tells nights apart", async () => {
    const ws = await workspace();
    const run = await wopack(["pack", ws.staging, "--out", ws.out]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(ISO);
    expect(run.stdout).toMatch(/Z packed 0 work orders/);
  });

  it("doctor says what runs and what is wrong, each with its fix, and exits 1 on a problem", async (ctx) => {
    const ws = await workspace();
    const fine = await wopack(["doctor", "--staging", ws.staging, "--out", ws.dir, "--json"]);
    expect(fine.code, fine.stdout).toBe(0);
    const checks = JSON.parse(fine.stdout).checks as { what: string; status: string; detail: string; fix?: string }[];
    expect(checks.find((c) => c.what === "HEIC decoder")?.detail).toMatch(/libheif/);
    expect(checks.find((c) => c.what === "sharp / libvips")?.detail).toMatch(/libvips \d+\.\d+/);
    expect(checks.find((c) => c.what === "output folder")?.detail).toMatch(/writable, on \w+/);
    const wasm = await wopack(["doctor"], { env: { WOPACK_HEIC_DECODER: "wasm" } });
    expect(wasm.code).toBe(0); // slower, not wrong
    expect(wasm.stdout).toMatch(/warn {2}HEIC decoder: .*wasm[\s\S]*fix: unset WOPACK_HEIC_DECODER/);
    const missing = await wopack(["doctor", "--staging", path.join(ws.dir, "share")]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/ERROR staging folder: .*ENOENT\n {6}fix: create it, or mount its share/);
    // a read-only output folder (a read-only mount: root can write anywhere else)
    const ro = path.join(ws.dir, "ro");
    await mkdir(ro);
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro]).status !== 0) return ctx.skip();
    try {
      const readOnly = await wopack(["doctor", "--out", ro]);
      expect(readOnly.code).toBe(1);
      expect(readOnly.stdout).toMatch(/ERROR output folder: .*cannot write \(EROFS\)/);
    } finally {
      spawnSync("umount", [ro]);
    }
  });

  it("takes flags from WOPACK_* variables (the command line wins), and ignores wopack's other variables", async () => {
    const ws = await workspace();
    const env = { WOPACK_OUT: ws.out, WOPACK_MAX_IMAGE_SIZE: "3MB", WOPACK_API_KEY: "not-a-flag", WOPACK_HEIC_DECODER: "wasm" };
    // WOPACK alone, WOPACK_ and a lower-case tail are variables yargs reads too, and none is a flag (each
    // on its own: one could hide another, as WOPACK_ and WOPACK both become an argument named "")
    const odds: Record<string, string>[] = [{ WOPACK: "/usr/bin/wopack" }, { WOPACK_: "x" }, { WOPACK_bin_path: "/opt" }];
    for (const odd of odds) {
      const run = await wopack(["pack", ws.staging, "--print-config"], { env: { ...env, ...odd } });
      expect(run.code, `${JSON.stringify(odd)}: ${run.stderr}`).toBe(0);
    }
    const run = await wopack(["pack", ws.staging, "--print-config"], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).config.images.maxImageSize).toBe(3_000_000);
    const flagWins = await wopack(["pack", ws.staging, "--print-config", "--max-image-size", "4MB"], { env });
    expect(JSON.parse(flagWins.stdout).config.images.maxImageSize).toBe(4_000_000);
    const packed = await wopack(["pack", ws.staging], { env });
    expect(packed.code, packed.stderr).toBe(0);
    expect(existsSync(ws.out)).toBe(true); // --out came from WOPACK_OUT
  });
});
