// Leftover 3 of issue 21: the upload session's last answer may carry the stored object's MD5 and CRC32C
// (the cloud storage's object resource). When it does, they must be the archive's: bytes the platform
// stored wrong make the archive "needs attention" (journaled, not sent again, status says so), never
// "uploaded"; no digest, or a malformed one, leaves the upload as it was. Against the strict stand-in server.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateDir } from "../../src/commit/paths.js";
import { readUploads } from "../../src/commit/uploads.js";
import { compareObject, crc32c } from "../../src/upload/objectCheck.js";
import { CHUNK_UNIT, httpApi, objectDigests } from "../../src/upload/protocol.js";
import { uploadArchive } from "../../src/upload/uploadArchive.js";
import { tempDir } from "../helpers.js";
import { referenceCrc32c, UploadServer } from "../upload-server.js";

const KEY = "wk_digests";

describe("CRC-32C", () => {
  it("the published check values (RFC 3720 B.4, and '123456789')", () => {
    const table: [Uint8Array, number][] = [
      [Buffer.from("123456789"), 0xe3069283],
      [new Uint8Array(32), 0x8a9136aa],
      [new Uint8Array(32).fill(0xff), 0x62a8ab43],
      [Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
      [Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
      [new Uint8Array(0), 0],
    ];
    for (const [data, want] of table) expect(crc32c(data).toString(16)).toBe(want.toString(16));
  });

  it("is the test server's own CRC, whatever the bytes and however they are split (generated)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (data, cut) => {
        const at = data.length ? cut % (data.length + 1) : 0;
        const whole = crc32c(data);
        expect(whole).toBe(referenceCrc32c(data));
        expect(referenceCrc32c(data.subarray(at), referenceCrc32c(data.subarray(0, at)))).toBe(whole);
        expect(crc32c(data.subarray(at), crc32c(data.subarray(0, at)))).toBe(whole);
      }),
      { numRuns: 300 },
    );
  });

  it("an object resource's digests are read only when they are well-formed base64 of the right length", () => {
    const md5 = createHash("md5").update("x").digest();
    const table: [Record<string, unknown> | undefined, object | undefined][] = [
      [
        { md5Hash: md5.toString("base64"), crc32c: "4waSgw==" },
        { md5: md5.toString("hex"), crc32c: "e3069283" },
      ],
      [{ crc32c: "4waSgw==" }, { crc32c: "e3069283" }],
      [{ md5Hash: md5.toString("base64") }, { md5: md5.toString("hex") }],
      [{ md5Hash: "not base64!", crc32c: "AAAAAAAA" }, undefined],
      [{ md5Hash: 7, crc32c: null }, undefined],
      [{ name: "batch" }, undefined],
      [undefined, undefined],
    ];
    for (const [answer, want] of table) expect(objectDigests(answer), JSON.stringify(answer)).toEqual(want);
  });
});

describe("the stored object's digests at the end of an upload", () => {
  let server: UploadServer;
  let work: string;
  beforeAll(async () => {
    server = await new UploadServer(KEY).start();
    work = await tempDir();
  });
  afterAll(() => server.stop());

  it("a digest that differs is 'needs attention', never 'uploaded'; a matching, absent or malformed one uploads (generated)", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 * CHUNK_UNIT + 5000 }),
        fc.constantFrom(undefined, "both" as const, "md5" as const, "crc32c" as const, "malformed" as const),
        fc.option(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { nil: undefined }),
        async (size, how, wrongAt) => {
          const out = path.join(work, `run-${run++}`);
          await mkdir(stateDir(out), { recursive: true });
          const bytes = randomBytes(size);
          const name = `batch-${run}.zip`;
          const file = path.join(out, name);
          await writeFile(file, bytes);
          const archive = { name, path: file, sha256: createHash("sha256").update(bytes).digest("hex"), bytes: size };
          server.faults = { objectDigests: how, corruptAt: wrongAt === undefined ? undefined : Math.floor(wrongAt * size) };
          const warned: string[] = [];
          const settings = {
            out,
            api: httpApi(server.base, KEY),
            key: KEY,
            log: { info: () => undefined, debug: () => undefined, warn: (m: string) => warned.push(m) },
            clock: () => new Date(),
            chunkBytes: CHUNK_UNIT,
          };
          const r = await uploadArchive(archive, await readUploads(out), settings);
          const checked = how !== undefined && how !== "malformed";
          const what = `${size} bytes, digests ${how}, wrong byte at ${wrongAt === undefined ? "none" : Math.floor(wrongAt * size)}`;
          const state = (await readUploads(out)).archives.get(name);
          if (checked && wrongAt !== undefined) {
            expect(r.result, what).toBe("attention");
            expect(r.problem?.code, what).toBe("E_UPLOAD_ATTENTION");
            expect(r.problem?.message, what).toMatch(
              /the platform stored an object whose (crc32c|md5) is [0-9a-f]+, but the archive's is [0-9a-f]+/,
            );
            expect(state?.uploaded, what).toBeUndefined();
            expect(state?.attention?.batchId, what).toBe(r.batchId ?? state?.attention?.batchId);
            expect(warned.join("\n"), what).toContain("E_UPLOAD_ATTENTION");
            // not sent again while it needs attention
            const before = server.batches.size;
            const again = await uploadArchive(archive, await readUploads(out), settings);
            expect(again.result, what).toBe("attention");
            expect(server.batches.size, what).toBe(before);
          } else {
            expect(r.result, what).toBe("uploaded");
            expect(state?.uploaded, what).toBeDefined();
            expect(state?.attention, what).toBeUndefined();
          }
        },
      ),
      { numRuns: 60 },
    );
    expect(server.violations).toEqual([]);
  }, 120_000);

  it.each([
    // the CRC32C of every byte was kept while sending (native binding): the archive is not read again
    { digests: "crc32c" as const, result: "uploaded" },
    { digests: "both" as const, result: "uploaded" },
    // MD5 alone is checked by reading the archive again, which is gone: needs attention, never a crash
    { digests: "md5" as const, result: "attention" },
  ])("an archive gone by the time the session completes, the platform naming $digests: $result", async ({ digests, result }) => {
    const out = path.join(work, `gone-${digests}`);
    await mkdir(stateDir(out), { recursive: true });
    const bytes = randomBytes(3 * CHUNK_UNIT + 10);
    const file = path.join(out, "gone.zip");
    await writeFile(file, bytes);
    const archive = {
      name: "gone.zip",
      path: file,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      bytes: bytes.length,
    };
    server.faults = { objectDigests: digests };
    const api = httpApi(server.base, KEY);
    // the archive is deleted the moment the session says complete (an operator's rm, a full disk's cleanup)
    const putChunk: typeof api.putChunk = async (...args) => {
      const r = await api.putChunk(...args);
      if (r.ok && r.value.complete) await rm(file);
      return r;
    };
    const settings = {
      ...{ out, api: { ...api, putChunk }, key: KEY, clock: () => new Date(), chunkBytes: CHUNK_UNIT },
      log: { info: () => undefined, debug: () => undefined, warn: () => undefined },
    };
    const r = await uploadArchive(archive, await readUploads(out), settings);
    expect(r.result).toBe(result);
    const state = (await readUploads(out)).archives.get("gone.zip");
    if (result === "uploaded") expect(state?.uploaded?.batchId).toBe(r.batchId);
    else {
      expect(r.problem?.message).toMatch(/cannot be read again to check the platform's digest of it \(ENOENT\)/);
      expect(state?.uploaded).toBeUndefined();
    }
  });

  it("an archive whose bytes changed since they were sent cannot be checked, and is never taken for a match", async () => {
    const out = await tempDir();
    const file = path.join(out, "a.zip");
    const bytes = randomBytes(1000);
    await writeFile(file, bytes);
    const sha = createHash("sha256").update(bytes).digest("hex");
    const crc = crc32c(bytes).toString(16).padStart(8, "0");
    const md5 = createHash("md5").update(bytes).digest("hex");
    expect(await compareObject(file, sha, { crc32c: crc, md5 })).toBeUndefined();
    expect(await compareObject(file, sha, { md5 })).toBeUndefined();
    await writeFile(file, Buffer.concat([bytes.subarray(0, 999), Buffer.from([bytes[999]! ^ 1])]));
    expect(await compareObject(file, sha, { crc32c: crc })).toMatch(/changed since they were sent/);
  });
});
