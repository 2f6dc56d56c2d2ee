import { crc32 } from "node:zlib";
import yauzl from "yauzl";
import type { Config } from "../config/schema.js";
import { checkPackableImage } from "../convert/normalize.js";
import { SNIFF_BYTES, sniffImageType } from "../convert/sniff.js";
import { type Problem, problem } from "../core/errors.js";
import { own } from "../core/own.js";
import { parseJsonText } from "../core/text.js";
import { parseEntryName } from "../spec/images.js";
import { isTaskGroupName, isWorkOrderId } from "../spec/names.js";
import { badTaskGroupName, badWorkOrderId, duplicateOrder, noPhotos, notJsonObject, unknownTaskGroup } from "../spec/problems.js";
import { coerceValue } from "../spec/values.js";

export interface ValidationReport {
  target: string;
  kind: "archive" | "staging";
  /** work orders found */
  workOrders: number;
  problems: Problem[];
  warnings: Problem[];
}

interface WorkOrderSeen {
  images: number;
  numbers: Map<number, string>;
  metadata?: unknown;
}

/**
 * Checks any zip against §2 and the config: layout, names, content by magic bytes, image integrity,
 * order numbers, metadata.json, and the CRC of every entry. Every problem is listed with its path.
 */
export async function validateArchive(file: string, config: Config): Promise<ValidationReport> {
  const report: ValidationReport = { target: file, kind: "archive", workOrders: 0, problems: [], warnings: [] };
  let zip: yauzl.ZipFile;
  try {
    zip = await new Promise((resolve, reject) =>
      yauzl.open(file, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false, autoClose: false }, (err, z) =>
        err ? reject(err) : resolve(z),
      ),
    );
  } catch (err) {
    report.problems.push(
      problem(
        "E_ZIP_UNREADABLE",
        `${file}: not a readable zip archive (${(err as Error).message})`,
        "the file is truncated or not a zip; make the archive again",
        file,
      ),
    );
    return report;
  }
  const entries: yauzl.Entry[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on("error", reject);
    zip.on("end", resolve);
    zip.on("entry", (e: yauzl.Entry) => {
      entries.push(e);
      zip.readEntry();
    });
    zip.readEntry();
  }).catch((err) =>
    report.problems.push(problem("E_ZIP_UNREADABLE", `${file}: ${(err as Error).message}`, "make the archive again", file)),
  );

  const files = entries.filter((e) => !e.fileName.endsWith("/"));
  const top = topFolder(files.map((e) => e.fileName));
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
  const seen = new Map<string, WorkOrderSeen>();
  const names = new Set<string>();
  for (const entry of entries) {
    const name = top ? entry.fileName.slice(top.length + 1) : entry.fileName;
    if (!name) continue;
    if (names.has(entry.fileName)) {
      report.problems.push(
        problem(
          "E_ZIP_DUPLICATE_ENTRY",
          `${entry.fileName}: appears twice in the archive`,
          "make the archive again",
          entry.fileName,
        ),
      );
      continue;
    }
    names.add(entry.fileName);
    // (yauzl turns a backslash into "/" when it reads the name: look at the bytes as written)
    if ((entry as yauzl.Entry & { fileNameRaw?: Buffer }).fileNameRaw?.includes(0x5c)) {
      report.problems.push(
        problem(
          "E_ZIP_BACKSLASH",
          `${entry.fileName.replace(/\//g, "\\")}: the entry name holds backslashes; zip paths are separated by "/"`,
          "make the archive again with a zip tool that writes / (Windows' built-in one does), or with wopack pack",
          entry.fileName,
        ),
      );
      continue;
    }
    const parts = name.replace(/\/$/, "").split("/");
    const id = parts[0]!;
    if (parts.length >= 2 || name.endsWith("/")) {
      if (!seen.has(id)) {
        seen.set(id, { images: 0, numbers: new Map() });
        if (!isWorkOrderId(id)) report.problems.push(badWorkOrderId(id, `${id}/`));
      }
    }
    if (name.endsWith("/")) {
      if (parts.length > 1) report.problems.push(nested(entry.fileName));
      continue;
    }
    if (parts.length === 1) {
      report.problems.push(
        problem(
          "E_ZIP_ROOT_FILE",
          `${entry.fileName}: a file at the root of the archive; only work-order folders may be there`,
          "move it into its work order's folder",
          entry.fileName,
        ),
      );
      continue;
    }
    if (parts.length > 2) {
      report.problems.push(nested(entry.fileName));
      continue;
    }
    await checkEntry(zip, entry, parts[1]!, seen.get(id)!, config, report);
  }
  zip.close();

  for (const [id, wo] of seen) {
    if (wo.images === 0) report.problems.push(noPhotos(id, `${id}/`));
    checkMetadata(id, wo.metadata, config, report);
  }
  report.workOrders = seen.size;
  return report;
}

function nested(path: string): Problem {
  return problem(
    "E_ZIP_NESTED",
    `${path}: sub-folders are not allowed inside a work-order folder`,
    "put the images directly in <work order>/, named <task group>-<N>.jpg",
    path,
  );
}

/** The single folder every entry sits in, when the whole archive is wrapped in one (a common zipping mistake). */
function topFolder(names: string[]): string | undefined {
  const firsts = new Set(names.map((n) => n.split("/")[0]));
  if (firsts.size !== 1 || !names.every((n) => n.split("/").length >= 3)) return undefined;
  return [...firsts][0];
}

/** The entries that are read whole, to be decoded or parsed; larger ones are streamed through their CRC. */
const MAX_WHOLE_ENTRY = 64 * 1024 * 1024;
const MAX_JSON_ENTRY = 1_000_000;
const ENDS = 64 * 1024;

interface EntryRead {
  crc: number;
  /** the first and last bytes (magic bytes, end markers) */
  head: Buffer;
  tail: Buffer;
  /** the whole entry, when it was asked for */
  data?: Buffer;
}

/**
 * Streams one entry (yauzl checks that it inflates to its declared size, so a zip bomb stops there) and
 * computes its CRC on the way; memory stays bounded by what is kept: the head, the tail, and the whole
 * entry only when `whole` is asked for an entry no larger than MAX_WHOLE_ENTRY.
 */
async function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, whole: boolean): Promise<EntryRead> {
  const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
    zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s))),
  );
  let crc = 0;
  const chunks: Buffer[] = [];
  let held = 0;
  let head = Buffer.alloc(0);
  for await (const c of stream) {
    const chunk = c as Buffer;
    crc = crc32(chunk, crc);
    if (head.length < ENDS) head = Buffer.concat([head, chunk.subarray(0, ENDS - head.length)]);
    chunks.push(chunk);
    held += chunk.length;
    // streaming: hold just enough chunks for the tail
    while (!whole && held - chunks[0]!.length >= ENDS) held -= chunks.shift()!.length;
  }
  const rest = Buffer.concat(chunks);
  return { crc: crc >>> 0, head, tail: rest.subarray(-ENDS), ...(whole ? { data: rest } : {}) };
}

async function checkEntry(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  file: string,
  wo: WorkOrderSeen,
  config: Config,
  report: ValidationReport,
) {
  const path = entry.fileName;
  const isJson = file === "metadata.json" || file === "parameters.json";
  const image = parseEntryName(file);
  if (!isJson && !image) {
    report.problems.push(
      problem(
        "E_ENTRY_NAME",
        `${path}: not an accepted name; a work order holds <task group>[-N].jpg|png, metadata.json and parameters.json only`,
        "rename it, or leave it out of the archive",
        path,
      ),
    );
    return;
  }
  if (image) wo.images++;
  // sizes as declared, judged before anything is read
  const declared = entry.uncompressedSize;
  if (isJson && declared > MAX_JSON_ENTRY) {
    report.problems.push(
      problem(
        "E_JSON_TOO_BIG",
        `${path}: ${declared} bytes; a ${file} this large is not metadata`,
        `keep ${file} under ${MAX_JSON_ENTRY} bytes`,
        path,
      ),
    );
    if (file === "metadata.json") wo.metadata = null;
    return;
  }
  if (image && declared > config.images.maxImageSize) {
    report.problems.push(
      problem(
        "E_IMAGE_TOO_BIG",
        `${path}: ${declared} bytes, above the ${config.images.maxImageSize}-byte limit for one image`,
        "re-encode it smaller (wopack pack does that)",
        path,
      ),
    );
  }
  let read: EntryRead;
  try {
    read = await readEntry(zip, entry, declared <= MAX_WHOLE_ENTRY && (isJson || declared <= config.images.maxImageSize));
  } catch (err) {
    report.problems.push(
      problem("E_ZIP_ENTRY_UNREADABLE", `${path}: cannot be read (${(err as Error).message})`, "make the archive again", path),
    );
    return;
  }
  if (read.crc !== entry.crc32) {
    report.problems.push(
      problem(
        "E_ZIP_CRC",
        `${path}: its data does not match its CRC-32; the archive is damaged`,
        "make or transfer the archive again",
        path,
      ),
    );
    return;
  }
  const data = read.data;
  if (isJson) {
    // the same reading as pack's: UTF-8 (a BOM is fine), not absurdly deep
    const parsed = parseJsonText(data ?? Buffer.alloc(0));
    const value = "value" in parsed ? parsed.value : undefined;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      report.problems.push(notJsonObject(path, file, parsed));
      if (file === "metadata.json") wo.metadata = null;
    } else if (file === "metadata.json") wo.metadata = value;
    return;
  }
  const m = image!;
  const group = m.taskGroup;
  if (!isTaskGroupName(group)) report.problems.push(badTaskGroupName(path, group));
  else if (config.taskGroups && !config.taskGroups.includes(group)) {
    report.problems.push(unknownTaskGroup(path, group, config.taskGroups));
  }
  if (m.n !== undefined) {
    const holder = wo.numbers.get(m.n);
    if (holder) report.problems.push(duplicateOrder(path, m.n, holder));
    else wo.numbers.set(m.n, path);
  }
  const type = sniffImageType(read.head.subarray(0, SNIFF_BYTES));
  const ext = m.ext.toLowerCase() === "png" ? "png" : "jpeg";
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
  if (type !== ext) {
    report.problems.push(
      problem(
        "E_EXTENSION_MISMATCH",
        `${path}: named .${m.ext} but its content is ${type.toUpperCase()}`,
        `rename it to .${type === "png" ? "png" : "jpg"}`,
        path,
      ),
    );
  }
  // (an image over the size limit was reported above and is not decoded: it is refused either way)
  if (!data) return;
  const broken = await checkPackableImage(path, type, data, config.images.maxPixels);
  if (broken) report.problems.push(broken);
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
