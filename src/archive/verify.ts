import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { crc32 } from "node:zlib";
import yauzl from "yauzl";

export interface ExpectedEntry {
  name: string;
  crc32: number;
  size: number;
}

export interface VerifiedArchive {
  sha256: string;
  bytes: number;
}

/**
 * Re-reads a written archive with an independent reader (yauzl): the central directory parses, the
 * entries are exactly the expected ones in order, and every entry's data matches its recorded CRC-32 and
 * the CRC-32 of the bytes we meant to write. Throws with the first mismatch.
 */
export async function verifyZip(file: string, expected: readonly ExpectedEntry[]): Promise<VerifiedArchive> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, validateEntrySizes: true, autoClose: false }, (err, z) =>
      err ? reject(err) : resolve(z),
    ),
  );
  try {
    if (zip.entryCount !== expected.length) {
      throw new Error(`${file}: holds ${zip.entryCount} entries, expected ${expected.length}`);
    }
    let index = 0;
    await new Promise<void>((resolve, reject) => {
      zip.on("error", reject);
      zip.on("end", resolve);
      zip.on("entry", (entry: yauzl.Entry) => {
        const want = expected[index++]!;
        checkEntry(zip, entry, want).then(() => zip.readEntry(), reject);
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

async function checkEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, want: ExpectedEntry): Promise<void> {
  if (entry.fileName !== want.name) throw new Error(`entry "${entry.fileName}" where "${want.name}" was expected`);
  if (entry.crc32 !== want.crc32 || entry.uncompressedSize !== want.size) {
    throw new Error(
      `${want.name}: recorded CRC/size ${entry.crc32}/${entry.uncompressedSize}, expected ${want.crc32}/${want.size} (did the source change while packing?)`,
    );
  }
  const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
    zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s))),
  );
  let crc = 0;
  for await (const chunk of stream) crc = crc32(chunk as Buffer, crc);
  if (crc >>> 0 !== want.crc32) throw new Error(`${want.name}: data CRC ${crc >>> 0} does not match ${want.crc32}`);
}
