// Issue 24: the README's install line, as written there, installs the tarball without a warning from npm
// and with the native HEIC decoder built (its install script allowed by the name npm matches).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, tempDir } from "../helpers.js";

describe("the README's global install from a tarball", () => {
  it("runs without an npm warning, and the installed wopack decodes HEIC natively", async (ctx) => {
    const readme = await readFile(path.join(ROOT, "README.md"), "utf8");
    const line = /^sudo (npm install -g [^\n#]*?)\s+#/m.exec(readme)?.[1];
    expect(line, "the README's install line").toBeDefined();
    // (the native decoder is built only where libheif's headers are: CI installs them, .ci/run)
    if (!existsSync(path.join(ROOT, "native", "build", "Release", "wopack_heif.node"))) return ctx.skip();
    const dir = await tempDir("wopack-install-");
    const packed = spawnSync("npm", ["pack", "--pack-destination", dir, "--ignore-scripts"], { cwd: ROOT, encoding: "utf8" });
    expect(packed.status, packed.stderr).toBe(0);
    const tarball = packed.stdout.trim().split("\n").pop()!;
    expect(line).toContain(tarball);
    // the README's line, run where the tarball is, into a prefix of its own instead of the system's
    const prefix = path.join(dir, "prefix");
    const install = spawnSync("sh", ["-c", `${line} --prefix "${prefix}" --no-audit --no-fund`], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, npm_config_loglevel: "warn" },
    });
    expect(install.status, install.stderr).toBe(0);
    expect(install.stderr).not.toMatch(/npm warn/i);
    const version = spawnSync(path.join(prefix, "bin", "wopack"), ["--version"], { encoding: "utf8" });
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout).toMatch(/\(HEIC decoder: native libheif/);
  });
});
