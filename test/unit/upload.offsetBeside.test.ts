// Issue 21 item 8: the offset record (for `wopack status`, at most once a second) is written while the next
// chunk travels, not before it is sent: its fsync held the line idle (30-150 ms a record on a loaded machine).
// The rules stay: the records keep their order (the offset before "final" and "uploaded"), every byte sent is
// hashed, and a chunk goes only once the chunk before is confirmed.
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { readUploads } from "../../src/commit/uploads.js";
import { CHUNK_UNIT, httpApi } from "../../src/upload/protocol.js";
import { uploadArchive } from "../../src/upload/uploadArchive.js";
import { tempDir } from "../helpers.js";
import { UploadServer } from "../upload-server.js";

/** The offsets of the chunks whose PUT began, in order. */
const putsBegun: number[] = [];
/** Offset records whose write ended before the chunk at their offset was sent (waited up to 10 s for it). */
const late: number[] = [];
/**
 * Where the run's last chunk begins: an offset recorded just before it is awaited by the "final" record, which
 * is written (and the archive re-hashed) before the last chunk goes, so that one offset is not held for it.
 */
let lastChunkAt = -1;

vi.mock("../../src/commit/uploads.js", async (original) => {
  const real = await original<typeof import("../../src/commit/uploads.js")>();
  const appendUploads: typeof real.appendUploads = async (out, records, journal, signal) => {
    for (const r of records) {
      if (r.type !== "offset" || r.confirmed === lastChunkAt) continue;
      const deadline = Date.now() + 10_000;
      while (!putsBegun.includes(r.confirmed) && Date.now() < deadline) await new Promise((ok) => setImmediate(ok));
      if (!putsBegun.includes(r.confirmed)) late.push(r.confirmed);
    }
    return real.appendUploads(out, records, journal, signal);
  };
  return { ...real, appendUploads };
});

const KEY = "wk_beside";

describe("the offset record beside the next chunk", () => {
  let server: UploadServer;
  beforeAll(async () => {
    server = await new UploadServer(KEY).start();
    // (the first offset is recorded once a second has passed since the process's time origin)
    const deadline = Date.now() + 5_000;
    while (performance.now() < 1_100 && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 20));
  });
  afterAll(() => server.stop());

  it("the next chunk is sent while the offset is recorded, and the journal keeps its order (generated)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 6 }), fc.nat(CHUNK_UNIT - 1), async (units, tail) => {
        const out = await tempDir();
        const bytes = Buffer.alloc(units * CHUNK_UNIT + tail, units);
        const name = `beside-${units}-${tail}.zip`;
        const file = path.join(out, name);
        await writeFile(file, bytes);
        const sha256 = createHash("sha256").update(bytes).digest("hex");
        const api = httpApi(server.base, KEY);
        const putChunk: typeof api.putChunk = (url, data, from, total) => {
          putsBegun.push(from);
          return api.putChunk(url, data, from, total);
        };
        putsBegun.length = 0;
        late.length = 0;
        lastChunkAt = Math.floor((bytes.length - 1) / CHUNK_UNIT) * CHUNK_UNIT;
        const settings = {
          ...{ out, api: { ...api, putChunk }, key: KEY, clock: () => new Date(), chunkBytes: CHUNK_UNIT },
          log: { info: () => undefined, debug: () => undefined, warn: () => undefined },
        };
        const r = await uploadArchive({ name, path: file, sha256, bytes: bytes.length }, await readUploads(out), settings);
        expect(r.result).toBe("uploaded");
        expect(late, "offset records that held the next chunk").toEqual([]);
        expect(server.violations).toEqual([]);
        expect(server.received(r.batchId!).sha256).toBe(sha256);
        const types = (await readFile(path.join(out, ".wopack", "uploads.jsonl"), "utf8"))
          .trim()
          .split("\n")
          .map((l) => (JSON.parse(l) as { type: string }).type);
        expect(types).toContain("offset");
        expect(types.slice(types.indexOf("offset"))).toEqual(["offset", "final", "uploaded"]);
        expect(putsBegun).toEqual(Array.from({ length: Math.ceil(bytes.length / CHUNK_UNIT) }, (_, i) => i * CHUNK_UNIT));
      }),
      // ([2, 0]: the offset before the last chunk, which the final record waits for)
      { numRuns: 8, examples: [[2, 0]] },
    );
  });
});
