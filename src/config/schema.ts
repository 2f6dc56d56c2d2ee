import { z } from "zod";
import { coerceValue } from "../plan/metadata.js";
import { isTaskGroupName } from "../plan/names.js";
import { parseDuration, parseSize } from "./units.js";

const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseSize(v);
  if (n === undefined) {
    ctx.addIssue({ code: "custom", message: `"${v}" is not a size; write bytes or e.g. "5MB", "2GiB"` });
    return z.NEVER;
  }
  return n;
});

const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseDuration(v);
  if (n === undefined) {
    ctx.addIssue({ code: "custom", message: `"${v}" is not a duration; write e.g. "30s", "10m", "250ms"` });
    return z.NEVER;
  }
  return n;
});

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
      quality: z.int().min(1).max(100).default(90),
      maxImageSize: size.default(5_000_000),
      maxDimension: z.int().positive().optional(),
      maxPixels: z.int().positive().default(100_000_000),
      stripGps: z.boolean().default(false),
    })
    .prefault({}),
  archive: z
    .strictObject({
      prefix: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, _ and - only (it becomes part of a file name)")
        .default("batch"),
      maxSize: size.optional(),
      maxWorkOrders: z.int().positive().optional(),
    })
    .prefault({}),
  watch: z
    .strictObject({
      settle: duration.optional(),
      readyMarker: z.string().optional(),
      batchWindow: duration.optional(),
      poll: z.union([z.boolean(), duration]).optional(),
    })
    .prefault({}),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

export type MetadataField = Config["metadata"]["fields"][string];
