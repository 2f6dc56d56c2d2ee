// images.checks (SPEC §15): each check's action (off | warn | refuse) and thresholds; defaults from
// spec/photoChecks.ts; every problem listed as `path: message`.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import {
  AGE_MAX_DAYS,
  BLUR_MIN_SHARPNESS,
  BRIGHT_FRACTION,
  DARK_FRACTION,
  DARK_MAX_HIGHLIGHT,
  DISTANCE_MAX_METRES,
  REUSE_MAX_DISTANCE,
} from "../../src/spec/photoChecks.js";
import { configProblems } from "../helpers.js";

const problems = (raw: unknown): string[] => configProblems(parseConfig, raw);

describe("images.checks", () => {
  it("defaults: reuse, duplicate, blur and exposure warn; age and distance are off", () => {
    expect(parseConfig({}).images.checks).toEqual({
      reuse: { action: "warn", maxDistance: REUSE_MAX_DISTANCE },
      duplicate: { action: "warn", maxDistance: REUSE_MAX_DISTANCE },
      blur: { action: "warn", minSharpness: BLUR_MIN_SHARPNESS },
      exposure: {
        action: "warn",
        darkFraction: DARK_FRACTION,
        darkMaxHighlight: DARK_MAX_HIGHLIGHT,
        brightFraction: BRIGHT_FRACTION,
      },
      age: { action: "off", maxAge: AGE_MAX_DAYS * 86_400_000 },
      distance: { action: "off", maxDistance: DISTANCE_MAX_METRES, latitudeField: "latitude", longitudeField: "longitude" },
    });
  });

  it("a check's action and thresholds (units read, the other defaults kept)", () => {
    const c = parseConfig({
      images: {
        checks: {
          reuse: { action: "refuse" },
          blur: { action: "off" },
          age: { action: "warn", maxAge: "7d", dateField: "visit_date" },
          distance: { action: "refuse", maxDistance: "2.5km", latitudeField: "site_lat", longitudeField: "site_lon" },
          exposure: { darkFraction: 0.5 },
        },
      },
    }).images.checks;
    expect(c.reuse).toEqual({ action: "refuse", maxDistance: REUSE_MAX_DISTANCE });
    expect(c.blur.action).toBe("off");
    expect(c.age).toEqual({ action: "warn", maxAge: 7 * 86_400_000, dateField: "visit_date" });
    expect(c.distance).toEqual({ action: "refuse", maxDistance: 2500, latitudeField: "site_lat", longitudeField: "site_lon" });
    expect(c.exposure).toEqual({
      action: "warn",
      darkFraction: 0.5,
      darkMaxHighlight: DARK_MAX_HIGHLIGHT,
      brightFraction: BRIGHT_FRACTION,
    });
    expect(parseConfig({ images: { checks: { distance: { maxDistance: "800 m" } } } }).images.checks.distance.maxDistance).toBe(
      800,
    );
  });

  it.each([
    [{ reuse: "refuse" }, "images.checks.reuse:"],
    [{ reuse: { action: "block" } }, "images.checks.reuse.action:"],
    [{ reuse: { maxDistance: 40 } }, "images.checks.reuse.maxDistance:"],
    [{ duplicate: { maxDistance: 2.5 } }, "images.checks.duplicate.maxDistance:"],
    [{ blur: { minSharpness: -1 } }, "images.checks.blur.minSharpness:"],
    [{ exposure: { darkFraction: 2 } }, "images.checks.exposure.darkFraction:"],
    [{ age: { maxAge: 30 } }, "images.checks.age.maxAge: a duration needs a unit; did you mean 30d?"],
    [{ age: { maxAge: "a month" } }, "images.checks.age.maxAge:"],
    [{ distance: { maxDistance: 500 } }, "images.checks.distance.maxDistance:"],
    [{ distance: { maxDistance: "5 miles" } }, "images.checks.distance.maxDistance:"],
    [{ distance: { latitudeField: "" } }, "images.checks.distance.latitudeField:"],
    [{ blur: { minSharpnes: 1 } }, "images.checks.blur:"],
    [{ sharpness: "warn" }, "images.checks:"],
  ])("%j is refused with %s", (checks, line) => {
    const found = problems({ images: { checks } });
    expect(
      found.some((l) => l.startsWith(line)),
      found.join("\n"),
    ).toBe(true);
  });

  // (before: "Invalid input: expected object, received string", which does not say what to write)
  it.each(["reuse", "duplicate", "blur", "exposure", "age", "distance"])(
    "%s given as an action alone (the shorthand a user tries) says the object to write instead",
    (check) => {
      for (const action of ["off", "warn", "refuse", true]) {
        const example = typeof action === "string" ? action : "warn";
        expect(problems({ images: { checks: { [check]: action } } })).toEqual([
          `images.checks.${check}: an object: write { "action": "${example}" } (with its thresholds, if any)`,
        ]);
      }
    },
  );

  it('images.checks given as an action alone ("off", false) says the object to write instead', () => {
    for (const v of ["off", false, "warn"])
      expect(problems({ images: { checks: v } })).toEqual([
        'images.checks: an object with a key per check, e.g. { "reuse": { "action": "off" } }',
      ]);
  });

  it("lists every problem at once", () => {
    const found = problems({
      images: { checks: { reuse: { maxDistance: 99 }, age: { maxAge: 3 }, distance: { maxDistance: 1 } } },
    });
    expect(found.map((l) => l.split(":")[0])).toEqual([
      "images.checks.reuse.maxDistance",
      "images.checks.age.maxAge",
      "images.checks.distance.maxDistance",
    ]);
  });
});
