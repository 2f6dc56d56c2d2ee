import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { execFileP, FIXTURES, noiseJpeg, put, tempDir, wopack, workspace } from "../helpers.js";

/** Writes a zip with Python's zipfile: a writer independent of wopack's own. */
async function pyZip(file: string, entries: Record<string, Buffer | string>): Promise<string> {
  const spec = Object.entries(entries).map(([name, data]) => [name, Buffer.from(data).toString("base64")]);
  const script = `
import base64, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z:
    for name, data in json.load(sys.stdin):
        z.writestr(name, base64.b64decode(data))
`;
  const child = execFileP("python3", ["-c", script, file]);
  child.child.stdin!.end(JSON.stringify(spec));
  await child;
  return file;
}

interface Report {
  kind: string;
  workOrders: number;
  problems: { code: string; path: string; message: string }[];
  warnings: { code: string }[];
}

async function validateJson(target: string, extra: string[] = []): Promise<{ code: number | null; report: Report }> {
  const run = await wopack(["validate", target, "--json", ...extra]);
  return { code: run.code, report: JSON.parse(run.stdout) as Report };
}

let jpeg: Buffer;
let png: Buffer;
beforeAll(async () => {
  jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#468" } })
    .jpeg()
    .toBuffer();
  png = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#864" } })
    .png()
    .toBuffer();
});

describe("validate archive.zip (§2)", () => {
  it("accepts a conforming archive: exit 0, no problems", async () => {
    const dir = await tempDir();
    const zip = await pyZip(path.join(dir, "ok.zip"), {
      "WO_1/meter_reading-0.jpg": jpeg,
      "WO_1/cabinet-1.png": png,
      "WO_1/overview.jpg": jpeg,
      "WO_1/metadata.json": '{"site": "A"}',
      "WO_2/meter_reading-0.jpg": jpeg,
    });
    const { code, report } = await validateJson(zip);
    expect(report).toMatchObject({ kind: "archive", workOrders: 2, problems: [] });
    expect(code).toBe(0);
  });

  it("finds every problem, each with its path, and exits 1", async () => {
    const dir = await tempDir();
    const webp = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#000" } })
      .webp()
      .toBuffer();
    const zip = await pyZip(path.join(dir, "bad.zip"), {
      "notes.txt": "hello",
      "WO 3/meter-0.jpg": jpeg,
      "WO_4/meter-0.jpg": jpeg,
      "WO_4/cabinet-0.jpg": jpeg,
      "WO_4/IMG 0042.jpg": jpeg,
      "WO_4/readme.txt": "x",
      "WO_4/sub/meter-5.jpg": jpeg,
      "WO_4/pole-1.jpg": webp,
      "WO_4/pole-2.jpg": png,
      "WO_4/pole-3.jpg": jpeg.subarray(0, jpeg.length - 40),
      "WO_4/pole-4.jpg": Buffer.concat([jpeg, Buffer.from("\0\0\0\x18ftypmp42 a motion photo's video")]),
      "WO_4/metadata.json": "[1, 2]",
      "WO_5/metadata.json": "{}",
    });
    const { code, report } = await validateJson(zip);
    expect(code).toBe(1);
    const found = report.problems.map((p) => `${p.code} ${p.path}`).sort();
    expect(found).toEqual(
      [
        "E_ZIP_ROOT_FILE notes.txt",
        "E_WORK_ORDER_ID WO 3/",
        "E_ORDER_DUPLICATE WO_4/cabinet-0.jpg",
        "E_TASK_GROUP_NAME WO_4/IMG 0042.jpg",
        "E_ENTRY_NAME WO_4/readme.txt",
        "E_ZIP_NESTED WO_4/sub/meter-5.jpg",
        "E_IMAGE_TYPE WO_4/pole-1.jpg",
        "E_EXTENSION_MISMATCH WO_4/pole-2.jpg",
        "E_IMAGE_TRUNCATED WO_4/pole-3.jpg",
        "E_IMAGE_TRAILING_DATA WO_4/pole-4.jpg",
        "E_METADATA_NOT_OBJECT WO_4/metadata.json",
        "E_NO_PHOTOS WO_5/",
      ].sort(),
    );
    const dup = report.problems.find((p) => p.code === "E_ORDER_DUPLICATE")!;
    expect(dup.message).toContain("order number 0 is taken by WO_4/meter-0.jpg too");
  });

  it("spots work orders nested under a top folder, once", async () => {
    const dir = await tempDir();
    const zip = await pyZip(path.join(dir, "top.zip"), { "batch/WO_1/meter-0.jpg": jpeg, "batch/WO_2/meter-0.jpg": jpeg });
    const { code, report } = await validateJson(zip);
    expect(code).toBe(1);
    expect(report.problems.map((p) => p.code)).toEqual(["E_ZIP_TOP_FOLDER"]);
    expect(report.workOrders).toBe(2);
  });

  it("detects a damaged entry by its CRC", async () => {
    const dir = await tempDir();
    const zip = await pyZip(path.join(dir, "crc.zip"), { "WO_1/meter-0.jpg": jpeg });
    const bytes = await readFile(zip);
    const at = bytes.indexOf(jpeg.subarray(100, 140));
    bytes[at + 5]! ^= 0xff;
    await writeFile(zip, bytes);
    const { code, report } = await validateJson(zip);
    expect(code).toBe(1);
    expect(report.problems.map((p) => `${p.code} ${p.path}`)).toEqual(["E_ZIP_CRC WO_1/meter-0.jpg"]);
    // the third-party tester agrees
    await expect(execFileP("unzip", ["-tq", zip])).rejects.toThrow();
  });

  it("refuses a file that is not a zip", async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, "x.zip"), "not a zip");
    const { code, report } = await validateJson(path.join(dir, "x.zip"));
    expect(code).toBe(1);
    expect(report.problems.map((p) => p.code)).toEqual(["E_ZIP_UNREADABLE"]);
  });

  it("checks metadata.json and task groups against the config", async () => {
    const dir = await tempDir();
    const config = path.join(dir, "wopack.config.json");
    await writeFile(
      config,
      JSON.stringify({
        taskGroups: ["meter_reading"],
        metadata: { fields: { customer: { type: "text", required: true }, odometer: { type: "number" } } },
      }),
    );
    const good = await pyZip(path.join(dir, "good.zip"), {
      "WO_1/meter_reading-0.jpg": jpeg,
      "WO_1/metadata.json": '{"customer": "ACME", "odometer": 12}',
    });
    expect((await validateJson(good, ["--config", config])).code).toBe(0);
    const bad = await pyZip(path.join(dir, "bad.zip"), {
      "WO_1/meter_readng-0.jpg": jpeg,
      "WO_1/metadata.json": '{"odometer": "12"}',
      "WO_2/meter_reading-0.jpg": jpeg,
    });
    const { code, report } = await validateJson(bad, ["--config", config]);
    expect(code).toBe(1);
    expect(report.problems.map((p) => `${p.code} ${p.path}`).sort()).toEqual([
      "E_METADATA_MISSING WO_2/metadata.json",
      "E_METADATA_REQUIRED WO_1/metadata.json",
      "E_METADATA_TYPE WO_1/metadata.json",
      "E_TASK_GROUP_UNKNOWN WO_1/meter_readng-0.jpg",
    ]);
  });

  it("accepts what wopack pack writes, and prints a readable report without --json", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/meter/a.heic", readFile(path.join(FIXTURES, "quad.heic")));
    await put(ws.staging, "WO_1/cabinet-3.png", png);
    expect((await wopack(["pack", ws.staging, "--out", ws.out])).code).toBe(0);
    const zip = (await import("../helpers.js")).archivesIn(ws.out);
    const run = await wopack(["validate", (await zip)[0]!]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/the archive is valid \(1 work order checked\)/);
  });
});

describe("validate <staging>", () => {
  it("reports what pack would refuse, image problems included, and writes nothing", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_ok/meter/a.jpg", jpeg);
    await put(ws.staging, "WO_bad/meter/a.jpg", jpeg.subarray(0, jpeg.length - 40));
    await put(ws.staging, "WO_bad/notes.txt", "x");
    const { code, report } = await validateJson(ws.staging);
    expect(code).toBe(1);
    expect(report.kind).toBe("staging");
    expect(report.workOrders).toBe(2);
    expect(report.problems.map((p) => `${p.code} ${p.path}`).sort()).toEqual([
      "E_IMAGE_TRUNCATED WO_bad/meter/a.jpg",
      "E_NOT_AN_IMAGE WO_bad/notes.txt",
    ]);
    const { readdir } = await import("node:fs/promises");
    expect(await readdir(ws.dir)).toEqual(["staging"]);
  });

  it("exits 0 on a staging folder pack would accept", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_ok/meter/a.jpg", jpeg);
    expect((await validateJson(ws.staging)).code).toBe(0);
  });
});

describe("--verbose", () => {
  it("says which config file was loaded, or that none was found", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/meter/a.jpg", await noiseJpeg(64, 48));
    const none = await wopack(["validate", ws.staging, "--verbose"], { cwd: ws.dir });
    expect(none.stderr).toContain("config: none found, the defaults apply");
    const file = await put(ws.staging, "wopack.config.json", '{ "archive": { "prefix": "night" } }');
    const found = await wopack(["validate", ws.staging, "--verbose"], { cwd: ws.dir });
    expect(found.stderr).toContain(`config: ${file}`);
  });
});
