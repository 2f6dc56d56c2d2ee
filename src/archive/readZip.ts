// Reading any zip (ours or not) through yauzl, an independent reader: `validate` and `review` list and
// stream entries with it, within the same limits (SPEC §13): entries streamed, declared and real sizes
// checked, memory bounded by what is kept.

import yauzl from "yauzl";
import { crc32 } from "../core/crc32.js";
import { type Problem, problem } from "../core/errors.js";
import { MAX_ARCHIVE_ENTRIES, tooManyEntries } from "../spec/entryCount.js";
import { overlappingEntries } from "./overlaps.js";

export interface ZipListing {
  zip: yauzl.ZipFile;
  /** the entries as the central directory lists them, up to the first one that could not be read */
  entries: yauzl.Entry[];
  /** why the listing stopped short, when it did */
  listError?: Error;
}

/** A zip refused before any entry is listed, with the problem to report. */
export class ZipRefused extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message);
  }
}

/**
 * Opens a zip and lists its entries (the caller closes it); throws when it is not a readable zip at all, or
 * (ZipRefused) when its end record counts more entries than an archive may hold: none is listed then.
 */
export async function openZipListing(file: string): Promise<ZipListing> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false, autoClose: false }, (err, z) =>
      err ? reject(err) : resolve(z),
    ),
  );
  // (yauzl lists no more than the count says, so the count bounds the listing whatever the directory holds)
  if (zip.entryCount > MAX_ARCHIVE_ENTRIES) {
    zip.close();
    throw new ZipRefused(tooManyEntries(file, zip.entryCount));
  }
  const entries: yauzl.Entry[] = [];
  const listError = await new Promise<void>((resolve, reject) => {
    zip.on("error", reject);
    zip.on("end", resolve);
    zip.on("entry", (e: yauzl.Entry) => {
      entries.push(e);
      zip.readEntry();
    });
    zip.readEntry();
  }).then(
    () => undefined,
    (err: Error) => err,
  );
  return { zip, entries, ...(listError ? { listError } : {}) };
}

/** One entry's bytes, inflated (yauzl checks that they come to the declared size). */
export function entryStream(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) => zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s))));
}

/** The most of one entry ever held whole (to be decoded or parsed); a larger one is only streamed through. */
export const MAX_WHOLE_ENTRY = 64 * 1024 * 1024;
/** A metadata.json or parameters.json larger than this is not metadata: judged by its declared size. */
export const MAX_JSON_ENTRY = 1_000_000;
const ENDS = 64 * 1024;

/**
 * The bytes one archive's entries may inflate to in all: known bomb guards' rule (Apache POI's ZipSecureFile:
 * past a grace, at most 100 times the compressed size) over the whole zip. Photos barely compress, so a real
 * archive inflates to about its own size.
 */
export class InflateBudget {
  static readonly RATIO = 100;
  static readonly GRACE = MAX_WHOLE_ENTRY;
  spent = 0;
  readonly limit: number;
  constructor(readonly zipBytes: number) {
    this.limit = Math.max(InflateBudget.GRACE, InflateBudget.RATIO * zipBytes);
  }
  get exhausted(): boolean {
    return this.spent > this.limit;
  }
}

export interface EntryRead {
  crc: number;
  /** the first and last bytes (magic bytes, end markers) */
  head: Buffer;
  tail: Buffer;
  /** the whole entry, when it was asked for */
  data?: Buffer;
  /** why the read stopped before the end (so its CRC is unchecked): past `stopAfter`, or the archive's budget spent */
  cut?: "stopAfter" | "budget";
}

export interface ReadLimits {
  budget?: InflateBudget;
  /** stop once more than this came out */
  stopAfter?: number;
}

/**
 * Streams one entry (yauzl checks that it inflates to exactly its declared size, so a zip bomb or a size
 * that lies stops there) and computes its CRC on the way; memory stays bounded by what is kept: the head,
 * the tail, and the whole entry only when `whole` is asked for one declared no larger than
 * MAX_WHOLE_ENTRY (a larger one is streamed, never held). It stops early (`cut`) once more than
 * `stopAfter` bytes came out or the archive's budget is spent.
 */
export async function readEntry(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  whole: boolean,
  { budget = new InflateBudget(Number.POSITIVE_INFINITY), stopAfter = Number.POSITIVE_INFINITY }: ReadLimits = {},
): Promise<EntryRead> {
  const keep = whole && entry.uncompressedSize <= MAX_WHOLE_ENTRY;
  let cut: EntryRead["cut"];
  let total = 0;
  const stream = await entryStream(zip, entry);
  let crc = 0;
  const chunks: Buffer[] = [];
  let held = 0;
  let head = Buffer.alloc(0);
  for await (const c of stream) {
    const chunk = c as Buffer;
    budget.spent += chunk.length;
    crc = crc32(chunk, crc);
    if (head.length < ENDS) head = Buffer.concat([head, chunk.subarray(0, ENDS - head.length)]);
    chunks.push(chunk);
    held += chunk.length;
    // streaming: hold just enough chunks for the tail
    while (!keep && held - chunks[0]!.length >= ENDS) held -= chunks.shift()!.length;
    total += chunk.length;
    cut = budget.exhausted ? "budget" : total > stopAfter ? "stopAfter" : undefined;
    if (cut) break; // (destroys the stream: nothing more is inflated)
  }
  const rest = Buffer.concat(chunks);
  return { crc: crc >>> 0, head, tail: rest.subarray(-ENDS), ...(keep && !cut ? { data: rest } : {}), ...(cut ? { cut } : {}) };
}

/** Reads an entry and checks its CRC-32 (when read to its end): the problem instead when it cannot be trusted. */
export async function readIntact(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  whole: boolean,
  limits: ReadLimits = {},
): Promise<{ read: EntryRead } | { problem: Problem }> {
  const path = entry.fileName;
  let read: EntryRead;
  try {
    read = await readEntry(zip, entry, whole, limits);
  } catch (err) {
    const why = `${path}: cannot be read (${(err as Error).message})`;
    return { problem: problem("E_ZIP_ENTRY_UNREADABLE", why, "make the archive again", path) };
  }
  if (read.cut || read.crc === entry.crc32) return { read };
  const why = `${path}: its data does not match its CRC-32; the archive is damaged`;
  return { problem: problem("E_ZIP_CRC", why, "make or transfer the archive again", path) };
}

/** An entry whose declared size is past a limit: refused before a byte of it is read (`note`: or how far it was). */
export function entryTooBig(entry: yauzl.Entry, kind: "json" | "image", limit: number, note = ""): Problem {
  const path = entry.fileName;
  const declared = entry.uncompressedSize;
  const file = path.slice(path.lastIndexOf("/") + 1);
  return kind === "json"
    ? problem(
        "E_JSON_TOO_BIG",
        `${path}: ${declared} bytes; a ${file} this large is not metadata`,
        `keep ${file} under ${limit} bytes`,
        path,
      )
    : problem(
        "E_IMAGE_TOO_BIG",
        `${path}: ${declared} bytes, above the ${limit}-byte limit for one image${note}`,
        "re-encode it smaller (wopack pack does that)",
        path,
      );
}

/** Two entries that share bytes of the archive (./overlaps.ts): neither is read. */
export function entriesOverlap(entry: yauzl.Entry, other: yauzl.Entry): Problem {
  const path = entry.fileName;
  return problem(
    "E_ZIP_OVERLAP",
    `${path}: its data overlaps that of ${other.fileName} in the archive (an "overlapping files" zip bomb); neither is read`,
    "no zip tool writes this: do not unpack the archive; make it again from the photos",
    path,
  );
}

/** The archive's entries inflate past its InflateBudget: the entry where reading stopped, and none after it. */
export function inflatesTooMuch(file: string, entry: yauzl.Entry, budget: InflateBudget): Problem {
  return problem(
    "E_ZIP_BOMB",
    `${file}: its entries inflate to more than ${budget.limit} bytes, over ${InflateBudget.RATIO} times its ${budget.zipBytes}; ` +
      `photos barely compress, so reading stopped in ${entry.fileName} and no entry after it was read`,
    "this is a zip bomb or not an archive of photos: make the archive again from the photos",
    entry.fileName,
  );
}

/**
 * Someone else's archive, read within validate's bounds: an entry that overlaps another (./overlaps.ts) is never
 * read, and all of them inflate no more than its InflateBudget, so the work is the zip's, not what its headers
 * claim. validate and review read through it.
 */
export class BoundedZip {
  readonly overlaps: Map<yauzl.Entry, yauzl.Entry>;
  constructor(
    readonly file: string,
    readonly zip: yauzl.ZipFile,
    entries: readonly yauzl.Entry[],
    readonly budget = new InflateBudget(zip.fileSize),
  ) {
    this.overlaps = overlappingEntries(entries);
  }

  /** The entry read (whole, or up to `stopAfter`) and its CRC-32 checked; or why it is not read or not trusted. */
  async read(entry: yauzl.Entry, whole: boolean, stopAfter?: number): Promise<{ read: EntryRead } | { problem: Problem }> {
    const other = this.overlaps.get(entry);
    if (other) return { problem: entriesOverlap(entry, other) };
    if (this.budget.exhausted) return { problem: inflatesTooMuch(this.file, entry, this.budget) };
    const limits = { budget: this.budget, ...(stopAfter === undefined ? {} : { stopAfter }) };
    const checked = await readIntact(this.zip, entry, whole, limits);
    return "read" in checked && checked.read.cut === "budget"
      ? { problem: inflatesTooMuch(this.file, entry, this.budget) }
      : checked;
  }
}

/** The single folder every entry sits in, when the whole archive is wrapped in one (a common zipping mistake). */
export function wrappingFolder(names: readonly string[]): string | undefined {
  const firsts = new Set(names.map((n) => n.split("/")[0]));
  if (firsts.size !== 1 || !names.every((n) => n.split("/").length >= 3)) return undefined;
  return [...firsts][0];
}
