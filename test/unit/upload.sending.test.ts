// How the sender moves bytes: the running SHA-256 (native binding or node:crypto) against node:crypto,
// and chunk PUTs over one kept-alive connection.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpApi } from "../../src/upload/protocol.js";
import { runningSha256 } from "../../src/upload/sha256.js";
import { UNIT, UploadServer } from "../upload-server.js";

const nativeBuilt = existsSync(new URL("../../native/build/Release/wopack_sha.node", import.meta.url));

describe("the running SHA-256", () => {
  for (const choice of ["native", "node"] as const) {
    it.skipIf(choice === "native" && !nativeBuilt)(
      `${choice}: any bytes, split anywhere, copied anywhere, give node:crypto's digest (generated)`,
      async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.uint8Array({ minLength: 0, maxLength: 3000 }),
            fc.array(fc.nat(3000), { maxLength: 6 }),
            fc.nat(6),
            async (bytes, cuts, copyAt) => {
              const points = [...new Set([0, ...cuts.map((c) => c % (bytes.length + 1)), bytes.length])].sort((a, b) => a - b);
              let h = runningSha256(choice);
              const forks: [number, ReturnType<typeof runningSha256>][] = [];
              for (let i = 0; i + 1 < points.length; i++) {
                if (i === copyAt) forks.push([points[i]!, h.copy()]);
                h = await h.update(bytes.subarray(points[i], points[i + 1]));
              }
              expect(h.hex()).toBe(createHash("sha256").update(bytes).digest("hex"));
              expect(h.hex()).toBe(h.hex()); // reading the digest does not end the hash
              // a copy goes on by itself: the rest added to it gives the same digest, the original untouched
              for (const [at, fork] of forks) {
                await fork.update(bytes.subarray(at));
                expect(fork.hex()).toBe(h.hex());
              }
            },
          ),
          { numRuns: 300 },
        );
      },
    );
  }

  it.skipIf(!nativeBuilt)("native: a 48 MiB buffer in one update, and around the 64-byte block edges", async () => {
    const big = Buffer.alloc(48 << 20);
    for (let i = 0; i < big.length; i += 4093) big[i] = i & 255;
    const h = await runningSha256("native").update(big);
    expect(h.hex()).toBe(createHash("sha256").update(big).digest("hex"));
    for (let n = 50; n < 140; n++) {
      const part = big.subarray(7, 7 + n);
      expect((await runningSha256("native").update(part)).hex(), `${n} bytes`).toBe(
        createHash("sha256").update(part).digest("hex"),
      );
    }
  });
});

describe("chunk PUTs", () => {
  let server: UploadServer;
  beforeAll(async () => {
    server = await new UploadServer("k").start();
  });
  afterAll(() => server.stop());

  it("go over one kept-alive connection, answers read, whatever the chunk sizes (generated)", async () => {
    const api = httpApi(server.base, "k");
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 2, maxLength: 5 }), async (units) => {
        const batch = await api.createBatch(`keepalive-${units.join("-")}`);
        if (!batch.ok) throw new Error(batch.detail);
        const total = units.reduce((a, b) => a + b, 0) * UNIT;
        const from = server.log.length;
        let at = 0;
        for (const u of units) {
          const put = await api.putChunk(batch.value.uploadUrl, Buffer.alloc(u * UNIT, u), at, total);
          at += u * UNIT;
          expect(put).toEqual(
            at === total ? { ok: true, value: { complete: true } } : { ok: true, value: { complete: false, confirmed: at } },
          );
        }
        const ports = new Set(server.log.slice(from).map((l) => l.port));
        expect(ports.size).toBe(1);
      }),
      { numRuns: 10 },
    );
    expect(server.violations).toEqual([]);
  });
});
