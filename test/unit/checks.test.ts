// The photo checks' judging (SPEC §15), pure: measures and metadata in, findings and refusals out. Tables for
// the cases a reader checks by eye, fast-check for the borders of every threshold.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CheckedPhoto,
  type CheckedWorkOrder,
  exifTime,
  haversineMetres,
  indexedPictures,
  judgeWorkOrder,
  PENDING_ARCHIVE,
  type PhotoCheckSettings,
  photoWarning,
} from "../../src/checks/checks.js";
import { hashDistance, type MeasuredPicture } from "../../src/checks/measures.js";
import type { IndexedPicture, PictureIndex, PictureMatch } from "../../src/checks/pictures.js";
import { parseConfig } from "../../src/config/load.js";
import { checkOfCode } from "../../src/spec/findingWords.js";

/** The index by brute force: what checks.ts asks of any PictureIndex. */
function memoryIndex(pictures: IndexedPicture[] = []): PictureIndex {
  const all = [...pictures];
  return {
    find(hash, sha256, maxDistance, workOrder) {
      let best: PictureMatch | undefined;
      for (const picture of all) {
        if (picture.workOrder === workOrder) continue;
        const exact = sha256 !== undefined && picture.sha256 === sha256;
        const distance = exact ? 0 : hashDistance(hash, picture.hash);
        if (!exact && distance > maxDistance) continue;
        if (!best || (exact && !best.exact) || (exact === best.exact && distance < best.distance))
          best = { picture, distance, exact };
      }
      return best;
    },
    add(p) {
      all.push(...p);
    },
    drop(workOrder) {
      for (let i = all.length - 1; i >= 0; i--)
        if (all[i]!.workOrder === workOrder && all[i]!.archive === PENDING_ARCHIVE) all.splice(i, 1);
    },
    get size() {
      return all.length;
    },
  };
}

const DEFAULTS = parseConfig({}).images.checks;

function settings(over: { [K in keyof PhotoCheckSettings]?: Partial<PhotoCheckSettings[K]> } = {}): PhotoCheckSettings {
  const s = structuredClone(DEFAULTS);
  for (const [k, v] of Object.entries(over)) Object.assign(s[k as keyof PhotoCheckSettings], v);
  return s;
}

/** A well-exposed, sharp, structured picture with this hash. */
function measures(hash: bigint, over: Partial<MeasuredPicture> = {}): MeasuredPicture {
  return {
    hash,
    sharpness: 10 * DEFAULTS.blur.minSharpness + 1,
    exposure: { mean: 120, dark: 0.02, bright: 0.02, highlight: 230 },
    flat: false,
    ...over,
  };
}

let n = 0;
function photo(wo: string, over: Partial<CheckedPhoto> = {}): CheckedPhoto {
  n++;
  return {
    entry: `${wo}/meter-${n}.jpg`,
    source: `${wo}/IMG_${n}.jpg`,
    measures: measures(BigInt(n) * 0x9e3779b97f4a7c15n),
    ...over,
  };
}

function wo(id: string, photos: CheckedPhoto[], metadata: CheckedWorkOrder["metadata"] = {}): CheckedWorkOrder {
  return { id, photos, metadata };
}

const NOW = new Date("2026-06-01T12:00:00Z");

function judge(w: CheckedWorkOrder, checks = settings(), index = memoryIndex(), committed?: Map<string, string>) {
  return judgeWorkOrder(w, { checks, index, now: NOW, ...(committed ? { committed } : {}) });
}

const codes = (j: ReturnType<typeof judge>) => [...j.findings.values()].flat().map((f) => f.code);

/** `hash` with `k` distinct bits flipped (the bits chosen by `seed`). */
function flip(hash: bigint, k: number, seed: number): bigint {
  const bits = Array.from({ length: 64 }, (_, i) => i);
  let x = seed >>> 0 || 1;
  for (let i = 63; i > 0; i--) {
    x = (x * 1103515245 + 12345) >>> 0;
    const j = x % (i + 1);
    [bits[i], bits[j]] = [bits[j]!, bits[i]!];
  }
  return bits.slice(0, k).reduce((h, b) => h ^ (1n << BigInt(b)), hash);
}

const hash64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

describe("exposure and blur", () => {
  it.each([
    [{ dark: 0.9, bright: 0, highlight: 200 }, 5, ["W_PHOTO_DARK"]],
    [{ dark: 0.85, bright: 0, highlight: 200 }, 5, ["W_PHOTO_DARK"]],
    [{ dark: 0.84, bright: 0, highlight: 200 }, 5, []],
    // under-exposed: nothing brighter than a dark grey, though few pixels are black
    [{ dark: 0.3, bright: 0, highlight: 60 }, 5, ["W_PHOTO_DARK"]],
    [{ dark: 0.3, bright: 0, highlight: 65 }, 5, []],
    [{ dark: 0, bright: 0.95, highlight: 255 }, 5, ["W_PHOTO_OVEREXPOSED"]],
    [{ dark: 0.1, bright: 0.1, highlight: 250 }, 0.01, ["W_PHOTO_BLURRY"]],
    // a black picture has no detail either: told once, as dark
    [{ dark: 0.99, bright: 0, highlight: 10 }, 0, ["W_PHOTO_DARK"]],
  ])("exposure %j, sharpness %f: %j", (exposure, sharpness, expected) => {
    const checks = settings({
      exposure: { darkFraction: 0.85, darkMaxHighlight: 64, brightFraction: 0.85 },
      blur: { minSharpness: 0.2 },
    });
    const p = photo("WO_1", { measures: measures(1n, { exposure: { mean: 50, ...exposure }, sharpness }) });
    const j = judge(wo("WO_1", [p]), checks);
    expect(codes(j)).toEqual(expected);
    expect(j.problems).toEqual([]);
  });

  it("the threshold is the border: flagged from it up (fast-check over fractions and thresholds)", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0.01, max: 1, noNaN: true }), (dark, limit) => {
        const p = photo("WO_1", { measures: measures(1n, { exposure: { mean: 10, dark, bright: 0, highlight: 255 } }) });
        const j = judge(wo("WO_1", [p]), settings({ exposure: { darkFraction: limit, brightFraction: 1 } }));
        expect(codes(j).includes("W_PHOTO_DARK")).toBe(dark >= limit);
      }),
    );
    fc.assert(
      fc.property(fc.double({ min: 0, max: 5, noNaN: true }), fc.double({ min: 0, max: 5, noNaN: true }), (sharpness, min) => {
        const p = photo("WO_1", { measures: measures(1n, { sharpness }) });
        const j = judge(wo("WO_1", [p]), settings({ blur: { minSharpness: min } }));
        expect(codes(j).includes("W_PHOTO_BLURRY")).toBe(sharpness < min);
      }),
    );
  });

  it("refuse: an E_ problem with the same words, no finding; off: nothing, not even counted", () => {
    const dark = () => photo("WO_1", { measures: measures(1n, { exposure: { mean: 3, dark: 1, bright: 0, highlight: 3 } }) });
    const warned = judge(wo("WO_1", [dark()]));
    const refused = judge(wo("WO_1", [dark()]), settings({ exposure: { action: "refuse" } }));
    expect(refused.findings.size).toBe(0);
    expect(refused.problems.map((p) => p.code)).toEqual(["E_PHOTO_DARK"]);
    const message = [...warned.findings.values()][0]![0]!.message;
    expect(refused.problems[0]!.message.replace(/IMG_\d+/, "")).toBe(message.replace(/IMG_\d+/, ""));
    expect(refused.problems[0]).toMatchObject({ hint: expect.stringMatching(/retake/), path: expect.stringMatching(/^WO_1\//) });
    expect(refused.counts.exposure).toEqual({ refused: 1 });
    const off = judge(wo("WO_1", [dark()]), settings({ exposure: { action: "off" }, blur: { action: "off" } }));
    expect(off.findings.size + off.problems.length).toBe(0);
    expect(off.counts.exposure).toBeUndefined();
  });

  it("a photo without measures (not decoded) is judged by no pixel check", () => {
    const j = judge(wo("WO_1", [photo("WO_1", { measures: undefined }), photo("WO_1", { measures: undefined })]));
    expect(j.findings.size + j.problems.length).toBe(0);
    expect(j.counts).toEqual({});
  });
});

describe("duplicate within a work order", () => {
  it("flagged iff the hashes are within maxDistance; the later photo names the earlier (fast-check)", () => {
    fc.assert(
      fc.property(hash64, fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 16 }), fc.integer(), (h, k, max, seed) => {
        const a = photo("WO_1", { measures: measures(h) });
        const b = photo("WO_1", { measures: measures(flip(h, k, seed)) });
        const j = judge(wo("WO_1", [a, b]), settings({ duplicate: { maxDistance: max }, reuse: { action: "off" } }));
        const found = j.findings.get(b.entry) ?? [];
        expect(found.length).toBe(k <= max ? 1 : 0);
        expect(j.findings.has(a.entry)).toBe(false);
        if (k <= max) {
          expect(found[0]!.earlier).toEqual({
            workOrder: "WO_1",
            entry: a.entry,
            archive: PENDING_ARCHIVE,
            distance: k,
            exact: false,
          });
          expect(found[0]!.message).toContain(a.source);
          expect(found[0]!.message).toContain("WO_1");
        }
      }),
    );
  });

  it("the same bytes are a duplicate even when the picture is flat; flat pictures are not compared by hash", () => {
    const flat = (sha256?: string) => photo("WO_1", { sha256, measures: measures(42n, { flat: true }) });
    const same = judge(wo("WO_1", [flat("ab"), flat("ab")]));
    expect(codes(same)).toEqual(["W_PHOTO_DUPLICATE"]);
    expect([...same.findings.values()][0]![0]!.earlier?.exact).toBe(true);
    expect(codes(judge(wo("WO_1", [flat("ab"), flat("cd")])))).toEqual([]);
    expect(codes(judge(wo("WO_1", [flat(), flat()])))).toEqual([]);
  });

  it("three copies: each later one names the first", () => {
    const [a, b, c] = [1, 2, 3].map(() => photo("WO_1", { measures: measures(7n) }));
    const j = judge(wo("WO_1", [a!, b!, c!]));
    expect([b, c].map((p) => j.findings.get(p!.entry)?.[0]?.earlier?.entry)).toEqual([a!.entry, a!.entry]);
  });
});

describe("reuse across work orders", () => {
  const earlier: IndexedPicture = {
    hash: 0x0123456789abcdefn,
    workOrder: "WO_OLD",
    entry: "WO_OLD/meter-0.jpg",
    archive: "batch-1.zip",
    out: "/out",
  };

  it("flagged iff within maxDistance of another work order's picture, naming its work order, entry and archive (fast-check)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 16 }), fc.integer(), (k, max, seed) => {
        const p = photo("WO_NEW", { measures: measures(flip(earlier.hash, k, seed)) });
        const j = judge(wo("WO_NEW", [p]), settings({ reuse: { maxDistance: max } }), memoryIndex([earlier]));
        const found = (j.findings.get(p.entry) ?? []).filter((f) => f.code === "W_PHOTO_REUSED");
        expect(found.length).toBe(k <= max ? 1 : 0);
        if (found[0]) {
          expect(found[0].earlier).toEqual({
            workOrder: "WO_OLD",
            entry: "WO_OLD/meter-0.jpg",
            archive: "batch-1.zip",
            distance: k,
            exact: false,
          });
          expect(found[0].message).toMatch(/WO_OLD.*WO_OLD\/meter-0\.jpg.*batch-1\.zip.*WO_NEW/);
        }
      }),
    );
  });

  it("never against its own work order; a flat picture only by its bytes", () => {
    const same = judge(wo("WO_OLD", [photo("WO_OLD", { measures: measures(earlier.hash) })]), settings(), memoryIndex([earlier]));
    expect(codes(same)).toEqual([]);
    const flatIndex = memoryIndex([{ ...earlier, sha256: "f".repeat(64) }]);
    const flatByHash = photo("WO_NEW", { measures: measures(earlier.hash, { flat: true }) });
    expect(codes(judge(wo("WO_NEW", [flatByHash]), settings(), flatIndex))).toEqual([]);
    const flatBytes = photo("WO_NEW", { sha256: "f".repeat(64), measures: measures(1n, { flat: true }) });
    const j = judge(wo("WO_NEW", [flatBytes]), settings(), flatIndex);
    expect([...j.findings.values()].flat().map((f) => [f.code, f.earlier?.exact])).toEqual([["W_PHOTO_REUSED", true]]);
  });

  it("this run's earlier work order: 'earlier in this run' until its archive is committed, then named", () => {
    const index = memoryIndex();
    const first = wo("WO_A", [photo("WO_A", { measures: measures(99n) })]);
    expect(judge(first, settings(), index).findings.size).toBe(0);
    index.add(indexedPictures(first, PENDING_ARCHIVE, "/out"));
    const second = () => wo("WO_B", [photo("WO_B", { measures: measures(99n) })]);
    const pending = [...judge(second(), settings(), index).findings.values()].flat()[0]!;
    expect(pending.earlier?.archive).toBe(PENDING_ARCHIVE);
    expect(pending.message).toContain("earlier in this run");
    const named = [...judge(second(), settings(), index, new Map([["WO_A", "batch-7.zip"]])).findings.values()].flat()[0]!;
    expect(named.earlier?.archive).toBe("batch-7.zip");
    expect(named.message).toContain("in archive batch-7.zip");
  });

  it("refuse: E_PHOTO_REUSED naming the earlier work order and archive", () => {
    const p = photo("WO_NEW", { measures: measures(earlier.hash) });
    const j = judge(wo("WO_NEW", [p]), settings({ reuse: { action: "refuse" } }), memoryIndex([earlier]));
    expect(j.problems).toEqual([
      expect.objectContaining({ code: "E_PHOTO_REUSED", path: p.source, message: expect.stringMatching(/WO_OLD.*batch-1\.zip/) }),
    ]);
  });
});

describe("the words of a refusal", () => {
  // (the same words serve "warn" and "refuse": before, a refused work order's E_PHOTO_REUSED said its photo was
  // "packed again", and E_PHOTO_DUPLICATE named the twin's entry as "packed as", when nothing of it was packed)
  const old: IndexedPicture = {
    hash: 0x0123456789abcdefn,
    workOrder: "WO_OLD",
    entry: "WO_OLD/m-0.jpg",
    archive: "b.zip",
    out: "/o",
  };
  it.each([
    ["reuse", "warn"],
    ["reuse", "refuse"],
    ["duplicate", "warn"],
    ["duplicate", "refuse"],
  ] as const)("%s set to %s: never says this work order's photos were packed", (check, action) => {
    const twins = [photo("WO_NEW", { measures: measures(old.hash) }), photo("WO_NEW", { measures: measures(old.hash) })];
    const j = judge(wo("WO_NEW", twins), settings({ [check]: { action } }), memoryIndex([old]));
    const words = [...j.problems, ...[...j.findings.values()].flat()]
      .filter((f) => f.code.endsWith(check === "reuse" ? "PHOTO_REUSED" : "PHOTO_DUPLICATE"))
      .map((f) => f.message);
    expect(words.length).toBeGreaterThan(0);
    for (const w of words) expect(w.replace("was packed before for work order WO_OLD", "")).not.toMatch(/packed/);
  });
});

describe("age", () => {
  const aged = (captured: string | undefined, metadata: CheckedWorkOrder["metadata"] = {}, dateField?: string) =>
    codes(
      judge(
        wo("WO_1", [photo("WO_1", { captured })], metadata),
        settings({ age: { action: "warn", maxAge: 30 * 86_400_000, ...(dateField ? { dateField } : {}) } }),
      ),
    );

  it.each([
    ["2026:05:01 12:00:00", {}, undefined, ["W_PHOTO_OLD"]],
    ["2026:05:03 12:00:00", {}, undefined, []],
    ["2026:05:03 12:00:00", { visit: "2026-07-01" }, "visit", ["W_PHOTO_OLD"]],
    ["2026:05:03 12:00:00", { visit: "2026:07:01 08:00:00" }, "visit", ["W_PHOTO_OLD"]],
    // a field named but not a date: the packing time
    ["2026:05:03 12:00:00", { visit: "soon" }, "visit", []],
    ["2026:05:03 12:00:00", {}, "visit", []],
    [undefined, {}, undefined, []],
    ["not a date", {}, undefined, []],
  ])("captured %s, metadata %j, dateField %s: %j", (captured, metadata, field, expected) => {
    expect(aged(captured, metadata, field)).toEqual(expected);
  });

  it("flagged iff older than maxAge before the reference (fast-check)", () => {
    fc.assert(
      fc.property(fc.integer({ min: -10_000, max: 10_000 }), fc.integer({ min: 1, max: 5000 }), (minutesOld, maxMinutes) => {
        const t = new Date(NOW.getTime() - minutesOld * 60_000);
        const captured = t.toISOString().slice(0, 19).replace(/-/g, ":").replace("T", " ");
        const j = judge(
          wo("WO_1", [photo("WO_1", { captured })]),
          settings({ age: { action: "warn", maxAge: maxMinutes * 60_000 } }),
        );
        expect(codes(j).includes("W_PHOTO_OLD")).toBe(minutesOld > maxMinutes);
      }),
    );
  });

  it("reads EXIF times as written, refuses what is none", () => {
    expect(exifTime("2024:03:04 05:06:07")).toBe(Date.UTC(2024, 2, 4, 5, 6, 7));
    expect(exifTime("0000:00:00 00:00:00")).toBeUndefined();
    expect(exifTime("")).toBeUndefined();
  });
});

describe("distance", () => {
  it("haversine: known distances, symmetric, zero to itself (fast-check)", () => {
    const paris = { latitude: 48.8566, longitude: 2.3522 };
    const london = { latitude: 51.5074, longitude: -0.1278 };
    expect(haversineMetres(paris, london) / 1000).toBeCloseTo(343.6, 0);
    expect(haversineMetres({ latitude: 0, longitude: 0 }, { latitude: 0, longitude: 180 }) / 1000).toBeCloseTo(20015, 0);
    const point = fc.record({
      latitude: fc.double({ min: -90, max: 90, noNaN: true }),
      longitude: fc.double({ min: -180, max: 180, noNaN: true }),
    });
    fc.assert(
      fc.property(point, point, (a, b) => {
        expect(haversineMetres(a, b)).toBeCloseTo(haversineMetres(b, a), 3);
        expect(haversineMetres(a, a)).toBe(0);
        expect(haversineMetres(a, b)).toBeLessThanOrEqual(Math.PI * 6_371_008.8 + 1e-6); // half the globe at most
      }),
    );
  });

  const far = (gps: CheckedPhoto["gps"], metadata: CheckedWorkOrder["metadata"]) =>
    judge(
      wo("WO_1", [photo("WO_1", { gps })], metadata),
      settings({ distance: { action: "warn", maxDistance: 500, latitudeField: "lat", longitudeField: "lon" } }),
    );

  it.each([
    [{ latitude: 48.8566, longitude: 2.3522 }, { lat: 48.8566, lon: 2.3522 }, []],
    [{ latitude: 48.8566, longitude: 2.3522 }, { lat: 48.86, lon: 2.3522 }, []], // ~380 m
    [{ latitude: 48.8566, longitude: 2.3522 }, { lat: 48.87, lon: 2.3522 }, ["W_PHOTO_FAR"]], // ~1.5 km
    [{ latitude: 48.8566, longitude: 2.3522 }, { lat: "48.87", lon: "2.3522" }, ["W_PHOTO_FAR"]], // text fields
    [{ latitude: 48.8566, longitude: 2.3522 }, { lat: 48.87 }, []], // no site: not judged
    [{ latitude: 48.8566, longitude: 2.3522 }, { lat: 148, lon: 2 }, []], // no valid site
    [undefined, { lat: 1, lon: 1 }, []], // no GPS
  ])("photo %j, site %j: %j", (gps, metadata, expected) => {
    expect(codes(far(gps, metadata))).toEqual(expected);
  });

  it("the message names the distance, the site and its fields", () => {
    const f = [...far({ latitude: 48.8566, longitude: 2.3522 }, { lat: 48.87, lon: 2.3522 }).findings.values()][0]![0]!;
    expect(f.message).toMatch(/1\.5 km from the site \(metadata lat, lon: 48\.87, 2\.3522\).*500 m/);
  });
});

describe("codes", () => {
  it("every finding's warning has its code, words, hint and photo; codes map back to their check", () => {
    const p = photo("WO_1", { measures: measures(1n, { exposure: { mean: 250, dark: 0, bright: 0.99, highlight: 255 } }) });
    const f = [...judge(wo("WO_1", [p])).findings.values()][0]![0]!;
    expect(photoWarning(f, p.source)).toEqual({
      code: "W_PHOTO_OVEREXPOSED",
      message: f.message,
      hint: expect.any(String),
      path: p.source,
    });
    expect(
      [
        "W_PHOTO_REUSED",
        "E_PHOTO_DUPLICATE",
        "W_PHOTO_BLURRY",
        "W_PHOTO_DARK",
        "E_PHOTO_OVEREXPOSED",
        "W_PHOTO_OLD",
        "W_PHOTO_FAR",
      ].map(checkOfCode),
    ).toEqual(["reuse", "duplicate", "blur", "exposure", "exposure", "age", "distance"]);
  });
});
