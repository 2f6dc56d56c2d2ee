// The batch id in the platform's answer to creating a batch, in each shape a server may send it: text,
// or a whole number (a REST framework's database key), which was refused as "no batch_id" after the
// platform had made the batch (an empty batch left on it at every try). Anything else is still refused.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpApi } from "../../src/upload/protocol.js";

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
