#!/usr/bin/env node
// The least a Node client does under issue 21's rules (items 1-2), for the bench's upload row to stand beside:
// one batch, then the archive in confirmed chunks (each PUT only once the one before was answered), and every
// byte hashed (SHA-256) on a second thread at the same time as the sending, as perfectly overlapped as Node
// allows (that thread reads the file itself: no hand-over, no wait). No journal, no resume, no retries, no
// deadlines, no CRC, no check of any answer but its status: what any Node program pays at least.
//   node bench/uploadFloor.mjs BASE KEY FILE [CHUNK_MIB=16]
import { fstatSync, openSync, readSync } from "node:fs";
import http from "node:http";
import { Worker } from "node:worker_threads";

const [base, key, file, mib = "16"] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true });
const request = (url, method, headers, body) =>
  new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      const parts = [];
      res.on("data", (d) => parts.push(d));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString() }));
    });
    req.on("error", reject);
    req.end(body);
  });

const created = await request(
  `${base}/batches/`,
  "POST",
  { authorization: `Token ${key}`, "content-type": "application/json" },
  '{"filename":"floor"}',
);
const { upload_url: session } = JSON.parse(created.body);
const fd = openSync(file, "r");
const total = fstatSync(fd).size;
const buffer = Buffer.allocUnsafe(Number(mib) * 1024 * 1024);
const hashed = new Promise((resolve, reject) => {
  const hasher = `const { createHash } = require("node:crypto"); const fs = require("node:fs");
    const { file, size } = require("node:worker_threads").workerData;
    const fd = fs.openSync(file, "r"), b = Buffer.allocUnsafe(size), h = createHash("sha256");
    for (let n; (n = fs.readSync(fd, b, 0, size, null)) > 0; ) h.update(b.subarray(0, n));
    require("node:worker_threads").parentPort.postMessage(h.digest("hex"));`;
  const worker = new Worker(hasher, { eval: true, workerData: { file, size: buffer.length } });
  worker.once("message", resolve).once("error", reject);
});
for (let from = 0; from < total; ) {
  const n = readSync(fd, buffer, 0, Math.min(buffer.length, total - from), from);
  const data = buffer.subarray(0, n);
  const headers = { "content-type": "application/octet-stream", "content-range": `bytes ${from}-${from + n - 1}/${total}` };
  const { status } = await request(session, "PUT", headers, data);
  if (![200, 201, 308].includes(status)) throw new Error(`the session answered ${status} at ${from}`);
  from += n;
}
await hashed;
agent.destroy();
process.exit(0);
