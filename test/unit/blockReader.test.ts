// The commit protocol's verification reads the archive with yauzl through a reader of its own (small
// blocks kept, no queue). Whatever the archive holds, intact or damaged, yauzl must see through it exactly
// what it sees through its own file reader: the same entries, local headers and data, or an error both ways.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { crc32 } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import yauzl from "yauzl";
import { openForVerify } from "../../src/archive/blockReader.js";
import { writeZip, type ZipEntrySource } from "../../src/archive/write.js";
import { tempDir } from "../helpers.js";

/** Everything yauzl reads of an archive, in order, or where it failed. */
async function readAll(zip: yauzl.ZipFile): Promise<unknown[]> {
  const seen: unknown[] = [];
  try {
    for (;;) {
      const entry = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
        const done = (e?: yauzl.Entry) => {
          zip.off("entry", done).off("end", done).off("error", reject);
          resolve(e);
        };
        zip.once("entry", done).once("end", done).once("error", reject);
        zip.readEntry();
      });
      if (!entry) break;
      const { fileName, crc32, compressedSize, uncompressedSize, relativeOffsetOfLocalHeader } = entry;
      seen.push({ fileName, crc32, compressedSize, uncompressedSize, relativeOffsetOfLocalHeader });
      const local = await zip.readLocalFileHeaderPromise(entry);
      seen.push({ ...local, fileName: local.fileName.toString("hex"), extraField: local.extraField.toString("hex") });
      const chunks: Buffer[] = [];
      for await (const c of await zip.openReadStreamPromise(entry)) chunks.push(c as Buffer);
      seen.push(Buffer.concat(chunks).toString("hex"));
    }
  } catch (err) {
    seen.push(`error: ${(err as Error).message}`);
  } finally {
    zip.close();
  }
  return seen;
}

const options = { lazyEntries: true, validateEntrySizes: true, autoClose: false } as const;

const opened = (open: () => Promise<yauzl.ZipFile>) => open().then(readAll, (err: Error) => [`error opening: ${err.message}`]);

describe("the verification's reader", () => {
  it("shows yauzl what its own file reader shows, for intact and damaged archives", async () => {
    const dir = await tempDir();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            size: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 10_000, max: 70_000 })),
            json: fc.boolean(),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        fc.oneof(
          fc.constant({ kind: "intact" as const }),
          fc.record({
            kind: fc.constant("flip" as const),
            at: fc.double({ min: 0, max: 1, noNaN: true }),
            xor: fc.integer({ min: 1, max: 255 }),
          }),
          fc.record({ kind: fc.constant("cut" as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
        ),
        async (shapes, damage) => {
          const entries: ZipEntrySource[] = shapes.map(({ size, json }, i) => {
            const data = Buffer.alloc(size, i % 251);
            const name = `WO_${i}/${json ? "metadata.json" : `photo-${i}.jpg`}`;
            return { name, data, store: !json, crc32: crc32(data), size };
          });
          const file = path.join(dir, `a${n++}.zip`);
          await writeZip(file, entries);
          let bytes = await readFile(file);
          if (damage.kind === "flip") {
            const at = Math.min(bytes.length - 1, Math.floor(damage.at * bytes.length));
            bytes[at]! ^= damage.xor;
          } else if (damage.kind === "cut") bytes = bytes.subarray(0, Math.floor(damage.at * bytes.length));
          await writeFile(file, bytes);
          const own = await opened(() => yauzl.openPromise(file, options));
          const ours = await opened(() => openForVerify(file, options));
          expect(ours).toEqual(own);
        },
      ),
      { numRuns: 150, seed: 25 },
    );
  }, 120_000);
});
