import type yauzl from "yauzl";
import {
  BoundedZip,
  type EntryRead,
  entriesOverlap,
  entryTooBig,
  type InflateBudget,
  MAX_JSON_ENTRY,
  MAX_WHOLE_ENTRY,
  openZipListing,
  wrappingFolder,
  ZipRefused,
} from "../archive/readZip.js";
import type { Config } from "../config/schema.js";
import { checkPackableImage } from "../convert/integrity.js";
import { checkPixels } from "../convert/pixels.js";
import { SNIFF_BYTES, sniffImageType } from "../convert/sniff.js";
import { type Problem, problem } from "../core/errors.js";
import { own } from "../core/own.js";
import { parseJsonText } from "../core/text.js";
import { parseEntryName } from "../spec/images.js";
import { caseTwins, isTaskGroupName, isWorkOrderId } from "../spec/names.js";
import {
  badTaskGroupName,
  badWorkOrderId,
  caseTwinId,
  duplicateOrder,
  noPhotos,
  notJsonObject,
  unknownTaskGroup,
} from "../spec/problems.js";
import { coerceValue } from "../spec/values.js";

export interface ValidationReport {
  target: string;
  kind: "archive" | "staging";
  /** work orders found */
  workOrders: number;
  problems: Problem[];
  warnings: Problem[];
}

/** The archive being read (never an overlapping entry, never past its budget); whether E_ZIP_BOMB was told. */
interface ArchiveReading {
  bounded: BoundedZip;
  bombTold?: boolean;
}

interface WorkOrderSeen {
  images: number;
  numbers: Map<number, string>;
  metadata?: unknown;
}

/**
 * Checks any zip against §2 and the config: layout, names, content by magic bytes, image integrity,
 * order numbers, metadata.json, and the CRC of every entry. Every problem is listed with its path. The work
 * is bounded by the zip, not its headers: overlapping entries are never inflated, one over a size limit not
 * past it, all of them not past the InflateBudget (`seams.budget`: the tests' count of bytes inflated).
 */
export async function validateArchive(
  file: string,
  config: Config,
  seams: { budget?: InflateBudget } = {},
): Promise<ValidationReport> {
  const report: ValidationReport = { target: file, kind: "archive", workOrders: 0, problems: [], warnings: [] };
  const opened = await openZip(file);
  if ("problem" in opened) {
    report.problems.push(opened.problem);
    return report;
  }
  const { zip, entries } = opened;
  if (opened.listError) report.problems.push(opened.listError);
  const top = wrappingFolder(entries.filter((e) => !e.fileName.endsWith("/")).map((e) => e.fileName));
  if (top) {
    report.problems.push(
      problem(
        "E_ZIP_TOP_FOLDER",
        `every entry sits under the folder "${top}/": work-order folders must be at the root of the archive`,
        `zip the contents of "${top}", not the folder itself`,
        `${top}/`,
      ),
    );
  }
  const reading: ArchiveReading = { bounded: new BoundedZip(file, zip, entries, seams.budget) };
  for (const entry of entries) {
    const other = reading.bounded.overlaps.get(entry);
    if (other) report.problems.push(entriesOverlap(entry, other));
  }
  const seen = new Map<string, WorkOrderSeen>();
  const names = new Set<string>();
  for (const entry of entries) {
    const place = placeOf(entry, top, names);
    if (place?.id !== undefined && !seen.has(place.id)) {
      seen.set(place.id, { images: 0, numbers: new Map() });
      if (!isWorkOrderId(place.id)) report.problems.push(badWorkOrderId(place.id, `${place.id}/`));
    }
    if (place?.problem) report.problems.push(place.problem);
    else if (place?.file !== undefined) await checkEntry(reading, entry, place.file, seen.get(place.id!)!, config, report);
  }
  zip.close();

  for (const [id, earlier] of caseTwins(seen.keys())) report.problems.push(caseTwinId(id, earlier, `${id}/`));
  for (const [id, wo] of seen) {
    if (wo.images === 0) report.problems.push(noPhotos(id, `${id}/`));
    checkMetadata(id, wo.metadata, config, report);
  }
  report.workOrders = seen.size;
  return report;
}

function zipUnreadable(file: string, detail: string, hint: string): Problem {
  return problem("E_ZIP_UNREADABLE", `${file}: not a readable zip archive (${detail})`, hint, file);
}

/** The archive's entries as its central directory lists them (and the problem that cut the listing short). */
async function openZip(
  file: string,
): Promise<{ zip: yauzl.ZipFile; entries: yauzl.Entry[]; listError?: Problem } | { problem: Problem }> {
  try {
    const { zip, entries, listError } = await openZipListing(file);
    return {
      zip,
      entries,
      ...(listError ? { listError: zipUnreadable(file, listError.message, "make the archive again") } : {}),
    };
  } catch (err) {
    if (err instanceof ZipRefused) return { problem: err.problem };
    return { problem: zipUnreadable(file, (err as Error).message, "the file is truncated or not a zip; make the archive again") };
  }
}

/**
 * Where an entry sits: its work order (when it is in one) and, for a file directly in it, its name there;
 * or the layout problem it has (duplicate, backslashes, at the root, nested). Undefined: the wrapping
 * folder's own entry.
 */
function placeOf(
  entry: yauzl.Entry,
  top: string | undefined,
  names: Set<string>,
): { id?: string; file?: string; problem?: Problem } | undefined {
  const path = entry.fileName;
  const name = top ? path.slice(top.length + 1) : path;
  if (!name) return undefined;
  if (names.has(path)) {
    return { problem: problem("E_ZIP_DUPLICATE_ENTRY", `${path}: appears twice in the archive`, "make the archive again", path) };
  }
  names.add(path);
  // (yauzl turns a backslash into "/" when it reads the name: look at the bytes as written)
  if ((entry as yauzl.Entry & { fileNameRaw?: Buffer }).fileNameRaw?.includes(0x5c)) {
    return {
      problem: problem(
        "E_ZIP_BACKSLASH",
        `${path.replace(/\//g, "\\")}: the entry name holds backslashes; zip paths are separated by "/"`,
        "make the archive again with a zip tool that writes / (Windows' built-in one does), or with wopack pack",
        path,
      ),
    };
  }
  const folder = name.endsWith("/");
  const parts = name.replace(/\/$/, "").split("/");
  const id = parts[0]!;
  if (!folder && parts.length === 1) {
    return {
      problem: problem(
        "E_ZIP_ROOT_FILE",
        `${path}: a file at the root of the archive; only work-order folders may be there`,
        "move it into its work order's folder",
        path,
      ),
    };
  }
  if (parts.length > 2 || (folder && parts.length > 1)) return { id, problem: nested(path) };
  return folder ? { id } : { id, file: parts[1]! };
}

function nested(path: string): Problem {
  return problem(
    "E_ZIP_NESTED",
    `${path}: sub-folders are not allowed inside a work-order folder`,
    "put the images directly in <work order>/, named <task group>-<N>.jpg",
    path,
  );
}

/** One file in a work order: metadata.json, parameters.json, or an image named by §5. */
async function checkEntry(
  reading: ArchiveReading,
  entry: yauzl.Entry,
  file: string,
  wo: WorkOrderSeen,
  config: Config,
  report: ValidationReport,
): Promise<void> {
  if (file === "metadata.json" || file === "parameters.json") return checkJsonEntry(reading, entry, file, wo, report);
  const image = parseEntryName(file);
  if (!image) {
    report.problems.push(
      problem(
        "E_ENTRY_NAME",
        `${entry.fileName}: not an accepted name; a work order holds <task group>[-N].jpg|png, metadata.json and parameters.json only`,
        "rename it, or leave it out of the archive",
        entry.fileName,
      ),
    );
    return;
  }
  wo.images++;
  return checkImageEntry(reading, entry, image, wo, config, report);
}

async function checkJsonEntry(
  reading: ArchiveReading,
  entry: yauzl.Entry,
  file: string,
  wo: WorkOrderSeen,
  report: ValidationReport,
): Promise<void> {
  const path = entry.fileName;
  const isMetadata = file === "metadata.json";
  // judged by its declared size before anything is read
  if (entry.uncompressedSize > MAX_JSON_ENTRY) {
    report.problems.push(entryTooBig(entry, "json", MAX_JSON_ENTRY));
    if (isMetadata) wo.metadata = null;
    return;
  }
  const read = await readIntact(reading, entry, true, report);
  if (!read) return;
  // the same reading as pack's: UTF-8 (a BOM is fine), not absurdly deep
  const parsed = parseJsonText(read.data ?? Buffer.alloc(0));
  const value = "value" in parsed ? parsed.value : undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    report.problems.push(notJsonObject(path, file, parsed));
    if (isMetadata) wo.metadata = null;
  } else if (isMetadata) wo.metadata = value;
}

async function checkImageEntry(
  reading: ArchiveReading,
  entry: yauzl.Entry,
  image: { taskGroup: string; n?: number; ext: string },
  wo: WorkOrderSeen,
  config: Config,
  report: ValidationReport,
): Promise<void> {
  const path = entry.fileName;
  const limit = config.images.maxImageSize;
  // judged by its declared size before anything is read; one over the limit is refused either way, so
  // it is read only as far as the limit (its head for the checks below), never decoded
  const declared = entry.uncompressedSize;
  const over = declared > limit;
  if (over) report.problems.push(entryTooBig(entry, "image", limit, "; read no further than that, so its CRC-32 not checked"));
  const read = await readIntact(reading, entry, declared <= MAX_WHOLE_ENTRY && !over, report, over ? limit : undefined);
  if (!read) return;
  checkImageName(path, image, wo, config, report);
  const type = sniffImageType(read.head.subarray(0, SNIFF_BYTES));
  if (type !== "jpeg" && type !== "png") {
    report.problems.push(
      problem(
        "E_IMAGE_TYPE",
        `${path}: its content is ${type ? `a ${type.toUpperCase()} image` : "not an image"}; only JPEG and PNG are accepted`,
        "convert it to JPEG (wopack pack does that)",
        path,
      ),
    );
    return;
  }
  if (type !== (image.ext.toLowerCase() === "png" ? "png" : "jpeg")) {
    report.problems.push(
      problem(
        "E_EXTENSION_MISMATCH",
        `${path}: named .${image.ext} but its content is ${type.toUpperCase()}`,
        `rename it to .${type === "png" ? "png" : "jpg"}`,
        path,
      ),
    );
  }
  if (!read.data) return;
  const broken = await checkPackableImage(path, type, read.data, config.images.maxPixels);
  if (broken) return void report.problems.push(broken);
  if (config.images.verify !== "pixels") return;
  const pixels = await checkPixels(path, read.data);
  if ("problem" in pixels) report.problems.push(pixels.problem);
  else report.warnings.push(...pixels.warnings);
}

/** §5: the task group is valid (and configured), and no other image of the work order has its -N. */
function checkImageName(
  path: string,
  image: { taskGroup: string; n?: number },
  wo: WorkOrderSeen,
  config: Config,
  report: ValidationReport,
): void {
  const group = image.taskGroup;
  if (!isTaskGroupName(group)) report.problems.push(badTaskGroupName(path, group));
  else if (config.taskGroups && !config.taskGroups.includes(group)) {
    report.problems.push(unknownTaskGroup(path, group, config.taskGroups));
  }
  if (image.n === undefined) return;
  const holder = wo.numbers.get(image.n);
  if (holder) report.problems.push(duplicateOrder(path, image.n, holder));
  else wo.numbers.set(image.n, path);
}

/**
 * Reads an entry and checks its CRC-32: undefined (with the problem reported) when it cannot be trusted, or
 * is not read at all: it overlaps another (already reported), or the archive's budget is spent.
 */
async function readIntact(
  reading: ArchiveReading,
  entry: yauzl.Entry,
  whole: boolean,
  report: ValidationReport,
  stopAfter?: number,
): Promise<EntryRead | undefined> {
  const checked = await reading.bounded.read(entry, whole, stopAfter);
  if ("read" in checked) return checked.read;
  const { code } = checked.problem;
  // (an overlap is told with the listing; the archive's inflating too much once, where reading stopped)
  if (code === "E_ZIP_OVERLAP" || (code === "E_ZIP_BOMB" && reading.bombTold)) return undefined;
  if (code === "E_ZIP_BOMB") reading.bombTold = true;
  report.problems.push(checked.problem);
  return undefined;
}

function checkMetadata(id: string, metadata: unknown, config: Config, report: ValidationReport): void {
  const fields = Object.entries(config.metadata.fields);
  const path = `${id}/metadata.json`;
  if (metadata === null) return; // already reported as not an object
  if (metadata === undefined) {
    const required = fields.filter(([, f]) => f.required).map(([n]) => n);
    if (required.length) {
      report.problems.push(
        problem(
          "E_METADATA_MISSING",
          `${path}: missing, and the config requires ${required.join(", ")}`,
          "add metadata.json to the work order",
          path,
        ),
      );
    }
    return;
  }
  const values = metadata as Record<string, unknown>;
  for (const [name, field] of fields) {
    const value = own(values, name);
    if (value === undefined || value === null) {
      if (field.required) {
        report.problems.push(
          problem("E_METADATA_REQUIRED", `${path}: required field "${name}" is missing`, `set "${name}"`, path),
        );
      }
      continue;
    }
    const jsonType = field.type === "text" ? "string" : field.type;
    if (typeof value !== jsonType) {
      const fix = coerceValue(value, field.type);
      report.problems.push(
        problem(
          "E_METADATA_TYPE",
          `${path}: field "${name}" is ${JSON.stringify(value)}, not a ${field.type}`,
          fix === undefined ? `write a ${field.type}` : `write it as ${JSON.stringify(fix)}`,
          path,
        ),
      );
    }
  }
  if (!fields.length) return;
  for (const key of Object.keys(values)) {
    if (!Object.hasOwn(config.metadata.fields, key)) {
      report.warnings.push(
        problem("W_METADATA_UNKNOWN_FIELD", `${path}: "${key}" is not a configured metadata field`, "check the field name", path),
      );
    }
  }
}
