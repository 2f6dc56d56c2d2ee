// The earlier picture of a re-used photo (SPEC §15), for the review page: its thumbnail from the earlier
// archive while that is still in the outbox (or where its upload moved it, or a sibling shard's outbox),
// else in words why not. Bounded: one small decode per earlier picture, at most MAX_EARLIER_DECODES a page.
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { MAX_WHOLE_ENTRY, openZipListing, readIntact } from "../archive/readZip.js";
import { readLedger } from "../commit/ledger.js";
import { readUploads } from "../commit/uploads.js";
import { checkPackableImage } from "../convert/integrity.js";
import { thumbnailOf } from "../convert/pixels.js";
import { sniffImageType } from "../convert/sniff.js";
import { type Earlier, type EarlierPicture, type EarlierSource, earlierEntry } from "./findings.js";

/**
 * the earlier pictures a page shows at most: each a read of one entry and one small decode (or, for one
 * in the same archive, its thumbnail again), 4-15 KB of page
 */
export const MAX_EARLIER_DECODES = 24;
const NOT_SHOWN = `Not shown: a page shows at most ${MAX_EARLIER_DECODES} earlier photos.`;

/** An archive's name as the index keeps it: a file name, never a path. */
const ARCHIVE_NAME = /^[^/\\]+\.zip$/i;

export interface EarlierOptions {
  /** the outbox of the archive reviewed: the earlier archives are looked for there and beside it */
  out: string;
  /** the archive reviewed: an earlier picture in it comes from `sameArchive` */
  archive: string;
  sameArchive: (entry: string, workOrder: string) => Promise<Buffer | undefined>;
  maxImageSize: number;
  maxPixels: number;
}

export function earlierSource(o: EarlierOptions): EarlierSource {
  let decodes = 0;
  const seen = new Map<string, Promise<EarlierPicture>>();
  let gone: Promise<(archive: string) => string> | undefined;
  const look = async (e: Earlier): Promise<EarlierPicture> => {
    const entry = earlierEntry(e);
    if (e.archive === o.archive) {
      // (its card is on this page too: the thumbnail again still counts towards the page's size)
      if (decodes >= MAX_EARLIER_DECODES) return { missing: NOT_SHOWN };
      decodes++;
      const jpeg = await o.sameArchive(entry, e.workOrder);
      return jpeg ? { jpeg } : { missing: `${entry} has no thumbnail in this archive.` };
    }
    if (!e.archive) return { missing: "The earlier photo is not in a committed archive (a dry run)." };
    if (!ARCHIVE_NAME.test(e.archive))
      return { missing: `${e.archive} is not an archive's name: the earlier photo is not looked for.` };
    const where = await locate(o.out, e.archive);
    if (!where.file) {
      gone ??= whyGone(o.out);
      return { missing: (await gone)(e.archive) + where.unreadable };
    }
    if (decodes >= MAX_EARLIER_DECODES) return { missing: NOT_SHOWN, page: where.page };
    decodes++;
    const thumb = await thumbFromZip(where.file, entry, o);
    return typeof thumb === "string" ? { missing: thumb, page: where.page } : { jpeg: thumb, page: where.page };
  };
  return (e) => {
    const key = `${e.archive}\0${earlierEntry(e)}`;
    let found = seen.get(key);
    if (!found) {
      // (the page is written whatever happens to an earlier picture)
      found = look(e).catch((err: Error) => ({ missing: `The earlier photo could not be read (${err.message}).` }));
      seen.set(key, found);
    }
    return found;
  };
}

/**
 * Where an archive is: in the outbox (with its review page, linked relative to this one), where its upload
 * moved it, or in a sibling outbox (another shard's). `unreadable`: the folders that could not be looked in.
 */
async function locate(out: string, archive: string): Promise<{ file?: string; page?: string; unreadable: string }> {
  const own = path.join(out, archive);
  if (await isFile(own)) {
    const page = archive.replace(/\.zip$/i, ".html");
    return { file: own, ...((await isFile(path.join(out, page))) ? { page: encodeURIComponent(page) } : {}), unreadable: "" };
  }
  const movedTo = (await readUploads(out).catch(() => undefined))?.archives.get(archive)?.movedTo;
  if (movedTo && (await isFile(path.join(movedTo, archive)))) return { file: path.join(movedTo, archive), unreadable: "" };
  const parent = path.dirname(out);
  const unreadable: string[] = [];
  const siblings = await readdir(parent, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    unreadable.push(`${parent} (${err.code ?? err.message})`);
    return [];
  });
  for (const d of siblings) {
    const dir = path.join(parent, d.name);
    if (!d.isDirectory() || dir === out) continue;
    const file = path.join(dir, archive);
    const s = await stat(file).catch((err: NodeJS.ErrnoException) => err);
    if (s instanceof Error) {
      if (s.code !== "ENOENT" && s.code !== "ENOTDIR") unreadable.push(`${dir} (${s.code ?? s.message})`);
    } else if (s.isFile()) return { file, unreadable: "" };
  }
  return { unreadable: unreadable.length ? ` These outboxes could not be read: ${unreadable.join(", ")}.` : "" };
}

/** Why an archive is not found, in words naming it (the outbox's ledger and upload journal tell). */
async function whyGone(out: string): Promise<(archive: string) => string> {
  const ledger = await readLedger(out).catch(() => undefined);
  const uploads = await readUploads(out).catch(() => undefined);
  return (archive) => {
    const up = uploads?.archives.get(archive);
    if (up?.movedTo) return `${archive} was uploaded and moved to ${up.movedTo}, and is no longer there.`;
    if (up?.uploaded) return `${archive} was uploaded (batch ${up.uploaded.batchId}) and is no longer in ${out}.`;
    if (ledger?.archives.has(archive)) return `${archive} is no longer in ${out} (pruned or removed).`;
    return `${archive} is not in ${out} nor in an outbox beside it (pruned, moved, or another machine's).`;
  };
}

/** One entry's thumbnail, read from a zip within the review's limits; else why not, in words. */
async function thumbFromZip(
  file: string,
  entry: string,
  limits: { maxImageSize: number; maxPixels: number },
): Promise<Buffer | string> {
  const archive = path.basename(file);
  const listing = await openZipListing(file).catch((err: Error) => err);
  if (listing instanceof Error) return `${archive} cannot be read (${listing.message}).`;
  const { zip, entries } = listing;
  try {
    const e = entries.find((x) => x.fileName === entry);
    if (!e) return `${archive} has no entry ${entry}.`;
    const limit = Math.min(limits.maxImageSize, MAX_WHOLE_ENTRY);
    if (e.uncompressedSize > limit) return `${entry} in ${archive} is larger than ${limit} bytes: not read.`;
    const checked = await readIntact(zip, e, true);
    if ("problem" in checked) return checked.problem.message;
    const data = checked.read.data ?? Buffer.alloc(0);
    const type = sniffImageType(data);
    if (type !== "jpeg" && type !== "png") return `${entry} in ${archive} is not a JPEG or PNG.`;
    const refused = await checkPackableImage(entry, type, data, limits.maxPixels);
    if (refused) return refused.message;
    return await thumbnailOf(data).then(
      (t) => t.jpeg,
      (err: Error) => `${entry} in ${archive} does not decode (${err.message}).`,
    );
  } finally {
    zip.close();
  }
}

async function isFile(file: string): Promise<boolean> {
  return stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}
