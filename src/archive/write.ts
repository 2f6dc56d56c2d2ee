import { rm } from "node:fs/promises";
import { crc32 } from "../core/crc32.js";
import { nativeStatMany, type StatMany } from "../core/native.js";
import { SourceChecks } from "./sourceChecks.js";
import { type SettledListener, ZipWriter } from "./zip.js";

export interface ZipEntrySource {
  /** path inside the archive, e.g. "WO_1/meter_reading-0.jpg" */
  name: string;
  /** file to stream the bytes from, or the bytes themselves */
  file?: string;
  /** (with `file`: a photo's image as it was read for its checks, without what followed its end; written
   * instead of copying the file, which must still be unchanged since (`unchangedSince`), then dropped and
   * `recycle` called; `size` is the file's until then, as for a copy) */
  data?: Buffer | undefined;
  /** `data`'s buffer may be read into again: called once its bytes are in the file, or the entry dropped */
  recycle?: () => void;
  /** images are stored, JSON is deflated (§8) */
  store: boolean;
  /**
   * CRC-32 of the bytes, when already known (computed when they were checked); for a file copied as is it
   * is computed while copying and filled in here. The archive is verified against it.
   */
  crc32?: number;
  size: number;
  /** for a file: its size and mtime when it was checked; a file that changed since fails the archive */
  unchangedSince?: { size: number; mtimeMs: number };
  /**
   * For a JPEG copied as is: where its first scan starts. The writer ends the entry at the image's real
   * end when data other than zero padding follows it, and sets `trimmed` (and `size`, `crc32`).
   */
  jpegScanFrom?: number;
  /** bytes the writer left out after the image's end */
  trimmed?: number;
}

/**
 * Writes the entries, in the order given, into a new file (never an existing one), then flushes it to
 * disk (fsync). On any failure the partial file is removed before the error is passed on.
 */
export async function writeZip(
  file: string,
  entries: Iterable<ZipEntrySource> | AsyncIterable<ZipEntrySource>,
  signal?: AbortSignal,
  onSettled?: SettledListener,
  statMany: StatMany | undefined = nativeStatMany(),
): Promise<number> {
  const zip = await ZipWriter.create(file, signal, onSettled);
  const checks = new SourceChecks(statMany);
  try {
    for await (const entry of entries) {
      if (entry.data) {
        const recycle = entry.file ? entry.recycle : undefined;
        await zip.addBuffer(entry.name, entry.data, entry.crc32 ?? crc32(entry.data), entry.store, recycle);
        if (entry.file) {
          // (the image without what followed its end in the file, as a copy would have cut it)
          if (entry.data.length < entry.size) {
            entry.trimmed = (entry.trimmed ?? 0) + entry.size - entry.data.length;
            entry.size = entry.data.length;
          }
          if (entry.unchangedSince) await checks.add({ name: entry.name, file: entry.file, since: entry.unchangedSince });
          // (written: if the archive is written again without another work order, the file is copied)
          entry.data = undefined;
        }
      } else if (entry.store) {
        const added = await zip.addFile(
          entry.name,
          entry.file!,
          entry.size,
          entry.crc32,
          entry.unchangedSince,
          entry.jpegScanFrom,
        );
        entry.crc32 = added.crc32;
        if (added.size < entry.size) {
          entry.trimmed = (entry.trimmed ?? 0) + entry.size - added.size;
          entry.size = added.size;
        }
      } else throw new Error(`${entry.name}: a file source must be stored`);
    }
    await checks.done();
    return await zip.finish();
  } catch (err) {
    await zip.abort();
    await rm(file, { force: true });
    throw err;
  }
}
