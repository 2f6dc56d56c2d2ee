import { z } from "zod";
import { TASK_GROUP_PATTERN } from "../spec/names.js";
import {
  AGE_MAX_DAYS,
  BLUR_MIN_SHARPNESS,
  BRIGHT_FRACTION,
  DARK_FRACTION,
  DARK_MAX_HIGHLIGHT,
  DISTANCE_MAX_METRES,
  REUSE_MAX_DISTANCE,
} from "../spec/photoChecks.js";
import { parseShard } from "../spec/shard.js";
import { coerceValue } from "../spec/values.js";
import { DURATION_TEXT, type DurationUnit, durationProblem, parseDuration, parseSize } from "./units.js";

/** A size as text: bytes, or a number and a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB; any case). */
const SIZE_TEXT = /^\s*\d+(\.\d+)?\s*(([kKmMgGtT][iI]?)?[bB])?\s*$/;

/**
 * A size in bytes ("5MB", "2GiB", 1048576), at least `min`. The input's shape is in the schema too (the
 * JSON Schema editors check against says the same as zod).
 */
const size = (min: number, why: string) =>
  z
    .union([
      z
        .number()
        .int()
        .min(min, { error: (i) => `${i.input} bytes is too small: at least ${min} (${why})` }),
      z
        .string()
        .regex(SIZE_TEXT, { error: (i) => `${JSON.stringify(i.input)} is not a size; write bytes or e.g. "5MB", "2GiB"` }),
    ])
    .transform((v, ctx) => {
      const n = parseSize(v)!;
      if (n < min) {
        ctx.addIssue({ code: "custom", message: `${n} bytes is too small: at least ${min} (${why})` });
        return z.NEVER;
      }
      return n;
    });

/**
 * A duration ("30s", "10m", "250ms", "30d"; 0 alone), at least `minMs`. A number without a unit is refused
 * with the unit it probably meant (`likely`, seconds unless said), never read as one: SPEC §4.
 */
const duration = (minMs = 0, likely: DurationUnit = "s") =>
  z
    .union([z.literal(0), z.string().regex(DURATION_TEXT, { error: (i) => durationProblem(i.input, likely) })], {
      error: (i) => durationProblem(i.input, likely),
    })
    .transform((v, ctx) => {
      const n = parseDuration(v)!;
      if (n < minMs) {
        ctx.addIssue({ code: "custom", message: `${v} is too short: at least ${minMs} ms` });
        return z.NEVER;
      }
      return n;
    });

/** A whole number from `min` up (a flag's text "12" counts; "10.5", "-1" and "abc" do not). */
const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    (v) => (typeof v === "string" && /^\s*[+-]?\d+(\.\d*)?\s*$/.test(v) ? Number(v) : v),
    z
      .number({
        // (a number flag's "abc" arrives as NaN: the CLI names the value as typed)
        error: (issue) => (Number.isNaN(issue.input) ? "not a number" : `${JSON.stringify(issue.input)} is not a number`),
      })
      .int({ error: (issue) => `${issue.input} is not a whole number` })
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`),
  );

const IMAGE_SIZE = size(10_000, "a photo is never smaller");
const apiUrl = z
  .string()
  .refine((u) => /^https?:\/\/[^\s/]+/.test(u), "an http(s) URL, e.g. https://api.<site-id>.customers.deepomatic.com/v0.2");
const ARCHIVE_SIZE = size(100_000, "an archive holds at least one photo");
/** polling more often than this only burns CPU */
const POLL = duration(50);

/** A file name inside a work-order folder (no path): the ready marker. */
const markerName = z
  .string()
  .regex(/^[^/\\\0]+$/, "a file name, without / or \\")
  .refine((n) => n !== "." && n !== "..", "a file name, not . or ..");

const TASK_GROUP_MESSAGE =
  "a task group is letters, digits, _ and -, and must not end in -<digits> (that reads as an order suffix)";
const taskGroupName = z.string().regex(TASK_GROUP_PATTERN, TASK_GROUP_MESSAGE);

const rootFilePattern = z.string().superRefine((source, ctx) => {
  let re: RegExp;
  try {
    re = new RegExp(source);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `not a regular expression: ${(err as Error).message}` });
    return;
  }
  const groups = /\(\?<(\w+)>/g;
  const names = new Set([...source.matchAll(groups)].map((m) => m[1]));
  for (const need of ["workOrder", "taskGroup"]) {
    if (!names.has(need)) ctx.addIssue({ code: "custom", message: `needs a named group (?<${need}>...)` });
  }
  void re;
});

/** A distance on the ground as text: metres or kilometres ("500m", "2km", "1.5 km"); a bare number is refused. */
const DISTANCE_TEXT = /^\s*\d+(\.\d+)?\s*([mM]|[kK][mM])\s*$/;

const distance = z
  .string({ error: (i) => `${JSON.stringify(i.input)}: a distance needs a unit; write e.g. "500m" or "2km"` })
  .regex(DISTANCE_TEXT, { error: (i) => `${JSON.stringify(i.input)} is not a distance; write e.g. "500m" or "2km"` })
  .transform((v) => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(m|km)\s*$/i.exec(v)!;
    return Number(m[1]) * (m[2]!.toLowerCase() === "km" ? 1000 : 1);
  });

export const CHECK_ACTIONS = ["off", "warn", "refuse"] as const;

const fraction = (fallback: number, what: string) =>
  z.number().min(0, "a fraction from 0 to 1").max(1, "a fraction from 0 to 1").default(fallback).describe(what);

const hashBits = z
  .number()
  .int("a whole number of bits")
  .min(0, "from 0 to 32 bits")
  .max(32, "from 0 to 32 bits (more would match unrelated pictures)");

/** One photo check (SPEC §15): its action and its thresholds, each with its default. */
function photoCheck<T extends z.ZodRawShape>(action: (typeof CHECK_ACTIONS)[number], what: string, shape: T) {
  return z
    .strictObject(
      {
        action: z
          .enum(CHECK_ACTIONS, {
            error: () => 'one of "off", "warn" (pack it, with a warning) or "refuse" (refuse its work order)',
          })
          .default(action)
          .describe(
            `off: not checked; warn: the photo is packed, with a W_PHOTO_* warning; refuse: its work order is refused (E_PHOTO_*). Default ${action}`,
          ),
        ...shape,
      },
      {
        // (the shorthand a user tries, "reuse": "warn", gets the object to write)
        error: (iss) =>
          iss.code === "invalid_type"
            ? `an object: write { "action": "${typeof iss.input === "string" ? iss.input : "warn"}" } (with its thresholds, if any)`
            : undefined,
      },
    )
    .prefault({} as never) // (every key has a default; the generic shape hides that from the type)
    .describe(what);
}

const photoChecks = z
  .strictObject(
    {
      reuse: photoCheck("warn", "A picture already packed for another work order, in this outbox or a sibling shard's", {
        maxDistance: hashBits
          .default(REUSE_MAX_DISTANCE)
          .describe("Pictures whose 64-bit perceptual hashes differ in at most this many bits are the same picture"),
      }),
      duplicate: photoCheck("warn", "The same picture twice in one work order", {
        maxDistance: hashBits
          .default(REUSE_MAX_DISTANCE)
          .describe("Pictures whose 64-bit perceptual hashes differ in at most this many bits are the same picture"),
      }),
      blur: photoCheck("warn", "A picture with too little detail to be judged", {
        minSharpness: z
          .number()
          .min(0, "at least 0")
          .default(BLUR_MIN_SHARPNESS)
          .describe("A picture whose sharpness measure is below this is blurred (see docs/photo-checks.md)"),
      }),
      exposure: photoCheck("warn", "A nearly black or nearly white picture", {
        darkFraction: fraction(DARK_FRACTION, "Dark: at least this fraction of its pixels nearly black (luma <= 16)"),
        darkMaxHighlight: z
          .number()
          .int("a whole luma value")
          .min(0, "a luma from 0 to 255")
          .max(255, "a luma from 0 to 255")
          .default(DARK_MAX_HIGHLIGHT)
          .describe(
            "Dark too: even its brightest 1 % of pixels at or below this luma (0-255): under-exposed by about four stops",
          ),
        brightFraction: fraction(BRIGHT_FRACTION, "Overexposed: at least this fraction of its pixels nearly white (luma >= 240)"),
      }),
      age: photoCheck("off", "A photo captured (EXIF DateTimeOriginal) long before the work order's date", {
        maxAge: duration(60_000, "d")
          .default(AGE_MAX_DAYS * 86_400_000)
          .describe('The oldest a photo may be, e.g. "30d" or "12h" (a number and its unit; a bare number is refused)'),
        dateField: z
          .string()
          .min(1)
          .optional()
          .describe("The metadata field that holds the work order's date (ISO 8601); without it, the packing time"),
      }),
      distance: photoCheck("off", "A photo whose EXIF GPS position is far from the site given by metadata fields", {
        maxDistance: distance
          .default(DISTANCE_MAX_METRES)
          .describe('How far from the site a photo may be taken, e.g. "500m" or "2km" (a bare number is refused)'),
        latitudeField: z
          .string()
          .min(1)
          .default("latitude")
          .describe("The metadata field that holds the site's latitude (decimal degrees)"),
        longitudeField: z
          .string()
          .min(1)
          .default("longitude")
          .describe("The metadata field that holds the site's longitude (decimal degrees)"),
      }),
    },
    {
      error: (iss) =>
        iss.code === "invalid_type" ? 'an object with a key per check, e.g. { "reuse": { "action": "off" } }' : undefined,
    },
  )
  .prefault({})
  .describe("Photo checks before the platform sees the photos (SPEC §15; docs/photo-checks.md)");

export const FIELD_SOURCES = ["workOrder", "exif:DateTimeOriginal", "count:photos", "now"] as const;

const metadataField = z
  .strictObject({
    type: z.enum(["text", "number", "boolean"]).describe("The value's type in metadata.json"),
    required: z.boolean().default(false).describe("Refuse the work order without it (unless --allow-incomplete)"),
    default: z.union([z.string(), z.number(), z.boolean()]).optional().describe("The value when no other is given"),
    from: z
      .enum(FIELD_SOURCES)
      .optional()
      .describe("Computed: the work-order id, the earliest photo's EXIF capture time, the number of photos, or the packing time"),
  })
  .superRefine((field, ctx) => {
    if (field.default !== undefined && coerceValue(field.default, field.type) === undefined) {
      ctx.addIssue({ code: "custom", path: ["default"], message: `${JSON.stringify(field.default)} is not a ${field.type}` });
    }
    const textOnly = field.from && field.from !== "count:photos";
    if ((textOnly && field.type !== "text") || (field.from === "count:photos" && field.type === "boolean")) {
      ctx.addIssue({
        code: "custom",
        path: ["from"],
        message: `"${field.from}" gives ${textOnly ? "text" : "a number"}, not a ${field.type}`,
      });
    }
  });

export const configSchema = z.strictObject({
  $schema: z
    .string()
    .optional()
    .describe("The JSON Schema this file is checked against (wopack init writes it beside the config)"),
  taskGroups: z
    .array(taskGroupName)
    .optional()
    .describe(
      "The task groups the platform knows; a photo of any other group refuses its work order (the nearest name is suggested)",
    ),
  aliases: z
    .record(z.string(), taskGroupName)
    .default({})
    .describe('Human folder or file names mapped to task groups, e.g. {"Meter photos": "meter_reading"}'),
  defaultTaskGroup: taskGroupName
    .optional()
    .describe('The task group of a loose photo whose name is no usable group (e.g. "IMG 0042.jpg")'),
  rootFilePattern: rootFilePattern
    .optional()
    .describe(
      "A regular expression with the named groups (?<workOrder>) and (?<taskGroup>) (and optionally (?<n>)) for photos at the staging root; default <id>__<group>[-N].<ext>",
    ),
  metadata: z
    .strictObject({
      fields: z
        .record(z.string().min(1), metadataField)
        .default({})
        .describe(
          "The fields of each work order's metadata.json, typed; without any, metadata.json holds every value given as it is",
        ),
      idColumn: z.string().min(1).default("work_order").describe("The --metadata sidecar's column that holds the work-order id"),
      omitWhenEmpty: z.boolean().default(false).describe("Leave metadata.json out of a work order when it would be {}"),
    })
    .prefault({})
    .describe("Each work order's metadata.json (SPEC §6)"),
  images: z
    .strictObject({
      quality: wholeNumber(1, 100).default(90).describe("JPEG quality (1-100) of converted images"),
      maxImageSize: IMAGE_SIZE.default(5_000_000).describe(
        'Images larger than this are re-encoded, then downscaled, until they fit (bytes, or e.g. "5MB"; the platform\'s limit is 5 MB)',
      ),
      maxDimension: wholeNumber(1).optional().describe("Images wider or taller than this many pixels are downscaled"),
      maxPixels: wholeNumber(1).default(100_000_000).describe("Images above this many pixels are refused (decompression bombs)"),
      stripGps: z.boolean().default(false).describe("Remove location data (EXIF GPS, XMP) from every packed image"),
      verify: z
        .enum(["pixels", "structure"])
        .default("pixels")
        .describe(
          "pixels: every JPEG and PNG is decoded once (small) and damaged picture data refuses its work order; structure: headers and end markers only (faster)",
        ),
      checks: photoChecks,
    })
    .prefault({})
    .describe("How photos are checked and converted (SPEC §7)"),
  archive: z
    .strictObject({
      prefix: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, _ and - only (it becomes part of a file name)")
        .default("batch")
        .describe("Archives are named <prefix>-<UTC time>-<seq>.zip"),
      maxSize: ARCHIVE_SIZE.optional().describe('Split archives at this size (bytes, or e.g. "2GiB")'),
      maxWorkOrders: wholeNumber(1).optional().describe("At most this many work orders per archive"),
    })
    .prefault({})
    .describe("The archives written (SPEC §2, §8)"),
  upload: z
    .strictObject({
      url: apiUrl
        .optional()
        .describe(
          "The site's API base, e.g. https://api.<site-id>.customers.deepomatic.com/v0.2 (the environment's WOPACK_API_URL wins)",
        ),
      keyFile: z
        .string()
        .min(1)
        .optional()
        .describe("A file holding the API key (WOPACK_API_KEY wins; under systemd: $CREDENTIALS_DIRECTORY/wopack-api-key)"),
      maxElapsed: duration(1000)
        .default(30 * 60_000)
        .describe(
          'Give up on one request after retrying for this long, e.g. "30m". A number and its unit (ms, s, m, h, d); a bare number is refused.',
        ),
      retries: wholeNumber(0, 1000).default(20).describe("Retries of one request in a row"),
      retryBackoff: duration(100)
        .default(60_000)
        .describe(
          'watch --upload: an archive whose upload failed is tried again after this long, doubling at each failure up to 6h (e.g. "1m")',
        ),
      rate: size(1024, "a thinner line than this is no line")
        .optional()
        .describe('At most this many bytes per second (e.g. "2MB")'),
      uploadedTo: z.string().min(1).optional().describe("Move each archive and its report here once the platform has it"),
    })
    .prefault({})
    .describe("Sending archives to the platform's batch API (SPEC §12)"),
  watch: z
    .strictObject({
      settle: duration()
        .optional()
        .describe(
          'A work order is ready once nothing in it changed for this long, e.g. "30s" (watch\'s default). A number and its unit (ms, s, m, h, d); a bare number is refused.',
        ),
      readyMarker: markerName.optional().describe('Or: a work order is ready once its folder holds this file (e.g. ".ready")'),
      batchWindow: duration()
        .optional()
        .describe(
          'Collect work orders that become ready within this long into one archive, e.g. "2m". A number and its unit (ms, s, m, h, d); a bare number is refused.',
        ),
      poll: z
        .union([z.boolean(), POLL], { error: (i) => durationProblem(i.input, "s") })
        .optional()
        .describe(
          'Scan with stat every interval instead of file events (network shares); true is every 1s, or an interval, e.g. "2s" (a bare number is refused)',
        ),
      prune: z
        .strictObject({
          olderThan: duration(60_000, "d").describe(
            'Delete what was committed longer ago than this, e.g. "30d" (the rules of wopack prune)',
          ),
          every: duration(60_000, "h")
            .default(24 * 3_600_000)
            .describe('How often, e.g. "24h" (the default); the first at start'),
          processed: z.string().min(1).optional().describe("Also prune the work orders moved to this folder (watch's --move-to)"),
        })
        .optional()
        .describe("watch prunes --out (with --delete) between passes, under the lock it holds; off unless set"),
    })
    .prefault({})
    .describe("watch: when a work order is ready"),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

export type MetadataField = Config["metadata"]["fields"][string];

/**
 * The number, size and duration flags, checked by the same rules as the config keys they override (the
 * flags arrive as text). Every problem is listed at once; see parseFlags in cli/.
 */
export const flagsSchema = z.object({
  "max-image-size": IMAGE_SIZE.optional(),
  "max-dimension": wholeNumber(1).optional(),
  "max-pixels": wholeNumber(1).optional(),
  "max-archive-size": ARCHIVE_SIZE.optional(),
  "max-work-orders": wholeNumber(1).optional(),
  concurrency: wholeNumber(1, 1024).optional(),
  settle: duration().optional(),
  "batch-window": duration().optional(),
  /** "" (the bare flag) is the default interval */
  poll: z.union([z.literal(""), POLL], { error: (i) => durationProblem(i.input, "s") }).optional(),
  "ready-marker": markerName.optional(),
  "on-archive-timeout": duration(1000).optional(),
  /** prune: a retention age, so a bare 30 was 30 days */
  "older-than": duration(0, "d").optional(),
  /** status: how long an archive may wait for its upload */
  "max-age": duration(0, "h").optional(),
  "upload-rate": size(1024, "a thinner line than this is no line").optional(),
  "upload-retries": wholeNumber(0, 1000).optional(),
  "on-archive-retries": wholeNumber(0, 100).optional(),
  shard: z
    .string()
    .transform((text, ctx) => {
      const shard = parseShard(text);
      if (!shard)
        ctx.addIssue({ code: "custom", message: "<i>/<n>: i a whole number from 0 to n - 1, n from 1 to 1000 (e.g. 0/3)" });
      return shard ?? z.NEVER;
    })
    .optional(),
});

export type Flags = z.output<typeof flagsSchema>;
