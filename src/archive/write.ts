import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { open } from "node:fs/promises";
import { ZipArchive } from "archiver";

export interface ZipEntrySource {
  /** path inside the archive, e.g. "WO_1/meter_reading-0.jpg" */
  name: string;
  /** file to stream the bytes from, or the bytes themselves */
  file?: string;
  data?: Buffer;
  /** images are stored, JSON is deflated (§8) */
  store: boolean;
  /** expected CRC-32 of the bytes, checked when the archive is verified */
  crc32: number;
  size: number;
}

/** Every entry gets this date, so that the same input always gives the same bytes. */
const ENTRY_DATE = new Date(Date.UTC(1980, 0, 1, 0, 0, 0));

/**
 * Streams the entries, one at a time and in the order given, into a new file (never an existing one),
 * then flushes it to disk (fsync) before resolving.
 */
export async function writeZip(
  file: string,
  entries: Iterable<ZipEntrySource> | AsyncIterable<ZipEntrySource>,
  signal?: AbortSignal,
): Promise<number> {
  const output = createWriteStream(file, { flags: "wx" });
  const archive = new ZipArchive({ zlib: { level: 9 } });
  let failure: Error | undefined;
  const failed = new Promise<never>((_, reject) => {
    const fail = (err: Error) => {
      failure ??= err;
      reject(err);
    };
    archive.on("error", fail);
    archive.on("warning", fail);
    output.on("error", fail);
    signal?.addEventListener("abort", () => fail(signal.reason as Error), { once: true });
  });
  failed.catch(() => {
    archive.abort();
    output.destroy();
  });
  // events.once() also rejects on "error"; that error is reported through `failed`, so silence these.
  const closed = once(output, "close");
  closed.catch(() => undefined);
  archive.pipe(output);
  for await (const entry of entries) {
    if (failure) throw failure;
    const source = entry.data ?? createReadStream(entry.file!);
    const added = once(archive, "entry");
    added.catch(() => undefined);
    archive.append(source, { name: entry.name, date: ENTRY_DATE, store: entry.store, mode: 0o644 });
    await Promise.race([added, failed]);
  }
  await Promise.race([archive.finalize(), failed]);
  await Promise.race([closed, failed]);
  // fsync through a new descriptor: on Linux it flushes the file's data whichever descriptor wrote it.
  const fh = await open(file, "r+");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  return archive.pointer();
}
