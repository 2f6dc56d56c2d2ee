import { closeSync, openSync, readSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { ReadBackCheck, type ReadBackMessage, type ReadBackReply } from "./readBack.js";

const CHUNK = 4 * 1024 * 1024;
const { file } = workerData as { file: string };
const check = new ReadBackCheck();
const buffer = Buffer.allocUnsafe(CHUNK);
let fd: number | undefined;
let failed = false;

const reply = (m: ReadBackReply) => parentPort!.postMessage(m);

parentPort!.on("message", ({ upTo, ranges, end }: ReadBackMessage) => {
  if (failed) return;
  try {
    for (const r of ranges) check.expect(r);
    fd ??= openSync(file, "r");
    while (check.bytes < upTo) {
      const n = readSync(fd, buffer, 0, Math.min(CHUNK, upTo - check.bytes), check.bytes);
      if (n === 0) throw new Error(`${file}: ends at ${check.bytes} bytes, before ${upTo}`);
      check.update(buffer.subarray(0, n));
    }
    if (end) {
      if (readSync(fd, buffer, 0, 1, upTo) !== 0) throw new Error(`${file}: longer than the ${upTo} bytes written`);
      reply({ ok: true, readBack: check.digest(file) });
    }
  } catch (err) {
    failed = true;
    reply({ ok: false, message: (err as Error).message });
  }
  if ((end || failed) && fd !== undefined) closeSync(fd);
});
