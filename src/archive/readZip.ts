// Reading any zip (ours or not) through yauzl, an independent reader: `validate` and `review` list and
// stream entries with it.
import yauzl from "yauzl";

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

/** One entry's bytes, whole: for the small ones (a metadata.json, a photo to make a thumbnail of). */
export async function readEntryBytes(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await entryStream(zip, entry)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The single folder every entry sits in, when the whole archive is wrapped in one (a common zipping mistake). */
export function wrappingFolder(names: readonly string[]): string | undefined {
  const firsts = new Set(names.map((n) => n.split("/")[0]));
  if (firsts.size !== 1 || !names.every((n) => n.split("/").length >= 3)) return undefined;
  return [...firsts][0];
}
