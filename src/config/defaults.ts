// The config when no file is found, and the flags zod checks: what a command needs of the config without
// loading zod and building the schema (~25 ms of CPU, a sixth of `wopack upload`'s start-up). Each is held
// to the schema by test/unit/config.defaults.test.ts: these are configSchema.parse({}), and flagsSchema's keys.
import {
  AGE_MAX_DAYS,
  BLUR_MIN_SHARPNESS,
  BRIGHT_FRACTION,
  DARK_FRACTION,
  DARK_MAX_HIGHLIGHT,
  DISTANCE_MAX_METRES,
  REUSE_MAX_DISTANCE,
} from "../spec/photoChecks.js";
import type { Config } from "./schema.js";

/** configSchema.parse({}): a new object each call (a caller may change its copy). */
export function defaultConfig(): Config {
  return {
    aliases: {},
    metadata: { fields: {}, idColumn: "work_order", omitWhenEmpty: false },
    images: {
      quality: 90,
      maxImageSize: 5_000_000,
      maxPixels: 100_000_000,
      stripGps: false,
      verify: "pixels",
      checks: {
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
        distance: {
          action: "off",
          maxDistance: DISTANCE_MAX_METRES,
          latitudeField: "latitude",
          longitudeField: "longitude",
        },
      },
    },
    archive: { prefix: "batch" },
    upload: { maxElapsed: 30 * 60_000, retries: 20, retryBackoff: 60_000 },
    watch: {},
  };
}

/** The keys of flagsSchema: the flags whose values are checked like the config keys they override. */
export const CHECKED_FLAGS: readonly string[] = [
  "max-image-size",
  "max-dimension",
  "max-pixels",
  "max-archive-size",
  "max-work-orders",
  "concurrency",
  "settle",
  "batch-window",
  "poll",
  "ready-marker",
  "on-archive-timeout",
  "older-than",
  "max-age",
  "upload-rate",
  "upload-retries",
  "on-archive-retries",
  "shard",
];
