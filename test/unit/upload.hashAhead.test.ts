// Issue 21 item 8: a confirmation never waits for a hash. Each chunk is hashed (on from the hash of the
// chunk before) while the chunk before it is on its way, so the next chunk goes out as soon as the session
// confirms, and the last chunk's SHA-256 check is ready by then. The rules stay: every byte sent hashed, the
// SHA-256 matched before the last chunk, nothing sent before the chunk before is confirmed.
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { readUploads } from "../../src/commit/uploads.js";
import { CHUNK_UNIT, httpApi } from "../../src/upload/protocol.js";
import type { RunningHash } from "../../src/upload/sha256.js";
import { uploadArchive } from "../../src/upload/uploadArchive.js";
import { tempDir } from "../helpers.js";
import { UploadServer } from "../upload-server.js";

/** The offsets of the chunks whose hashing began, in order (each unit of the archive is filled with its index). */
const hashesBegun: number[] = [];

vi.mock("../../src/upload/sha256.js", async (original) => {
  const real = await original<typeof import("../../src/upload/sha256.js")>();
  const watched = (h: RunningHash): RunningHash => ({
    copy: () => watched(h.copy()),
    update: async (data) => {
      if (data.length) hashesBegun.push(data[0]! * CHUNK_UNIT);
      await h.update(data);
      return watched(h);
    },
    hex: () => h.hex(),
    crc32c: () => h.crc32c(),
  });
  return { ...real, runningSha256: (choice?: "native" | "node") => watched(real.runningSha256(choice)) };
});

const KEY = "wk_ahead";

describe("hashing ahead of the confirmation", () => {
  let server: UploadServer;
  beforeAll(async () => {
    server = await new UploadServer(KEY).start();
  });
  afterAll(() => server.stop());

  it("each chunk's hash begins before the chunk before it is confirmed, and the archive is uploaded whole (generated)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 9 }),
        fc.integer({ min: 1, max: 3 }),
        fc.nat(CHUNK_UNIT - 1),
        async (units, per, tail) => {
          const out = await tempDir();
          const bytes = Buffer.alloc(units * CHUNK_UNIT + tail);
          for (let u = 0; u * CHUNK_UNIT < bytes.length; u++)
            bytes.fill(u, u * CHUNK_UNIT, Math.min(bytes.length, (u + 1) * CHUNK_UNIT));
          const name = `ahead-${units}-${per}-${tail}.zip`;
          const file = path.join(out, name);
          await writeFile(file, bytes);
          const sha256 = createHash("sha256").update(bytes).digest("hex");
          const api = httpApi(server.base, KEY);
          const chunk = per * CHUNK_UNIT;
          const late: number[] = [];
          // the session answers a chunk once the next one's hash has begun (or after 10 s: then it is late; on the code before it never began, however long the wait)
          const putChunk: typeof api.putChunk = async (url, data, from, total) => {
            const r = await api.putChunk(url, data, from, total);
            const next = from + data.length;
            if (next < total) {
              const deadline = Date.now() + 10_000;
              while (!hashesBegun.includes(next) && Date.now() < deadline) await new Promise((ok) => setImmediate(ok));
              if (!hashesBegun.includes(next)) late.push(next);
            }
            return r;
          };
          hashesBegun.length = 0;
          const settings = {
            ...{ out, api: { ...api, putChunk }, key: KEY, clock: () => new Date(), chunkBytes: chunk },
            log: { info: () => undefined, debug: () => undefined, warn: () => undefined },
          };
          const r = await uploadArchive({ name, path: file, sha256, bytes: bytes.length }, await readUploads(out), settings);
          expect(r.result).toBe("uploaded");
          expect(late, "chunks whose hash began only after the chunk before was confirmed").toEqual([]);
          const batch = server.batches.get(r.batchId!)!;
          expect(server.received(batch.id).sha256).toBe(sha256);
          // every byte sent hashed, each chunk once
          const starts = Array.from({ length: Math.ceil(bytes.length / chunk) }, (_, i) => i * chunk);
          expect(hashesBegun).toEqual(starts);
        },
      ),
      { numRuns: 12 },
    );
  });
});
