import { z } from "zod";
import { isTaskGroupName } from "../spec/names.js";
import { coerceValue } from "../spec/values.js";
import { parseDuration, parseSize } from "./units.js";

/** A size in bytes ("5MB", "2GiB", 1048576), at least `min`. */
const size = (min: number, why: string) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = parseSize(v);
    if (n === undefined) {
      ctx.addIssue({ code: "custom", message: `"${v}" is not a size; write bytes or e.g. "5MB", "2GiB"` });
      return z.NEVER;
    }
    if (n < min) {
      ctx.addIssue({ code: "custom", message: `${n} bytes is too small: at least ${min} (${why})` });
      return z.NEVER;
    }
    return n;
  });

/** A duration ("30s", "10m", "250ms"; a bare number is seconds), at least `minMs`. */
const duration = (minMs = 0) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = parseDuration(v);
    if (n === undefined) {
      ctx.addIssue({ code: "custom", message: `"${v}" is not a duration; write e.g. "30s", "10m", "250ms"` });
      return z.NEVER;
    }
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
      .number({ error: (issue) => `${JSON.stringify(issue.input)} is not a number` })
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

const taskGroupName = z.string().refine(isTaskGroupName, {
  message: "a task group is letters, digits, _ and -, and must not end in -<digits> (that reads as an order suffix)",
});

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

export const FIELD_SOURCES = ["workOrder", "exif:DateTimeOriginal", "count:photos", "now"] as const;

const metadataField = z
  .strictObject({
    type: z.enum(["text", "number", "boolean"]),
    required: z.boolean().default(false),
    default: z.union([z.string(), z.number(), z.boolean()]).optional(),
    from: z.enum(FIELD_SOURCES).optional(),
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
  $schema: z.string().optional(),
  taskGroups: z.array(taskGroupName).optional(),
  aliases: z.record(z.string(), taskGroupName).default({}),
  defaultTaskGroup: taskGroupName.optional(),
  rootFilePattern: rootFilePattern.optional(),
  metadata: z
    .strictObject({
      fields: z.record(z.string().min(1), metadataField).default({}),
      idColumn: z.string().min(1).default("work_order"),
      omitWhenEmpty: z.boolean().default(false),
    })
    .prefault({}),
  images: z
    .strictObject({
      quality: wholeNumber(1, 100).default(90),
      maxImageSize: IMAGE_SIZE.default(5_000_000),
      maxDimension: wholeNumber(1).optional(),
      maxPixels: wholeNumber(1).default(100_000_000),
      stripGps: z.boolean().default(false),
      /** pixels: every JPEG and PNG is decoded once (small) and damaged picture data refuses it; structure: headers and end markers only */
      verify: z.enum(["pixels", "structure"]).default("pixels"),
    })
    .prefault({}),
  archive: z
    .strictObject({
      prefix: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, _ and - only (it becomes part of a file name)")
        .default("batch"),
      maxSize: ARCHIVE_SIZE.optional(),
      maxWorkOrders: wholeNumber(1).optional(),
    })
    .prefault({}),
  upload: z
    .strictObject({
      /** the site's API base, e.g. https://api.<site-id>.customers.deepomatic.com/v0.2 (env WOPACK_API_URL wins) */
      url: apiUrl.optional(),
      /** a file holding the API key (env WOPACK_API_KEY wins; systemd: $CREDENTIALS_DIRECTORY/wopack-api-key) */
      keyFile: z.string().min(1).optional(),
      maxElapsed: duration(1000).default(30 * 60_000),
      retries: wholeNumber(0, 1000).default(20),
      rate: size(1024, "a thinner line than this is no line").optional(),
      uploadedTo: z.string().min(1).optional(),
    })
    .prefault({}),
  watch: z
    .strictObject({
      settle: duration().optional(),
      readyMarker: markerName.optional(),
      batchWindow: duration().optional(),
      poll: z.union([z.boolean(), POLL]).optional(),
    })
    .prefault({}),
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
  poll: z.union([z.literal(""), POLL]).optional(),
  "ready-marker": markerName.optional(),
  "on-archive-timeout": duration(1000).optional(),
  "upload-rate": size(1024, "a thinner line than this is no line").optional(),
  "upload-retries": wholeNumber(0, 1000).optional(),
  "on-archive-retries": wholeNumber(0, 100).optional(),
});

export type Flags = z.output<typeof flagsSchema>;
