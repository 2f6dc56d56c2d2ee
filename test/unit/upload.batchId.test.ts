// The batch id in the platform's answer to creating a batch, in each shape a server may send it: text,
// or a whole number (a REST framework's database key), which was refused as "no batch_id" after the
// platform had made the batch (an empty batch left on it at every try). Anything else is still refused.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateDir } from "../../src/commit/paths.js";
import { readUploads } from "../../src/commit/uploads.js";
import { httpApi } from "../../src/upload/protocol.js";
import { uploadArchive } from "../../src/upload/uploadArchive.js";
import { tempDir } from "../helpers.js";
import { UploadServer } from "../upload-server.js";

let server: Server;
let base = "";
let answer: unknown;
const asked: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    asked.push(`${req.method} ${req.url}`);
    req.resume();
    req.on("end", () => {
      const body = req.method === "POST" ? { batch_id: answer, upload_url: `${base}/upload/s1` } : { status: "processing" };
      res.writeHead(req.method === "POST" ? 201 : 200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v0.2`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const CASES: [unknown, string | undefined][] = [
  ["6f1c2e0a-5d3b-4a5e-9d1c-0e2f3a4b5c6d", "6f1c2e0a-5d3b-4a5e-9d1c-0e2f3a4b5c6d"],
  [12345, "12345"],
  [0, "0"],
  [Number.MAX_SAFE_INTEGER, String(Number.MAX_SAFE_INTEGER)],
  [-1, undefined],
  [1.5, undefined],
  [1e300, undefined],
  [null, undefined],
  [true, undefined],
  [{ id: 1 }, undefined],
  ["", undefined],
  ["a b", undefined],
  ["x".repeat(201), undefined],
];

describe("the batch id of a new batch", () => {
  it.each(CASES)("%j -> %j", async (id, want) => {
    answer = id;
    const api = httpApi(base, "k", { timeoutMs: 5_000 });
    const made = await api.createBatch("batch-1");
    if (want === undefined) {
      expect(made.ok).toBe(false);
      return;
    }
    expect(made).toEqual({ ok: true, value: { batchId: want, uploadUrl: `${base}/upload/s1` } });
    // and it is asked about by that id
    asked.length = 0;
    expect((await api.batchStatus(want)).ok).toBe(true);
    expect(asked).toEqual([`GET /v0.2/batches/${want}/`]);
  });
});

describe("a batch made, but answered without a session to send to", () => {
  let platform: UploadServer;
  beforeAll(async () => {
    platform = await new UploadServer("k").start();
  });
  afterAll(() => platform.stop());

  // (each try of a running watch, for hours, left one more empty batch on the platform)
  it.each([null, "", "ftp://files.example/upload/1", "/upload/relative", 42, { url: "https://x" }])(
    "upload_url %j: the archive fails and the batch is deleted, at every try",
    async (uploadUrl) => {
      const out = await tempDir();
      await mkdir(stateDir(out), { recursive: true });
      const bytes = randomBytes(1000);
      const file = path.join(out, "batch-1.zip");
      await writeFile(file, bytes);
      const archive = { name: "batch-1.zip", path: file, sha256: createHash("sha256").update(bytes).digest("hex"), bytes: 1000 };
      platform.faults = { uploadUrl };
      const warned: string[] = [];
      const settings = {
        out,
        api: httpApi(platform.base, "k"),
        key: "k",
        log: { info: () => undefined, debug: () => undefined, warn: (m: string) => warned.push(m) },
        clock: () => new Date(),
      };
      const before = platform.batches.size;
      for (let attempt = 0; attempt < 2; attempt++) {
        const r = await uploadArchive(archive, await readUploads(out), settings);
        expect(r.result).toBe("failed");
        expect(r.problem?.message).toMatch(/no batch_id or upload_url/);
      }
      const made = [...platform.batches.values()].slice(before);
      expect(made).toHaveLength(2);
      expect(made.every((b) => b.deleted)).toBe(true);
      expect(warned.join("\n")).toMatch(/came without an upload session: deleted on the platform/);
      expect(platform.violations).toEqual([]);
    },
  );
});
