// The photo checks (SPEC §15) through the real CLI on generated site photos: a picture packed one night is
// found again the next (another staging folder, another work order, resized, re-encoded and stored turned
// with an EXIF orientation, or converted from WebP), naming the first work order, entry and archive; distinct
// photos of the same kind of scene are not; a duplicate, a blurred and a dark photo are warned of; "refuse"
// refuses the work order (exit 1) and commits nothing of it, not even its pictures; config errors are listed.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import sharp, { type Sharp } from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shardOf } from "../../src/spec/shard.js";
import { archivesIn, put, readZip, tempDir, wopack } from "../helpers.js";

/**
 * A site photo: a wall of shapes and cables, a cabinet with a meter and its digits, sensor noise. Each seed
 * is another site of the same kind (the scenes a reuse check must tell apart). The scene is drawn on a
 * 1600 x 1200 plan and rendered at 1200 x 900 (the checks measure the same at either: 0.56 of the pixels
 * to make, pack and check); its pixels are made once a seed (`sites`, emptied after the file).
 */
const [W, H] = [1200, 900];
const sites = new Map<number, Promise<Buffer>>();
async function site(seed: number): Promise<Sharp> {
  if (!sites.has(seed)) sites.set(seed, sitePixels(seed));
  return sharp(await sites.get(seed)!, { raw: { width: W, height: H, channels: 3 } });
}

async function sitePixels(seed: number): Promise<Buffer> {
  const [width, height] = [1600, 1200];
  let x = (2463534242 ^ Math.imul(seed, 2654435761)) >>> 0;
  const rnd = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
  const shapes: string[] = [];
  const wall = `hsl(${Math.floor(rnd() * 360)},${10 + Math.floor(rnd() * 20)}%,${40 + Math.floor(rnd() * 30)}%)`;
  for (let i = 0; i < 40; i++) {
    const c = `hsl(${Math.floor(rnd() * 360)},${Math.floor(rnd() * 60)}%,${Math.floor(20 + rnd() * 60)}%)`;
    shapes.push(
      `<rect x="${rnd() * width}" y="${rnd() * height}" width="${30 + rnd() * 300}" height="${30 + rnd() * 300}" fill="${c}" opacity="${0.3 + rnd() * 0.7}" transform="rotate(${rnd() * 40 - 20})"/>`,
    );
  }
  for (let i = 0; i < 12; i++)
    shapes.push(
      `<path d="M${rnd() * width},${rnd() * height} Q${rnd() * width},${rnd() * height} ${rnd() * width},${rnd() * height}" stroke="#111" stroke-width="${4 + rnd() * 12}" fill="none"/>`,
    );
  const [cx, cy] = [300 + rnd() * 700, 200 + rnd() * 500];
  const digits = String(Math.floor(rnd() * 1e8)).padStart(8, "0");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${width} ${height}">
    <rect width="100%" height="100%" fill="${wall}"/>${shapes.join("")}
    <rect x="${cx}" y="${cy}" width="500" height="420" rx="20" fill="#ddd" stroke="#333" stroke-width="8"/>
    <circle cx="${cx + 250}" cy="${cy + 180}" r="140" fill="#fafafa" stroke="#222" stroke-width="6"/>
    <text x="${cx + 90}" y="${cy + 380}" font-family="monospace" font-size="64" fill="#111">${digits}</text></svg>`;
  const { data } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  for (let i = 0; i < data.length; i++) data[i] = Math.min(255, Math.max(0, data[i]! + Math.floor(rnd() * 24) - 12));
  return data;
}

const jpeg = async (s: Sharp | Promise<Sharp>, quality = 92) => (await s).jpeg({ quality }).toBuffer();

interface Finding {
  code: string;
  message: string;
  earlier?: { workOrder: string; entry: string; archive: string; distance: number; exact: boolean };
}
interface PackJson {
  archives: { archive: string; path: string; photoChecks?: Record<string, { passed: number; warned: number }> }[];
  packed: { id: string; archive: string; entries: { entry: string; source: string; checks?: Finding[] }[] }[];
  refused: { id: string; problems: { code: string; message: string; hint: string; path?: string }[] }[];
  warnings: { code: string; message: string; path?: string }[];
}

async function pack(staging: string, out: string, cwd: string): Promise<{ code: number | null; json: PackJson; stderr: string }> {
  const run = await wopack(["pack", staging, "--out", out, "--json"], { cwd });
  expect(run.stderr).not.toMatch(/E_INTERNAL|at .*\.js:\d+/);
  return { code: run.code, json: JSON.parse(run.stdout) as PackJson, stderr: run.stderr };
}

const entriesOf = (json: PackJson) => json.packed.flatMap((w) => w.entries);
const findingsBySource = (json: PackJson) =>
  Object.fromEntries(entriesOf(json).map((e) => [e.source, (e.checks ?? []).map((f) => f.code)]));

describe("photo checks, end to end", () => {
  let dir: string;
  let out: string;
  let night1: PackJson;
  let night2: PackJson;

  beforeAll(async () => {
    dir = await tempDir("wopack-checks-");
    out = path.join(dir, "out");
    // night 1: two sites of work order WO_1
    const s1 = path.join(dir, "night1");
    await put(s1, "WO_1/meter_reading/IMG_0001.jpg", jpeg(site(1)));
    await put(s1, "WO_1/cabinet_front/IMG_0002.jpg", jpeg(site(2)));
    const first = await pack(s1, out, dir);
    expect(first.code).toBe(0);
    night1 = first.json;

    // night 2, another staging folder: the same picture for WO_2, resized, re-encoded at quality 70 and
    // stored turned a quarter with EXIF orientation 6 (upright as shown); for WO_3 converted from WebP
    const s2 = path.join(dir, "night2");
    const upright = await (await site(1)).resize(750).png().toBuffer();
    const stored = await sharp(upright).rotate(-90).jpeg({ quality: 70 }).withMetadata({ orientation: 6 }).toBuffer();
    await put(s2, "WO_2/meter_reading/IMG_1001.jpg", stored);
    await put(s2, "WO_2/cabinet_front/IMG_1002.jpg", jpeg(site(3)));
    await put(s2, "WO_2/overview/IMG_1003.jpg", jpeg(site(4)));
    const twice = await jpeg(site(5));
    await put(s2, "WO_2/panel/IMG_1004.jpg", twice);
    await put(s2, "WO_2/panel/IMG_1005.jpg", twice);
    await put(s2, "WO_2/cable/IMG_1006.jpg", jpeg((await site(6)).blur(12)));
    await put(s2, "WO_2/cable/IMG_1007.jpg", jpeg((await site(7)).linear(0.05, 0)));
    await put(s2, "WO_3/meter_reading/IMG_2001.webp", (await site(1)).resize(900).webp({ quality: 80 }).toBuffer());
    await put(s2, "WO_3/cabinet_front/IMG_2002.jpg", jpeg(site(8)));
    const second = await pack(s2, out, dir);
    expect(second.code).toBe(0);
    night2 = second.json;
  }, 120_000);
  afterAll(() => sites.clear());

  it("distinct photos of the same kind of site are packed without a finding", () => {
    expect(night1.warnings.filter((w) => w.code.startsWith("W_PHOTO_"))).toEqual([]);
    expect(entriesOf(night1).every((e) => e.checks === undefined)).toBe(true);
    const quiet = [
      "WO_2/cabinet_front/IMG_1002.jpg",
      "WO_2/overview/IMG_1003.jpg",
      "WO_2/panel/IMG_1004.jpg",
      "WO_3/cabinet_front/IMG_2002.jpg",
    ];
    for (const source of quiet) expect(findingsBySource(night2)[source], source).toEqual([]);
  });

  it("the picture packed the night before is found again, resized, re-encoded and turned by EXIF, naming the first work order, entry and archive", async () => {
    const earlier = entriesOf(night1).find((e) => e.source === "WO_1/meter_reading/IMG_0001.jpg")!;
    const archive1 = night1.archives[0]!.archive;
    const entry = entriesOf(night2).find((e) => e.source === "WO_2/meter_reading/IMG_1001.jpg")!;
    expect(entry.checks).toEqual([
      {
        code: "W_PHOTO_REUSED",
        message: expect.stringContaining(`for work order WO_1, as ${earlier.entry} in archive ${archive1}`),
        earlier: { workOrder: "WO_1", entry: earlier.entry, archive: archive1, distance: expect.any(Number), exact: false },
      },
    ]);
    // as one of the run's warnings too, naming the photo
    expect(night2.warnings).toContainEqual(
      expect.objectContaining({
        code: "W_PHOTO_REUSED",
        path: "WO_2/meter_reading/IMG_1001.jpg",
        message: entry.checks![0]!.message,
      }),
    );
    // and in the report beside the archive
    const report = JSON.parse(await readFile(`${night2.archives[0]!.path}.report.json`, "utf8")) as PackJson["archives"][0] & {
      workOrders: PackJson["packed"];
    };
    const reported = report.workOrders.flatMap((w) => w.entries).find((e) => e.source === entry.source);
    expect(reported?.checks).toEqual(entry.checks);
    expect(report.photoChecks?.reuse).toEqual({ passed: expect.any(Number), warned: 2 });
  });

  it("a converted photo (WebP) of the same picture is found too; one of this run names this archive", () => {
    const [finding] = entriesOf(night2).find((e) => e.source === "WO_3/meter_reading/IMG_2001.webp")!.checks ?? [];
    expect(finding?.code).toBe("W_PHOTO_REUSED");
    const archive2 = night2.archives[0]!.archive;
    const names = { WO_1: night1.archives[0]!.archive, WO_2: archive2 } as Record<string, string>;
    expect(["WO_1", "WO_2"]).toContain(finding!.earlier!.workOrder);
    expect(finding!.earlier!.archive).toBe(names[finding!.earlier!.workOrder]);
    expect(finding!.message).toMatch(finding!.earlier!.workOrder === "WO_2" ? /in this archive/ : /in archive /);
  });

  it("the same picture twice in one work order, a blurred and a dark photo are warned of", () => {
    const found = findingsBySource(night2);
    expect(found["WO_2/panel/IMG_1005.jpg"]).toEqual(["W_PHOTO_DUPLICATE"]);
    const dup = entriesOf(night2).find((e) => e.source === "WO_2/panel/IMG_1005.jpg")!.checks![0]!;
    expect(dup.message).toContain("WO_2/panel/IMG_1004.jpg");
    expect(dup.earlier).toMatchObject({ workOrder: "WO_2", archive: night2.archives[0]!.archive, distance: 0 });
    expect(found["WO_2/cable/IMG_1006.jpg"]).toEqual(["W_PHOTO_BLURRY"]);
    expect(found["WO_2/cable/IMG_1007.jpg"]).toEqual(["W_PHOTO_DARK"]);
    for (const code of ["W_PHOTO_DUPLICATE", "W_PHOTO_BLURRY", "W_PHOTO_DARK"])
      expect(night2.warnings.filter((w) => w.code === code).length, code).toBe(1);
  });

  it('"refuse" refuses the work order (exit 1) and commits nothing of it: not its photos, not its pictures', async () => {
    const s3 = path.join(dir, "night3");
    await put(s3, "WO_4/meter_reading/IMG_3001.jpg", (await site(1)).resize(1050).jpeg({ quality: 80 }).toBuffer());
    await put(s3, "WO_5/cabinet_front/IMG_3002.jpg", jpeg(site(9)));
    const config = path.join(dir, "refuse.json");
    await writeFile(config, JSON.stringify({ images: { checks: { reuse: { action: "refuse" } } } }));
    const before = await archivesIn(out);
    const run = await wopack(["pack", s3, "--out", out, "--json", "--config", config], { cwd: dir });
    expect(run.code).toBe(1);
    const json = JSON.parse(run.stdout) as PackJson;
    expect(json.refused.map((r) => [r.id, r.problems.map((p) => p.code)])).toEqual([["WO_4", ["E_PHOTO_REUSED"]]]);
    expect(json.refused[0]!.problems[0]).toMatchObject({
      path: "WO_4/meter_reading/IMG_3001.jpg",
      message: expect.stringMatching(/for work order WO_[123], as WO_[123]\/meter_reading-\d+\.jpg in archive batch-/),
      hint: expect.stringContaining("images.checks.reuse"),
    });
    const added = (await archivesIn(out)).filter((a) => !before.includes(a));
    expect(added).toHaveLength(1);
    expect((await readZip(added[0]!)).map((e) => e.name.split("/")[0])).not.toContain("WO_4");
    const ledger = await readFile(path.join(out, ".wopack", "ledger.jsonl"), "utf8");
    expect(ledger).not.toContain('"WO_4"');
    // its picture was not recorded: the next work order with it is told of the earlier ones, never of WO_4
    const s4 = path.join(dir, "night4");
    await put(s4, "WO_6/meter_reading/IMG_4001.jpg", jpeg(site(1), 85));
    const next = await pack(s4, out, dir);
    expect(next.code).toBe(0);
    const [finding] = entriesOf(next.json)[0]!.checks ?? [];
    expect(finding?.code).toBe("W_PHOTO_REUSED");
    expect(finding!.earlier!.workOrder).not.toBe("WO_4");
  }, 60_000);

  it("checks set off find nothing; images.verify structure says once that the pixel checks do not run", async () => {
    const s5 = path.join(dir, "night5");
    const twice = await jpeg(site(11));
    await put(s5, "WO_7/panel/a.jpg", twice);
    await put(s5, "WO_7/panel/b.jpg", twice);
    const off = path.join(dir, "off.json");
    await writeFile(off, JSON.stringify({ images: { checks: { duplicate: { action: "off" }, reuse: { action: "off" } } } }));
    const o1 = path.join(dir, "out-off");
    const quiet = await wopack(["pack", s5, "--out", o1, "--json", "--config", off], { cwd: dir });
    expect(quiet.code).toBe(0);
    expect((JSON.parse(quiet.stdout) as PackJson).warnings.filter((w) => w.code.startsWith("W_PHOTO_"))).toEqual([]);
    const structure = path.join(dir, "structure.json");
    await writeFile(structure, JSON.stringify({ images: { verify: "structure" } }));
    const run = await wopack(["pack", s5, "--out", path.join(dir, "out-structure"), "--json", "--config", structure], {
      cwd: dir,
    });
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as PackJson).warnings.filter((w) => w.code.startsWith("W_PHOTO_"))).toEqual([]);
    expect(run.stderr.match(/photo checks that need their pixels/g)).toHaveLength(1);
  }, 60_000);

  it("validate <staging> judges too, and records nothing", async () => {
    const s6 = path.join(dir, "night6");
    const twice = await jpeg(site(12));
    await put(s6, "WO_8/panel/a.jpg", twice);
    await put(s6, "WO_8/panel/b.jpg", twice);
    await put(s6, "WO_8/cable/c.jpg", jpeg((await site(13)).linear(0.05, 0)));
    const run = await wopack(["validate", s6, "--json"], { cwd: dir });
    const json = JSON.parse(run.stdout) as { warnings: { code: string }[] };
    expect(json.warnings.map((w) => w.code).sort()).toEqual(["W_PHOTO_DARK", "W_PHOTO_DUPLICATE"]);
    expect(await archivesIn(s6).catch(() => [])).toEqual([]);
    await expect(readFile(path.join(s6, ".wopack", "pictures.journal"))).rejects.toThrow();
  }, 60_000);

  it("age and distance, when set on: the photo's EXIF capture time and GPS against the work order's date and site fields", async () => {
    const s7 = path.join(dir, "night7");
    // Paris, 48.8566 N 2.3522 E; the site fields say a place 1.5 km north, or the same place
    const tagged = async (seed: number, date: string) =>
      (await site(seed))
        .jpeg({ quality: 90 })
        .withExif({
          IFD2: { DateTimeOriginal: date },
          IFD3: {
            GPSLatitudeRef: "N",
            GPSLatitude: "48/1 51/1 2376/100",
            GPSLongitudeRef: "E",
            GPSLongitude: "2/1 21/1 792/100",
          },
        })
        .toBuffer();
    await put(s7, "WO_9/meter/a.jpg", tagged(31, "2026:01:02 10:00:00"));
    await put(s7, "WO_9/metadata.json", JSON.stringify({ visit: "2026-03-01", site_lat: 48.87, site_lon: 2.3522 }));
    await put(s7, "WO_10/meter/b.jpg", tagged(32, "2026:02:27 10:00:00"));
    await put(s7, "WO_10/metadata.json", JSON.stringify({ visit: "2026-03-01", site_lat: "48.8566", site_lon: "2.3522" }));
    const config = path.join(dir, "age-distance.json");
    const checks = {
      age: { action: "warn", maxAge: "30d", dateField: "visit" },
      distance: { action: "refuse", maxDistance: "1km", latitudeField: "site_lat", longitudeField: "site_lon" },
    };
    await writeFile(config, JSON.stringify({ images: { checks } }));
    const run = await wopack(["pack", s7, "--out", path.join(dir, "out-age"), "--json", "--config", config], { cwd: dir });
    expect(run.code, run.stderr).toBe(1);
    const json = JSON.parse(run.stdout) as PackJson;
    // WO_9: 57 days old (warned) and 1.5 km away (refused); WO_10: 2 days, on site
    expect(json.refused.map((r) => [r.id, r.problems.map((p) => p.code)])).toEqual([["WO_9", ["E_PHOTO_FAR"]]]);
    expect(json.refused[0]!.problems[0]!.message).toMatch(
      /1\.5 km from the site \(metadata site_lat, site_lon: 48\.87, 2\.3522\)/,
    );
    expect(findingsBySource(json)).toEqual({ "WO_10/meter/b.jpg": [] });
    const warnOnly = path.join(dir, "age-only.json");
    await writeFile(warnOnly, JSON.stringify({ images: { checks: { age: checks.age } } }));
    const again = await wopack(["pack", s7, "--out", path.join(dir, "out-age-2"), "--json", "--config", warnOnly], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    const aged = JSON.parse(again.stdout) as PackJson;
    expect(findingsBySource(aged)).toEqual({ "WO_9/meter/a.jpg": ["W_PHOTO_OLD"], "WO_10/meter/b.jpg": [] });
    expect(entriesOf(aged).find((e) => e.source === "WO_9/meter/a.jpg")!.checks![0]!.message).toMatch(
      /captured 2026:01:02 10:00:00, 57 days before the work order's visit \(2026-03-01\)/,
    );
  }, 60_000);

  it("--shard: a picture packed by a sibling shard, into its own outbox, is found too", async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `WO_S${i}`);
    const [mine, theirs] = [ids.find((id) => shardOf(id, 2) === 0)!, ids.filter((id) => shardOf(id, 2) === 1)];
    const outs = [path.join(dir, "shards", "out-0"), path.join(dir, "shards", "out-1")];
    const n1 = path.join(dir, "shard-night1");
    await put(n1, `${mine}/meter_reading/a.jpg`, jpeg(site(21)));
    const first = await wopack(["pack", n1, "--out", outs[0]!, "--shard", "0/2", "--json"], { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    const archive = (JSON.parse(first.stdout) as PackJson).archives[0]!.archive;
    const n2 = path.join(dir, "shard-night2");
    await put(n2, `${theirs[0]}/meter_reading/b.jpg`, (await site(21)).resize(675).jpeg({ quality: 75 }).toBuffer());
    await put(n2, `${theirs[1]}/meter_reading/c.jpg`, jpeg(site(22)));
    const second = await wopack(["pack", n2, "--out", outs[1]!, "--shard", "1/2", "--json"], { cwd: dir });
    expect(second.code, second.stderr).toBe(0);
    const found = findingsBySource(JSON.parse(second.stdout) as PackJson);
    expect(found).toEqual({ [`${theirs[0]}/meter_reading/b.jpg`]: ["W_PHOTO_REUSED"], [`${theirs[1]}/meter_reading/c.jpg`]: [] });
    const reused = entriesOf(JSON.parse(second.stdout) as PackJson).find((e) => e.source.startsWith(`${theirs[0]}/`))!;
    const [finding] = reused.checks!;
    expect(finding!.earlier).toMatchObject({ workOrder: mine, archive });
  }, 60_000);

  it("a damaged picture index is told with its file, its words and its hint, and the pack goes on", async () => {
    const o = path.join(dir, "out-damaged");
    const n1 = path.join(dir, "damaged-night1");
    await put(n1, "WO_D1/meter_reading/a.jpg", jpeg(site(31)));
    expect((await wopack(["pack", n1, "--out", o], { cwd: dir })).code).toBe(0);
    const journal = path.join(o, ".wopack", "pictures.journal");
    const bytes = await readFile(journal);
    const at = bytes.length - 3; // (inside the last record: a damaged byte, not a torn tail)
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    await writeFile(journal, bytes);
    const n2 = path.join(dir, "damaged-night2");
    await put(n2, "WO_D2/meter_reading/b.jpg", jpeg(site(32)));
    const run = await wopack(["pack", n2, "--out", o], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`W_PICTURE_INDEX_DAMAGED: ${journal} has 1 record that does not check`);
    expect(run.stderr).toMatch(/W_PICTURE_INDEX_DAMAGED: [^\n]*\(hint: check that disk/);
  }, 60_000);

  it.each([
    [{ reuse: { action: "block" } }, ["images.checks.reuse.action:"]],
    [
      { age: { action: "warn", maxAge: 30 }, distance: { maxDistance: 500 } },
      ["images.checks.age.maxAge: a duration needs a unit; did you mean 30d?", "images.checks.distance.maxDistance:"],
    ],
    [{ blur: { minSharpnes: 1 } }, ["images.checks.blur:"]],
  ])("config %j: exit 2, every problem as path: message, nothing written", async (checks, lines) => {
    const config = path.join(dir, `bad-${lines.length}-${Object.keys(checks)[0]}.json`);
    await writeFile(config, JSON.stringify({ images: { checks } }));
    const o = path.join(dir, `out-bad-${Object.keys(checks)[0]}`);
    const run = await wopack(["pack", path.join(dir, "night1"), "--out", o, "--config", config], { cwd: dir });
    expect(run.code).toBe(2);
    for (const line of lines) expect(run.stderr).toContain(line);
    expect(run.stderr).toContain("E_CONFIG_INVALID");
    await expect(readFile(path.join(o, ".wopack", "ledger.jsonl"))).rejects.toThrow();
  });
});
