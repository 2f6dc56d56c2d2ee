// Reading any zip (ours or not) through yauzl, an independent reader: `validate` and `review` list and
// stream entries with it, within the same limits (SPEC §13): entries streamed, declared and real sizes
// checked, memory bounded by what is kept.

import yauzl from "yauzl";
import { crc32 } from "../core/crc32.js";
import { type Problem, problem } from "../core/errors.js";

export interface ZipListing {
  zip: yauzl.ZipFile;
  /** the entries as the central directory lists them, up to the first one that could not be read */
  entries: yauzl.Entry[];
  /** why the listing stopped short, when it did */
  listError?: Error;
}

/** Opens a zip and lists its entries (the caller closes it); throws when it is not a readable zip at all. */
export async function openZipListing(file: string): Promise<ZipListing> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false, autoClose: false }, (err, z) =>
      err ? reject(err) : resolve(z),
    ),
  );
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

export interface EntryRead {
  crc: number;
  /** the first and last bytes (magic bytes, end markers) */
  head: Buffer;
  tail: Buffer;
  /** the whole entry, when it was asked for */
  data?: Buffer;
}

/**
 * Streams one entry (yauzl checks that it inflates to exactly its declared size, so a zip bomb or a size
 * that lies stops there) and computes its CRC on the way; memory stays bounded by what is kept: the head,
 * the tail, and the whole entry only when `whole` is asked for one declared no larger than
 * MAX_WHOLE_ENTRY (a larger one is streamed, never held).
 */
export async function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, whole: boolean): Promise<EntryRead> {
  const keep = whole && entry.uncompressedSize <= MAX_WHOLE_ENTRY;
  const stream = await entryStream(zip, entry);
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
    while (!keep && held - chunks[0]!.length >= ENDS) held -= chunks.shift()!.length;
  }
  const rest = Buffer.concat(chunks);
  return { crc: crc >>> 0, head, tail: rest.subarray(-ENDS), ...(keep ? { data: rest } : {}) };
}

/** Reads an entry and checks its CRC-32: the problem instead when it cannot be trusted. */
export async function readIntact(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  whole: boolean,
): Promise<{ read: EntryRead } | { problem: Problem }> {
  const path = entry.fileName;
  let read: EntryRead;
  try {
    read = await readEntry(zip, entry, whole);
  } catch (err) {
    const why = `${path}: cannot be read (${(err as Error).message})`;
    return { problem: problem("E_ZIP_ENTRY_UNREADABLE", why, "make the archive again", path) };
  }
  if (read.crc === entry.crc32) return { read };
  const why = `${path}: its data does not match its CRC-32; the archive is damaged`;
  return { problem: problem("E_ZIP_CRC", why, "make or transfer the archive again", path) };
}

/** An entry whose declared size is past a limit: refused before a byte of it is read. */
export function entryTooBig(entry: yauzl.Entry, kind: "json" | "image", limit: number): Problem {
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
        `${path}: ${declared} bytes, above the ${limit}-byte limit for one image`,
        "re-encode it smaller (wopack pack does that)",
        path,
      );
}

/** The single folder every entry sits in, when the whole archive is wrapped in one (a common zipping mistake). */
export function wrappingFolder(names: readonly string[]): string | undefined {
  const firsts = new Set(names.map((n) => n.split("/")[0]));
  if (firsts.size !== 1 || !names.every((n) => n.split("/").length >= 3)) return undefined;
  return [...firsts][0];
}
