// validate reads any archive in bounded memory, and refuses names the platform would misread.
import { spawnSync } from "node:child_process";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { execFileP, put, ROOT, tempDir, wopack } from "../helpers.js";

/** Makes a zip with Python's zipfile (a writer that is not ours): entries as (name, python expression). */
async function pythonZip(file: string, entries: [string, string][], compression = "ZIP_DEFLATED"): Promise<void> {
  const lines = entries.map(
    ([name, data]) =>
      `with z.open(${JSON.stringify(name)}, "w", force_zip64=True) as f:\n    d = ${data}\n    for chunk in (d if isinstance(d, list) else [d]): f.write(chunk)`,
  );
  const script = `import zipfile\nz = zipfile.ZipFile(${JSON.stringify(file)}, "w", zipfile.${compression}, compresslevel=1)\n${lines.join("\n")}\nz.close()\n`;
  await execFileP("python3", ["-c", script], { maxBuffer: 1 << 20 });
}

/**
 * validate in a process of its own, with its peak memory (kB): VmHWM, this process's own high-water mark;
 * getrusage's maxRSS also counts the forked copy of the parent before exec (a test worker of 400 MB).
 */
async function validateMeasured(file: string, config: object) {
  const script = `
    const { validate } = await import(${JSON.stringify(path.join(ROOT, "dist/run/validate.js"))});
    const { parseConfig } = await import(${JSON.stringify(path.join(ROOT, "dist/config/load.js"))});
    const r = await validate(${JSON.stringify(file)}, { config: parseConfig(${JSON.stringify(config)}) });
    const { readFileSync } = await import("node:fs");
    const peak = Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))[1]);
    console.log(JSON.stringify({ codes: r.problems.map((p) => p.code), maxRssKb: peak }));`;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as { codes: string[]; maxRssKb: number };
}

describe("validate on hostile archives (§4)", () => {
  it("a small zip declaring a 256 MiB entry: judged by its declared size first, streamed (never held), in under 300 MB", async () => {
    const dir = await tempDir("wopack-bomb-");
    const file = path.join(dir, "bomb.zip");
    // 256 MiB of zeros, deflated to about 256 kB (held whole, it would take over 500 MB)
    await pythonZip(file, [
      ["WO_1/meter-0.jpg", "[bytes(16 << 20)] * 16"],
      ["WO_1/metadata.json", 'b"{}"'],
    ]);
    const byDeclaredSize = await validateMeasured(file, {});
    expect(byDeclaredSize.codes).toContain("E_IMAGE_TOO_BIG");
    expect(byDeclaredSize.maxRssKb).toBeLessThan(300_000);
    // a limit that lets it through does not let it inflate 1,000 times its zip's size
    const zeros = await validateMeasured(file, { images: { maxImageSize: "2GiB" } });
    expect(zeros.codes).toEqual(["E_ZIP_BOMB"]);
    // one that inflates as real data does (random bits, 1 in 8 of its bits) is streamed: its CRC checked,
    // its content judged by its head
    const bits = path.join(dir, "bits.zip");
    const randomBits = "[__import__('os').urandom(16 << 20).translate(bytes(b & 1 for b in range(256)))] * 16";
    await pythonZip(bits, [
      ["WO_1/meter-0.jpg", randomBits],
      ["WO_1/metadata.json", 'b"{}"'],
    ]);
    const streamed = await validateMeasured(bits, { images: { maxImageSize: "2GiB" } });
    expect(streamed.codes).toEqual(["E_IMAGE_TYPE"]);
    expect(streamed.maxRssKb).toBeLessThan(300_000);
  });

  it("an entry name with backslashes is refused (yauzl would have read it as a path)", async () => {
    const dir = await tempDir("wopack-bs-");
    const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#000" } })
      .jpeg()
      .toBuffer();
    const photo = await put(dir, "a.jpg", jpeg);
    const file = path.join(dir, "windows.zip");
    await pythonZip(file, [["WO_1\\meter-0.jpg", `open(${JSON.stringify(photo)}, "rb").read()`]], "ZIP_STORED");
    const run = await wopack(["validate", file, "--json"]);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report.problems.map((p: { code: string }) => p.code)).toContain("E_ZIP_BACKSLASH");
    expect(report.problems.find((p: { code: string }) => p.code === "E_ZIP_BACKSLASH").message).toContain("WO_1\\meter-0.jpg");
  });
});
