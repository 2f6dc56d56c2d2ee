// native/thumbnail.c under AddressSanitizer and UndefinedBehaviorSanitizer: the binding's JPEG decoder
// reads untrusted files in the wopack process, so a memory error there is a crash (or worse), not a
// refused photo. Intact, damaged and mutated JPEGs (EXIF included) go through a C driver built here.
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { execFileP, ROOT, tempDir } from "../helpers.js";

function canBuild(): boolean {
  try {
    execFileSync("sh", ["-c", "command -v gcc && pkg-config --exists libjpeg"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!canBuild())("native/thumbnail.c under the sanitizers", () => {
  let dir: string;
  let driver: string;
  let photo: Buffer;

  beforeAll(async () => {
    dir = await tempDir("wopack-asan-");
    driver = path.join(dir, "driver");
    const libjpeg = execFileSync("pkg-config", ["--cflags", "--libs", "libjpeg"], { encoding: "utf8" }).trim().split(/\s+/);
    await execFileP("gcc", [
      ...["-g", "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"],
      ...["-o", driver, path.join(ROOT, "test/native/thumbnail-driver.c"), path.join(ROOT, "native/thumbnail.c")],
      path.join(ROOT, "native/measures.c"),
      ...libjpeg.filter(Boolean),
      "-lm",
    ]);
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480"><rect width="320" height="240" fill="#d02020"/>
      <rect x="320" y="240" width="320" height="240" fill="#2040d0"/></svg>`;
    photo = await sharp(Buffer.from(svg))
      .jpeg({ quality: 85 })
      .withMetadata({ orientation: 6 })
      .withExif({ IFD0: { Make: "Camera", Model: "Test" } })
      .toBuffer();
  }, 120_000);

  /** Runs the driver over these JPEGs; its lines, or the sanitizer's report as the failure. */
  async function drive(files: Buffer[]): Promise<string[]> {
    const names: string[] = [];
    for (const [i, bytes] of files.entries()) {
      names.push(path.join(dir, `in-${i}.jpg`));
      await writeFile(names[i]!, bytes);
    }
    const { stdout } = await execFileP(driver, names, {
      env: { ...process.env, ASAN_OPTIONS: "detect_leaks=0:abort_on_error=0", UBSAN_OPTIONS: "print_stacktrace=1" },
      maxBuffer: 16 << 20,
    });
    return stdout.trim().split("\n");
  }

  it("decodes intact photos of every shape and orientation cleanly", async () => {
    const variants = [
      photo,
      await sharp(photo).resize(1, 1).jpeg().toBuffer(),
      await sharp(photo).resize(3, 2000, { fit: "fill" }).jpeg().toBuffer(),
      await sharp(photo).resize(2001, 7, { fit: "fill" }).jpeg({ progressive: true }).toBuffer(),
      await sharp(photo).grayscale().jpeg().toBuffer(),
      await sharp(photo).jpeg({ chromaSubsampling: "4:4:4" }).toBuffer(),
      await sharp(photo).toColourspace("cmyk").jpeg().toBuffer(),
      await sharp(photo).withIccProfile("p3").jpeg().toBuffer(),
      ...(await Promise.all(
        [1, 2, 3, 4, 5, 6, 7, 8].map((o) => sharp(photo).withMetadata({ orientation: o }).jpeg().toBuffer()),
      )),
    ];
    const lines = await drive(variants);
    expect(lines).toHaveLength(variants.length * 3);
    expect(lines.filter((l) => !/ (ok|E_UNSUPPORTED)$/.test(l))).toEqual([]);
    // the orientation is read from the EXIF block, and the picture's stored size reported; the greyscale
    // picture is the upright thumbnail's (turned by orientation 6: portrait), measured when asked to be
    expect(lines[0]).toMatch(/ 1 640x480 o6 \d+ w0 g1x1 m1 ok$/);
    expect(lines[1]).toMatch(/ 256 640x480 o6 \d+ w0 g192x256 m0 ok$/);
    expect(lines[2]).toMatch(/ 5000 640x480 o6 \d+ w0 g480x640 m1 ok$/);
  });

  it("survives damage anywhere: bytes changed in the header, the EXIF block or the scan, and files cut short", async () => {
    const exif = photo.indexOf("Exif\0\0");
    expect(exif).toBeGreaterThan(0);
    const mutated = fc.sample(
      fc.tuple(
        fc.array(
          fc.tuple(
            // a third of the changes land in the EXIF block, where the orientation parser reads
            fc.oneof(fc.integer({ min: exif, max: exif + 200 }), fc.integer({ min: 2, max: photo.length - 1 })),
            fc.integer({ min: 0, max: 255 }),
          ),
          { minLength: 1, maxLength: 8 },
        ),
        fc.option(fc.integer({ min: 2, max: photo.length }), { nil: undefined }),
      ),
      { numRuns: 150, seed: 25 },
    );
    const files = mutated.map(([changes, cut]) => {
      const out = Buffer.from(photo);
      for (const [at, value] of changes) out[at] = value;
      return cut === undefined ? out : out.subarray(0, cut);
    });
    const lines = await drive(files);
    expect(lines).toHaveLength(files.length * 3);
  }, 120_000);
});
